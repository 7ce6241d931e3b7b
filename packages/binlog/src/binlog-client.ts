import { BinlogError } from './binlog-error.js'
import { createRequire } from 'node:module'
import path from 'node:path'
import mysql from 'mysql2'
import type { Connection, RowDataPacket } from 'mysql2'
import type { BinlogEvent, BinlogPosition } from './binlog-event.js'
import { BinlogDecoder, type DecodedEvent, type ServerFlavor } from './decode-event.js'
import { FileBinlogStream } from './binlog-files.js'
import { EventStream, lost } from './event-stream.js'
import { existsSync } from 'node:fs'

/** COM_BINLOG_DUMP flag: MariaDB sends ANNOTATE_ROWS events (the SQL text of each row-based statement). */
const BINLOG_SEND_ANNOTATE_ROWS_EVENT = 2
/** MariaDB slave capability "GTID": GTID events arrive as GTID events instead of as `BEGIN` queries. */
const MARIA_SLAVE_CAPABILITY_GTID = 4

export interface BinlogStreamOptions {
  host: string
  port: number
  user: string
  password: string
  /** The replica id this client registers with; must differ from the server's `server_id` and other replicas'. */
  serverId: number
  /** Where to start (the `next` of the last event processed); default: the binlog's current end. */
  from?: BinlogPosition
  /** MariaDB: ask for ANNOTATE_ROWS events (delivered as `annotate`). MySQL sends ROWS_QUERY when it logs them. */
  requestAnnotateRows?: boolean
  /** The server sends a heartbeat after this many idle seconds (0/undefined: none). */
  heartbeatSeconds?: number
  /** Decoded events buffered before the socket is paused until the consumer catches up (default 64). */
  highWaterMark?: number
  /**
   * Check binlog_format=ROW, binlog_row_image=FULL and binlog_row_metadata=FULL at open (default true). The decoder
   * throws on partial images and missing column names anyway; this fails earlier with the settings to change.
   */
  checkSettings?: boolean
  /**
   * The clock of `receivedMicros` (microseconds since the epoch). Default: wall time at first use refined by the
   * monotonic clock. Pass the clock the consumer compares the stamps with.
   */
  clock?: { nowMicros(): number }
  /**
   * The data directory of a server on this machine (one this process started). When the server's binlog lives in
   * it (`@@log_bin_basename`) and is not encrypted, the stream reads the files there instead of asking the server to
   * send them: the server then does no work for the reader. Otherwise, and without it, the replication protocol.
   */
  dataDir?: string
  /**
   * Reading files: binlog files that end early, by name, at the offset where a transaction starts that the file does
   * not hold whole. A server that stops while it writes a transaction (a crash) leaves its start at the file's end,
   * did not commit it, and goes on in the next file; a consumer that meets a `rotate` inside a transaction has met
   * one, and reads again with it here. Over the protocol it cannot be skipped.
   */
  tornTails?: ReadonlyMap<string, number>
}

/** Wall time at first use, refined by the monotonic clock (steady within a process, microsecond resolution). */
const monotonicWallClock = (() => {
  const originMs = Date.now()
  const originHr = process.hrtime.bigint()
  return {
    nowMicros(): number {
      return originMs * 1000 + Number((process.hrtime.bigint() - originHr) / 1000n)
    },
  }
})()

/**
 * A live binlog stream: an async iterable of decoded events in binlog order. Iteration throws a `BinlogError`
 * `CaptureFault` on events that cannot be captured truthfully (capture must stop: retrying repeats it) and a plain
 * mysql2 `Error` when the connection fails (reconnect from `position`). Breaking out of a `for await` closes it.
 */
export interface BinlogStream extends AsyncIterable<BinlogEvent>, AsyncDisposable {
  /** Known once the first FORMAT_DESCRIPTION arrived (also from `SELECT VERSION()` at open). */
  readonly flavor: ServerFlavor
  readonly serverVersion: string
  /** Where the stream was asked to start. */
  readonly start: BinlogPosition
  /** Where the event after the last one handed out starts: save it to resume exactly there. */
  readonly position: BinlogPosition
  /** MariaDB: the GTID_LIST at the start of the current binlog file (the GTID state up to there). */
  readonly gtidList: readonly string[] | undefined
  /** Decoded events waiting for the consumer (bounded: the socket is paused at `highWaterMark`). */
  readonly buffered: number
  /** Whether events are read from the server's binlog files (see `dataDir`) rather than sent by the server. */
  readonly source: 'files' | 'protocol'
  /** Read at once what the server has written (a stream that reads files polls them; over the protocol a no-op). */
  poke(): void
  close(): Promise<void>
}

// mysql2's Command base class and the COM_BINLOG_DUMP packet are internal (not in its package exports).
const require = createRequire(import.meta.url)
const mysql2Dir = path.dirname(require.resolve('mysql2'))
interface Mysql2Packet {
  buffer: Buffer
  offset: number
  end: number
  isEOF(): boolean
}
type CommandCtor = new () => {
  on(event: string, listener: (...args: unknown[]) => void): unknown
  onResult?: (error: Error | null) => void
}
const Command = require(path.join(mysql2Dir, 'lib/commands/command.js')) as CommandCtor
const Packet = require(path.join(mysql2Dir, 'lib/packets/packet.js')) as new (
  sequenceId: number,
  buffer: Buffer,
  start: number,
  end: number,
) => unknown

/** COM_BINLOG_DUMP: 0x12, position (4), flags (2), replica server id (4), file name (rest). */
function binlogDumpPacket(dump: { binlogPos: number; serverId: number; flags: number; filename: string }): unknown {
  const name = Buffer.from(dump.filename, 'utf8')
  const buffer = Buffer.alloc(4 + 11 + name.length)
  buffer[4] = 0x12
  buffer.writeUInt32LE(dump.binlogPos, 5)
  buffer.writeUInt16LE(dump.flags, 9)
  buffer.writeUInt32LE(dump.serverId, 11)
  name.copy(buffer, 15)
  return new Packet(0, buffer, 0, buffer.length)
}

interface DumpHandlers {
  onEvent(raw: Buffer): void
  onEnd(): void
  onError(error: Error): void
}

/** COM_BINLOG_DUMP as a mysql2 command: every following packet is one binlog event (0x00 + event bytes). */
class BinlogDumpCommand extends Command {
  constructor(
    private readonly dump: { binlogPos: number; serverId: number; flags: number; filename: string },
    private readonly handlers: DumpHandlers,
  ) {
    super()
    this.onResult = (error) => {
      if (error) handlers.onError(error)
    }
  }

  start(_packet: unknown, connection: { writePacket(packet: unknown): void }): unknown {
    connection.writePacket(binlogDumpPacket(this.dump))
    // mysql2 commands are state machines: it calls the returned state with the command as `this`.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    return BinlogDumpCommand.prototype.binlogData
  }

  binlogData(packet: Mysql2Packet): unknown {
    if (packet.isEOF()) {
      this.handlers.onEnd()
      return null
    }
    // byte 0 is the OK marker (0x00); the event follows.
    this.handlers.onEvent(packet.buffer.subarray(packet.offset + 1, packet.end))
    // eslint-disable-next-line @typescript-eslint/unbound-method
    return BinlogDumpCommand.prototype.binlogData
  }
}

function query<T extends RowDataPacket[]>(connection: Connection, sql: string): Promise<T> {
  return new Promise((resolve, reject) => {
    connection.query<T>(sql, (error, rows) => (error ? reject(error) : resolve(rows)))
  })
}

async function currentPosition(connection: Connection): Promise<BinlogPosition> {
  let rows: RowDataPacket[]
  try {
    rows = await query(connection, 'SHOW MASTER STATUS')
  } catch {
    rows = await query(connection, 'SHOW BINARY LOG STATUS') // MySQL 8.4+
  }
  const row = rows[0]
  if (!row) {
    throw new BinlogError(
      'CaptureFault',
      'binary logging is off on the server (SHOW MASTER STATUS is empty): start it with --log-bin',
    )
  }
  return { file: String(row['File']), position: Number(row['Position']) }
}

/**
 * The server's global variables of these names, by lower-case name; one a server does not have (another flavor, an
 * older version) is absent.
 */
async function globalVariables(connection: Connection, names: string[]): Promise<Map<string, string>> {
  const rows = await query(
    connection,
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names.map((name) => `'${name}'`).join(', ')})`,
  )
  return new Map(rows.map((r) => [String(r['Variable_name']).toLowerCase(), String(r['Value'])]))
}

async function checkServerSettings(connection: Connection): Promise<void> {
  const vars = await globalVariables(connection, [
    'log_bin',
    'binlog_format',
    'binlog_row_image',
    'binlog_row_metadata',
  ])
  const want: [string, string][] = [
    ['log_bin', 'ON'],
    ['binlog_format', 'ROW'],
    ['binlog_row_image', 'FULL'],
    ['binlog_row_metadata', 'FULL'],
  ]
  for (const [name, value] of want) {
    const actual = vars.get(name)?.toUpperCase()
    if (actual !== undefined && actual !== value) {
      throw new BinlogError(
        'CaptureFault',
        `the server has ${name}=${actual}; binlog capture needs ${name}=${value} ` +
          (name === 'log_bin' ? '(start the server with --log-bin)' : `(SET GLOBAL ${name}='${value}')`),
      )
    }
  }
}

/**
 * The base name of the server's binlog files when they can be read here: inside `dataDir` (so they are this
 * server's, not another's at the same path), present, and not encrypted (MariaDB encrypt_binlog, MySQL
 * binlog_encryption). Undefined: read over the protocol.
 */
async function localBinlog(connection: Connection, dataDir: string): Promise<string | undefined> {
  const vars = await globalVariables(connection, ['log_bin_basename', 'encrypt_binlog', 'binlog_encryption'])
  const basename = vars.get('log_bin_basename')
  if (basename === undefined || !path.isAbsolute(basename)) return undefined
  const dir = path.resolve(dataDir) + path.sep
  if (!path.resolve(basename).startsWith(dir) || !existsSync(`${basename}.index`)) return undefined
  if (['encrypt_binlog', 'binlog_encryption'].some((name) => /^(1|on)$/i.test(vars.get(name) ?? ''))) return undefined
  return path.resolve(basename)
}

const END = Symbol('end')
type QueueItem = DecodedEvent | Error | typeof END

/** Opens a replication connection and streams decoded binlog events from `from` (default: the current end). */
export async function openBinlogStream(options: BinlogStreamOptions): Promise<BinlogStream> {
  const connection = mysql.createConnection({
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    supportBigNumbers: true,
    bigNumberStrings: true,
  })
  let connectionError: Error | undefined
  const earlyError = (error: Error) => (connectionError = error)
  connection.on('error', earlyError)
  let opened = false
  try {
    const [info] = await query(
      connection,
      'SELECT VERSION() AS version, @@global.binlog_checksum AS checksum, @@global.server_id AS serverId',
    )
    const version = String(info!['version'])
    const checksum = String(info!['checksum']).toUpperCase()
    if (Number(info!['serverId']) === options.serverId) {
      throw new BinlogError(
        'InvalidParameterValue',
        `the binlog client's serverId ${options.serverId} equals the server's own server_id: pick another one`,
      )
    }
    if (options.checkSettings !== false) await checkServerSettings(connection)
    const start = options.from ?? (await currentPosition(connection))
    const mariadb = /mariadb/i.test(version)

    await query(connection, 'SET @master_binlog_checksum = @@global.binlog_checksum')
    await query(connection, 'SET @source_binlog_checksum = @@global.binlog_checksum')
    if (mariadb) await query(connection, `SET @mariadb_slave_capability = ${MARIA_SLAVE_CAPABILITY_GTID}`)
    const heartbeatNs = Math.round((options.heartbeatSeconds ?? 0) * 1e9)
    if (heartbeatNs > 0) {
      await query(connection, `SET @master_heartbeat_period = ${heartbeatNs}`)
      await query(connection, `SET @source_heartbeat_period = ${heartbeatNs}`)
    }
    const basename = options.dataDir === undefined ? undefined : await localBinlog(connection, options.dataDir)
    const clock = options.clock ?? monotonicWallClock
    const stream =
      basename === undefined
        ? new LiveBinlogStream(connection, options, start, version, checksum !== 'NONE')
        : new FileBinlogStream(
            connection,
            {
              basename,
              start,
              serverVersion: version,
              clock,
              annotateRows: options.requestAnnotateRows === true,
              heartbeatMs: (options.heartbeatSeconds ?? 0) * 1000,
              ...(options.tornTails === undefined ? {} : { tornTails: options.tornTails }),
            },
            checksum !== 'NONE',
          )
    opened = true
    connection.removeListener('error', earlyError)
    if (connectionError) throw connectionError
    return stream
  } finally {
    if (!opened) connection.destroy()
  }
}

class LiveBinlogStream extends EventStream implements BinlogStream {
  readonly source = 'protocol'
  readonly #connection: Connection
  readonly #decoder: BinlogDecoder
  readonly #clock: { nowMicros(): number }
  readonly #queue: QueueItem[] = []
  #head = 0
  #waiter: (() => void) | undefined
  #paused = false
  #closed = false
  #failed = false
  readonly #high: number
  readonly #low: number

  constructor(
    connection: Connection,
    options: BinlogStreamOptions,
    start: BinlogPosition,
    version: string,
    checksum: boolean,
  ) {
    super(start, version)
    this.#connection = connection
    this.#clock = options.clock ?? monotonicWallClock
    this.#high = Math.max(1, options.highWaterMark ?? 64)
    this.#low = Math.floor(this.#high / 4)
    this.#decoder = new BinlogDecoder({ checksum, file: start.file, position: start.position })

    connection.on('error', (error: Error) => this.#fail(error))
    // The server hung up (shutdown, KILL): a transport failure, so the consumer reconnects from `position`.
    connection.on('end', () => this.#fail(lost('the server closed the binlog connection')))
    const command = new BinlogDumpCommand(
      {
        binlogPos: start.position,
        serverId: options.serverId,
        flags: options.requestAnnotateRows ? BINLOG_SEND_ANNOTATE_ROWS_EVENT : 0,
        filename: start.file,
      },
      {
        onEvent: (raw) => this.#onEvent(raw),
        onEnd: () => this.#push(END),
        onError: (error) => this.#fail(error),
      },
    )
    ;(connection as unknown as { addCommand(cmd: unknown): void }).addCommand(command)
  }

  get buffered(): number {
    return this.#queue.length - this.#head
  }

  poke(): void {
    // The server sends every event as it is written.
  }

  #onEvent(raw: Buffer): void {
    if (this.#closed || this.#failed) return
    let event: DecodedEvent
    try {
      event = this.#decoder.decode(raw)
    } catch (error) {
      this.#fail(error as Error)
      return
    }
    if (event.type === 'xid' || event.type === 'query') event.receivedMicros = this.#clock.nowMicros()
    this.#push(event)
    if (!this.#paused && this.#queue.length - this.#head >= this.#high) {
      this.#paused = true
      this.#connection.pause()
    }
  }

  #fail(error: Error): void {
    if (this.#closed || this.#failed) return
    this.#failed = true
    this.#push(error)
    this.#connection.destroy()
  }

  #push(item: QueueItem): void {
    this.#queue.push(item)
    const waiter = this.#waiter
    if (waiter) {
      this.#waiter = undefined
      waiter()
    }
  }

  async #take(): Promise<QueueItem> {
    for (;;) {
      if (this.#closed) return END
      if (this.#head < this.#queue.length) {
        const item = this.#queue[this.#head]!
        this.#queue[this.#head++] = END // drop the reference
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#head)
          this.#head = 0
        }
        if (this.#paused && this.#queue.length - this.#head <= this.#low) {
          this.#paused = false
          this.#connection.resume()
        }
        return item
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve))
    }
  }

  async next(): Promise<IteratorResult<BinlogEvent>> {
    for (;;) {
      const item = await this.#take()
      if (item === END) {
        await this.close()
        return { done: true, value: undefined }
      }
      if (item instanceof Error) {
        await this.close()
        throw item
      }
      const event = this.handOn(item)
      if (event !== undefined) return { done: false, value: event }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#connection.destroy()
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.()
  }
}
