import type { RdsEvent } from '@backtrack/core'
import { matchesEventQuery, type RdsEventQuery } from '@backtrack/rds-endpoint'
import { JsonLinesJournal } from './json-lines-journal.js'

/** RDS keeps events for 14 days. */
const RETENTION_MS = 14 * 24 * 3600_000

/** The events of a local cluster's registry, kept in memory and appended to a JSON-lines file so restarts keep them. */
export class ClusterEvents {
  readonly #journal: JsonLinesJournal<RdsEvent>

  constructor(file?: string) {
    const oldest = Date.now() - RETENTION_MS
    this.#journal = new JsonLinesJournal(
      file,
      (raw) => {
        const event = raw as RdsEvent & { Date: string }
        return { ...event, Date: new Date(event.Date) }
      },
      (event) => event.Date.getTime() >= oldest,
    )
  }

  add(event: RdsEvent): void {
    this.#journal.add(event)
  }

  query(query: RdsEventQuery): RdsEvent[] {
    return this.#journal.records.filter((event) => matchesEventQuery(event, query))
  }
}
