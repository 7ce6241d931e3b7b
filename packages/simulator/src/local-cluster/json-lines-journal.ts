import { appendFileSync, readFileSync } from 'node:fs'

/**
 * Records kept in memory and appended to a JSON-lines file, so a restart keeps them. Reading skips lines torn by a
 * crash and records `keep` refuses (older than their retention); a failed append is dropped, since these records (events,
 * metrics) are a convenience and a full disk must not stop the cluster.
 */
export class JsonLinesJournal<T> {
  readonly #file: string | undefined
  readonly records: T[] = []

  constructor(file: string | undefined, revive: (raw: unknown) => T, keep: (record: T) => boolean) {
    this.#file = file
    if (file === undefined) return
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      return
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue
      try {
        const record = revive(JSON.parse(line))
        if (keep(record)) this.records.push(record)
      } catch {
        // a line torn by a crash: skip it
      }
    }
  }

  add(record: T): void {
    this.records.push(record)
    if (this.#file === undefined) return
    try {
      appendFileSync(this.#file, JSON.stringify(record) + '\n')
    } catch {
      // a convenience: a full disk must not fail a backtrack or stop the cluster
    }
  }
}
