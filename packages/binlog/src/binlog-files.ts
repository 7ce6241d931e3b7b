import { open, stat, type FileHandle } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import path from 'node:path'
import type { Connection } from 'mysql2'
import { BinlogError } from './binlog-error.js'
import type { BinlogEvent, BinlogPosition } from './binlog-event.js'
import type { BinlogStream } from './binlog-client.js'
import { BinlogDecoder } from './decode-event.js'
import { EventStream, lost } from './event-stream.js'

/** What every binlog file starts with. */
const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e])
const HEADER_LENGTH = 19
/** Bytes read from the file at a time. */
const CHUNK = 1 << 20
/** At the end of the file: the first wait for more, doubled while nothing comes, up to the longest. */
const POLL_MIN_MS = 10
const POLL_MAX_MS = 100
/** The server connection is pinged this often: a server that went away fails the stream as a lost connection does. */
const PING_MS = 5_000
/** How long a binlog file named by a ROTATE may take to appear. */
const FILE_APPEARS_MS = 3_000

export interface FileStreamSetup {
  /** The server's `@@log_bin_basename`: files are `<basename>.000001`, ... */
  basename: string
  start: BinlogPosition
  serverVersion: string
  clock: { nowMicros(): number }
  /** MariaDB writes ANNOTATE_ROWS events into its files; they are handed on only when asked for, as over the protocol. */
  annotateRows: boolean
  /** At the end of the file, a heartbeat this often (0: only when the position moved unseen). */
  heartbeatMs: number
  /** Files that end early: nothing at or after the offset is read (see `BinlogStreamOptions.tornTails`). */
  tornTails?: ReadonlyMap<string, number>
}

/** The server's own answer to a COM_BINLOG_DUMP for a file it no longer has (the capture turns it into its fault). */
function fileGone(file: string): Error {
  const error = new Error(
    `Could not find first log file name in binary log index file (${file} is not in the server's binlog directory)`,
  ) as Error & { errno: number }
  error.errno = 1236
  return error
}

/** `binlog.000041` -> `binlog.000042` (the server numbers files this way, with at least six digits). */
export function nextBinlogFile(file: string): string {
  const match = /^(.*\.)(\d+)$/.exec(file)
  if (match === null) throw new BinlogError('CaptureFault', `${JSON.stringify(file)} is not a binlog file name`)
  const digits = match[2]!
  return match[1]! + String(Number(digits) + 1).padStart(digits.length, '0')
}

/**
 * The binlog read from the server's files instead of through a replication connection: for a server on this machine
 * (the simulator's private server). The server then does no work for the reader (no dump thread), and a file can be
 * read up to where a transaction starts that a crashed server left half-written (`tornTails`). The capture reads in
 * batches: at the end of the file it waits 10 ms, doubling while nothing comes up to 100 ms; `poke()` reads at once.
 *
 * Events come exactly as over the protocol (same decoder, same positions, a heartbeat when the end is reached after
 * events that hand nothing on). A file ends at its ROTATE event; one that ends without one (the server stopped or
 * crashed) is left for the next file once that exists. Bytes past the last whole event are waited for: the server
 * writes large transactions in pieces. The connection stays open, idle, only to notice that the server went away.
 */
export class FileBinlogStream extends EventStream implements BinlogStream {
  readonly source = 'files'
  readonly #connection: Connection
  readonly #dir: string
  readonly #clock: { nowMicros(): number }
  readonly #decoder: BinlogDecoder
  #file: FileHandle | undefined
  #fileName = ''
  readonly #tornTails: ReadonlyMap<string, number>
  /** File offset of the first byte not yet read into `#pending`. */
  #readAt = 0
  #pending: Buffer = Buffer.alloc(0)
  /**
   * Where reads land before what they got is copied out: at the tail of a busy file a read gets a few KiB, and a
   * fresh 1 MiB buffer per read (kept alive by every event sliced from it) was most of the capture's garbage.
   */
  readonly #scratch = Buffer.allocUnsafe(CHUNK)
  /** The position the consumer last heard of (an event's `next`, or a heartbeat's). */
  #told: BinlogPosition
  #pollMs = POLL_MIN_MS
  readonly #annotateRows: boolean
  readonly #heartbeatMs: number
  /** When the consumer last got an event (Date.now()). */
  #toldAt = Date.now()
  /** Whether the ROTATE a server sends first (naming where the stream starts) was handed out. */
  #opened = false
  #wakeup: (() => void) | undefined
  #failure: Error | undefined
  #closed = false
  readonly #ping: NodeJS.Timeout

  constructor(connection: Connection, setup: FileStreamSetup, checksum: boolean) {
    super(setup.start, setup.serverVersion)
    this.#connection = connection
    this.#dir = path.dirname(setup.basename)
    this.#clock = setup.clock
    this.#annotateRows = setup.annotateRows
    this.#heartbeatMs = setup.heartbeatMs
    this.#tornTails = setup.tornTails ?? new Map()
    this.#told = { ...setup.start }
    this.#decoder = new BinlogDecoder({ checksum, file: setup.start.file, position: setup.start.position })
    connection.on('error', (error: Error) => this.#fail(error))
    connection.on('end', () => this.#fail(lost('the server closed the connection the binlog reader holds')))
    this.#ping = setInterval(() => {
      connection.ping((error) => {
        if (error) this.#fail(lost(`the server stopped answering (${error.message})`, error))
      })
    }, PING_MS)
    this.#ping.unref()
  }

  /** Whole events read from the file and not yet handed out (an estimate: the bytes waiting, in events). */
  get buffered(): number {
    return this.#pending.length >= HEADER_LENGTH ? 1 : 0
  }

  /** Reads the file at once instead of at the next poll (a consumer that waits for a position calls it). */
  poke(): void {
    this.#pollMs = POLL_MIN_MS
    const wakeup = this.#wakeup
    this.#wakeup = undefined
    wakeup?.()
  }

  #fail(error: Error): void {
    if (this.#closed || this.#failure !== undefined) return
    this.#failure = error
    this.poke()
  }

  /** Opens `file` and places the reader at `position` (the FORMAT_DESCRIPTION at 4 is read first when past it). */
  async #open(file: string, position: number): Promise<void> {
    await this.#file?.close().catch(() => undefined)
    this.#file = undefined
    this.#pending = Buffer.alloc(0)
    const handle = await this.#openFile(file)
    this.#file = handle
    this.#fileName = file
    const magic = Buffer.alloc(4)
    await handle.read(magic, 0, 4, 0)
    if (!magic.equals(MAGIC)) {
      throw new BinlogError('CaptureFault', `${path.join(this.#dir, file)} does not start like a binlog file`)
    }
    this.#readAt = 4
    if (position > 4) {
      // The decoder needs the file's FORMAT_DESCRIPTION (checksums, post-header lengths); its log_pos lies before
      // `position`, so it does not move the position back.
      const raw = await this.#eventAt(4)
      if (raw === undefined) throw lost(`${file} has no FORMAT_DESCRIPTION_EVENT yet`)
      this.handOn(this.#decoder.decode(raw))
      this.#readAt = position
    }
    this.#decoder.position = { file, position }
    this.position = { file, position }
  }

  /**
   * The server writes a ROTATE event into the old file before it creates the new one: a file named by a ROTATE (or
   * saved as the place to resume) may not be there yet. One still missing after a while is gone (purged).
   */
  async #openFile(file: string): Promise<FileHandle> {
    const deadline = Date.now() + FILE_APPEARS_MS
    for (;;) {
      try {
        return await open(path.join(this.#dir, file), 'r')
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOENT') throw error
        if (Date.now() > deadline || this.#closed) throw fileGone(file)
        await sleep(POLL_MIN_MS)
      }
    }
  }

  /** The whole event at `offset` of the open file, or undefined when it is not all there yet. */
  async #eventAt(offset: number): Promise<Buffer | undefined> {
    const header = Buffer.alloc(HEADER_LENGTH)
    const { bytesRead } = await this.#file!.read(header, 0, HEADER_LENGTH, offset)
    if (bytesRead < HEADER_LENGTH) return undefined
    const raw = Buffer.alloc(header.readUInt32LE(9))
    const read = await this.#file!.read(raw, 0, raw.length, offset)
    return read.bytesRead === raw.length ? raw : undefined
  }

  /** The next whole event of the open file, or undefined at its end. */
  async #nextRaw(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.#pending.length >= HEADER_LENGTH) {
        const size = this.#pending.readUInt32LE(9)
        if (size < HEADER_LENGTH) {
          throw new BinlogError(
            'CaptureFault',
            `the binlog event at ${this.position.file}:${this.position.position} says it has ${size} bytes: the file is corrupt`,
          )
        }
        if (this.#pending.length >= size) {
          const raw = this.#pending.subarray(0, size)
          this.#pending = this.#pending.subarray(size)
          return raw
        }
      }
      const wanted = Math.min(
        Math.max(CHUNK, this.#pending.length >= HEADER_LENGTH ? this.#pending.readUInt32LE(9) : 0),
        this.#end() - this.#readAt,
      )
      if (wanted <= 0) return undefined
      const into = wanted <= CHUNK ? this.#scratch : Buffer.allocUnsafe(wanted)
      const { bytesRead } = await this.#file!.read(into, 0, wanted, this.#readAt)
      if (bytesRead === 0) return undefined
      this.#readAt += bytesRead
      const fresh = into.subarray(0, bytesRead)
      this.#pending = Buffer.concat([this.#pending, fresh])
    }
  }

  /** Where the open file ends for this reader: its torn tail's start, if it has one. */
  #end(): number {
    return this.#tornTails.get(this.#fileName) ?? Number.MAX_SAFE_INTEGER
  }

  /** At the end of the open file: whether the server has gone on to the next one (it stopped, or crashed, and restarted). */
  async #movedOn(): Promise<string | undefined> {
    const next = nextBinlogFile(this.#fileName)
    try {
      await stat(path.join(this.#dir, next))
    } catch {
      // No next file. The open one may be gone though (RESET MASTER, a purge): its descriptor still reads the old
      // bytes, and the server writes elsewhere. Over the protocol the server answers 1236 then; so does this.
      try {
        await stat(path.join(this.#dir, this.#fileName))
      } catch (error) {
        if ((error as { code?: string }).code === 'ENOENT') throw fileGone(this.#fileName)
      }
      return undefined
    }
    // The next file exists, so this one is written no more; read what may have come meanwhile first.
    const size = Math.min((await this.#file!.stat()).size, this.#end())
    return size > this.#readAt ? undefined : next
  }

  async #idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#wakeup = resolve
      setTimeout(resolve, this.#pollMs).unref()
    })
    this.#wakeup = undefined
    this.#pollMs = Math.min(this.#pollMs * 2, POLL_MAX_MS)
  }

  async next(): Promise<IteratorResult<BinlogEvent>> {
    try {
      if (!this.#opened && !this.#closed) {
        await this.#open(this.start.file, this.start.position)
        this.#opened = true
        // As a server starts a dump: a ROTATE naming the file and position (consumers and tests expect it).
        const { file, position } = this.start
        return { done: false, value: { type: 'rotate', timestamp: 0, next: { file, position }, file, position } }
      }
      for (;;) {
        if (this.#closed) return { done: true, value: undefined }
        if (this.#failure !== undefined) throw this.#failure
        const raw = await this.#nextRaw()
        if (raw !== undefined) {
          this.#pollMs = POLL_MIN_MS
          const item = this.#decoder.decode(raw)
          if (item.type === 'xid' || item.type === 'query') item.receivedMicros = this.#clock.nowMicros()
          const event = this.handOn(item)
          if (item.type === 'rotate') await this.#open(item.file, item.position)
          if (event === undefined || (event.type === 'annotate' && !this.#annotateRows && this.flavor === 'mariadb'))
            continue
          this.#told = event.next
          this.#toldAt = Date.now()
          return { done: false, value: event }
        }
        const nextFile = await this.#movedOn()
        if (nextFile !== undefined) {
          // As a server's dump does when it goes on to the next file without a ROTATE: a fake one. A consumer inside
          // a transaction learns here that its file ended before the transaction did (see `tornTails`).
          await this.#open(nextFile, 4)
          const at = { file: nextFile, position: 4 }
          this.#told = at
          this.#toldAt = Date.now()
          return { done: false, value: { type: 'rotate', timestamp: 0, next: { ...at }, ...at } }
        }
        const moved = this.position.file !== this.#told.file || this.position.position !== this.#told.position
        if (moved || (this.#heartbeatMs > 0 && Date.now() - this.#toldAt >= this.#heartbeatMs)) {
          // Caught up after events that hand nothing on (a new file's FORMAT_DESCRIPTION), or idle for a heartbeat's
          // time: say where the reader is, as a server's heartbeat does.
          this.#told = { ...this.position }
          this.#toldAt = Date.now()
          return {
            done: false,
            value: {
              type: 'heartbeat',
              timestamp: Math.floor(this.#clock.nowMicros() / 1e6),
              next: { ...this.position },
            },
          }
        }
        await this.#idle()
      }
    } catch (error) {
      await this.close()
      throw error
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#ping)
    this.#connection.destroy()
    const wakeup = this.#wakeup
    this.#wakeup = undefined
    wakeup?.()
    await this.#file?.close().catch(() => undefined)
    this.#file = undefined
  }
}
