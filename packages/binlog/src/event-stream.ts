import type { BinlogEvent, BinlogPosition } from './binlog-event.js'
import type { DecodedEvent, ServerFlavor } from './decode-event.js'

/** A transport failure, as mysql2 reports one (not a CaptureFault): the consumer reads again from its position. */
export function lost(message: string, cause?: unknown): Error {
  const error = new Error(message, { cause }) as Error & { code: string }
  error.code = 'PROTOCOL_CONNECTION_LOST'
  return error
}

/**
 * What both readers share: where they started and are, the server's version, and iteration and disposal (breaking out
 * of a `for await` closes the stream).
 */
export abstract class EventStream implements AsyncIterable<BinlogEvent>, AsyncDisposable {
  readonly start: BinlogPosition
  position: BinlogPosition
  serverVersion: string
  flavor: ServerFlavor
  gtidList: readonly string[] | undefined

  constructor(start: BinlogPosition, serverVersion: string) {
    this.start = { ...start }
    this.position = { ...start }
    this.serverVersion = serverVersion
    this.flavor = /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql'
  }

  /**
   * A decoded event as consumers get it, or undefined when it hands nothing on (a FORMAT_DESCRIPTION), keeping the
   * stream's position, version and GTID list. A GTID list or an event the capture ignores becomes a heartbeat:
   * consumers track positions, and a wait for the server's position needs to see this one move.
   */
  protected handOn(item: DecodedEvent): BinlogEvent | undefined {
    this.position = item.next
    switch (item.type) {
      case 'format-description':
        this.serverVersion = item.serverVersion
        this.flavor = item.flavor
        return undefined
      case 'gtid-list':
        this.gtidList = item.gtids
        return { type: 'heartbeat', timestamp: item.timestamp, next: item.next }
      case 'ignored':
        return { type: 'heartbeat', timestamp: item.timestamp, next: item.next }
      default:
        return item
    }
  }

  abstract next(): Promise<IteratorResult<BinlogEvent>>
  abstract close(): Promise<void>

  [Symbol.asyncIterator](): AsyncIterator<BinlogEvent> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close()
        return { done: true, value: undefined }
      },
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
