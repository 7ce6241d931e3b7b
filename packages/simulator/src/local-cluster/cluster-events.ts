import { appendFileSync, readFileSync } from 'node:fs'
import type { RdsEvent } from '@backtrack/core'
import { matchesEventQuery, type RdsEventQuery } from '@backtrack/rds-endpoint'

/** RDS keeps events for 14 days. */
const RETENTION_MS = 14 * 24 * 3600_000

/** The events of a local cluster's registry, kept in memory and appended to a JSON-lines file so restarts keep them. */
export class ClusterEvents {
  readonly #file: string | undefined
  readonly #events: RdsEvent[] = []

  constructor(file?: string) {
    this.#file = file
    if (file === undefined) return
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      return
    }
    const oldest = Date.now() - RETENTION_MS
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue
      try {
        const raw = JSON.parse(line) as RdsEvent & { Date: string }
        const event = { ...raw, Date: new Date(raw.Date) }
        if (event.Date.getTime() >= oldest) this.#events.push(event)
      } catch {
        // a line torn by a crash: skip it
      }
    }
  }

  add(event: RdsEvent): void {
    this.#events.push(event)
    if (this.#file !== undefined) {
      try {
        appendFileSync(this.#file, JSON.stringify(event) + '\n')
      } catch {
        // events are a convenience: a full disk must not fail a backtrack
      }
    }
  }

  query(query: RdsEventQuery): RdsEvent[] {
    return this.#events.filter((event) => matchesEventQuery(event, query))
  }
}
