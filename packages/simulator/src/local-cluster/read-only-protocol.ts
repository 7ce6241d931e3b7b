import { tokenize, type Token } from '../ddl/sql-tokens.js'

/** MySQL's error for a write on a read-only server, as an Aurora reader sends it. */
export const READ_ONLY_ERROR = {
  code: 1290,
  sqlState: 'HY000',
  message: 'The MySQL server is running with the --read-only option so it cannot execute this statement',
} as const

const HEADER = 4
const MAX_PAYLOAD = 0xffffff
const COM_QUERY = 0x03
const COM_STMT_PREPARE = 0x16
// Capabilities the filter cannot look through: TLS and compression hide the commands, query attributes change
// COM_QUERY's layout. The server's greeting stops offering them, so a client never asks for them.
const CLIENT_COMPRESS = 0x20
const CLIENT_SSL = 0x800
const CLIENT_QUERY_ATTRIBUTES = 1 << 27

// Statements a read-only server runs, by their first word. Everything else is refused, so a statement this list
// does not know (a new kind of write) is refused rather than let through.
const READ_STATEMENTS = new Set([
  'SELECT',
  'WITH',
  'VALUES',
  'TABLE',
  'SHOW',
  'DESCRIBE',
  'DESC',
  'EXPLAIN',
  'USE',
  'SET',
  'BEGIN',
  'START',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'DO',
  'HELP',
  'KILL',
  'CHECKSUM',
  'HANDLER',
  'UNLOCK',
  'LOCK',
  'EXECUTE',
  'DEALLOCATE',
  'PREPARE',
])
const WRITE_WORDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'MERGE', 'CALL'])

function upper(token: Token | undefined): string {
  return token?.type === 'word' ? token.value.toUpperCase() : ''
}

/** One statement's tokens (no `;`), leading parentheses of `(SELECT …) UNION …` dropped. */
function isReadStatement(tokens: readonly Token[]): boolean {
  let start = 0
  while (tokens[start]?.type === 'punct' && tokens[start]?.value === '(') start++
  const statement = tokens.slice(start)
  const first = upper(statement[0])
  if (first === '') return statement.length === 0
  if (!READ_STATEMENTS.has(first)) return false
  const words = statement.map(upper)
  // SELECT … INTO OUTFILE/DUMPFILE writes a file (INTO @var only sets a session variable).
  const writesFile = words.some((word, i) => word === 'INTO' && ['OUTFILE', 'DUMPFILE'].includes(words[i + 1] ?? ''))
  switch (first) {
    case 'SELECT':
    case 'VALUES':
    case 'TABLE':
      return !writesFile
    case 'WITH':
      // MySQL 8 allows WITH … UPDATE/DELETE.
      return !writesFile && !words.some((word) => WRITE_WORDS.has(word))
    case 'EXPLAIN':
    case 'DESCRIBE':
    case 'DESC':
      // EXPLAIN ANALYZE (MySQL) and ANALYZE (MariaDB) run the statement.
      return words[1] !== 'ANALYZE'
    case 'SET':
      // Session settings only: no passwords, no global or persisted settings, no default roles.
      return !words.some(
        (word, i) =>
          ['PASSWORD', 'GLOBAL', 'PERSIST', 'PERSIST_ONLY'].includes(word) ||
          (word === 'DEFAULT' && words[i + 1] === 'ROLE'),
      )
    case 'START':
      // START TRANSACTION, not START SLAVE/REPLICA.
      return words[1] === 'TRANSACTION'
    case 'LOCK':
      // LOCK TABLES t READ is a read; a WRITE lock is for writing.
      return !words.includes('WRITE')
    case 'PREPARE': {
      // PREPARE s FROM '…' is checked like the statement it prepares; FROM @var cannot be seen, so it is refused.
      const from = words.indexOf('FROM')
      const source = statement[from + 1]
      return from !== -1 && source?.type === 'string' && classifySql(source.value) === 'read'
    }
    default:
      return true
  }
}

/** Whether SQL text (possibly several statements) only reads: `write` when any statement may change data. */
export function classifySql(sql: string): 'read' | 'write' {
  const statements: Token[][] = [[]]
  for (const token of tokenize(sql)) {
    if (token.type === 'punct' && token.value === ';') statements.push([])
    else statements.at(-1)!.push(token)
  }
  return statements.every(isReadStatement) ? 'read' : 'write'
}

/** The ERR packet a read-only server answers a write with, as the `sequence`-th packet of the exchange. */
export function readOnlyErrorPacket(sequence: number): Buffer {
  const message = Buffer.from(READ_ONLY_ERROR.message, 'utf8')
  const payload = Buffer.alloc(1 + 2 + 1 + 5 + message.length)
  payload[0] = 0xff
  payload.writeUInt16LE(READ_ONLY_ERROR.code, 1)
  payload.write(`#${READ_ONLY_ERROR.sqlState}`, 3, 'latin1')
  message.copy(payload, 9)
  const header = Buffer.alloc(HEADER)
  header.writeUIntLE(payload.length, 0, 3)
  header[3] = sequence & 0xff
  return Buffer.concat([header, payload])
}

/** Takes whole packets off the front of a byte stream. */
class PacketReader {
  #buffer: Buffer = Buffer.alloc(0)

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
  }

  /** The next whole packet (header and payload), or undefined until more bytes arrive. */
  next(): { raw: Buffer; sequence: number; payload: Buffer } | undefined {
    if (this.#buffer.length < HEADER) return undefined
    const length = this.#buffer.readUIntLE(0, 3)
    if (this.#buffer.length < HEADER + length) return undefined
    const raw = this.#buffer.subarray(0, HEADER + length)
    this.#buffer = this.#buffer.subarray(HEADER + length)
    return { raw, sequence: raw[3]!, payload: raw.subarray(HEADER) }
  }
}

/** Where a filtered connection's bytes go. */
export interface ReadOnlySink {
  /** Bytes for the server. */
  toServer(bytes: Buffer): void
  /** Bytes for the client. */
  toClient(bytes: Buffer): void
  /** The client asked for something the filter cannot look through (TLS): close the connection. */
  refuse(reason: string): void
}

/**
 * The MySQL client/server protocol of one connection, read just enough to make it read-only, as an Aurora reader
 * is: the server's greeting stops offering TLS and compression (so every command stays readable), and a command
 * whose SQL may write (`COM_QUERY`, `COM_STMT_PREPARE`) is answered with MySQL's error 1290 instead of reaching the
 * server. A command always starts a new exchange with sequence number 0, which is how it is told apart from the
 * handshake's and LOAD DATA's packets.
 */
export class ReadOnlyFilter {
  readonly #sink: ReadOnlySink
  readonly #fromServer = new PacketReader()
  readonly #fromClient = new PacketReader()
  #greeted = false
  #handshakeAnswered = false
  /** A command larger than one packet, collected until its last packet. */
  #pending: { packets: Buffer[]; payloads: Buffer[] } | undefined

  constructor(sink: ReadOnlySink) {
    this.#sink = sink
  }

  /** Bytes the server sent. */
  fromServer(chunk: Buffer): void {
    if (this.#greeted) return this.#sink.toClient(chunk)
    this.#fromServer.push(chunk)
    const packet = this.#fromServer.next()
    if (packet === undefined) return
    this.#greeted = true
    this.#sink.toClient(withoutUnreadableCapabilities(packet.raw))
    // Whatever followed the greeting in the same chunk (nothing, in practice) passes unchanged.
    for (let rest = this.#fromServer.next(); rest !== undefined; rest = this.#fromServer.next()) {
      this.#sink.toClient(rest.raw)
    }
  }

  /** Bytes the client sent. */
  fromClient(chunk: Buffer): void {
    this.#fromClient.push(chunk)
    for (let packet = this.#fromClient.next(); packet !== undefined; packet = this.#fromClient.next()) {
      if (!this.#handshakeAnswered) {
        this.#handshakeAnswered = true
        if (packet.payload.length >= 4 && (packet.payload.readUInt32LE(0) & CLIENT_SSL) !== 0) {
          return this.#sink.refuse('the client asked for TLS, which a reader endpoint does not offer')
        }
        this.#sink.toServer(packet.raw)
        continue
      }
      if (this.#pending === undefined && packet.sequence !== 0) {
        this.#sink.toServer(packet.raw)
        continue
      }
      this.#pending ??= { packets: [], payloads: [] }
      this.#pending.packets.push(packet.raw)
      this.#pending.payloads.push(packet.payload)
      if (packet.payload.length === MAX_PAYLOAD) continue
      const { packets, payloads } = this.#pending
      this.#pending = undefined
      const command = Buffer.concat(payloads)
      if (isWriteCommand(command)) this.#sink.toClient(readOnlyErrorPacket(packet.sequence + 1))
      else for (const raw of packets) this.#sink.toServer(raw)
    }
  }
}

function isWriteCommand(command: Buffer): boolean {
  const kind = command[0]
  if (kind !== COM_QUERY && kind !== COM_STMT_PREPARE) return false
  return classifySql(command.subarray(1).toString('utf8')) === 'write'
}

/** The server's HandshakeV10 greeting without the capabilities the filter cannot look through. */
function withoutUnreadableCapabilities(raw: Buffer): Buffer {
  const packet = Buffer.from(raw)
  const payload = packet.subarray(HEADER)
  if (payload[0] !== 10) return packet // an ERR packet (too many connections, host blocked): pass it on
  const versionEnd = payload.indexOf(0, 1)
  if (versionEnd === -1) return packet
  // version NUL, connection id (4), auth data part 1 (8), filler (1), then the lower capability flags (2).
  const lower = versionEnd + 1 + 4 + 8 + 1
  if (payload.length < lower + 2) return packet
  payload.writeUInt16LE(payload.readUInt16LE(lower) & ~(CLIENT_SSL | CLIENT_COMPRESS), lower)
  // charset (1), status (2), then the upper capability flags (2).
  const upperFlags = lower + 2 + 1 + 2
  if (payload.length >= upperFlags + 2) {
    payload.writeUInt16LE(payload.readUInt16LE(upperFlags) & ~(CLIENT_QUERY_ATTRIBUTES >>> 16), upperFlags)
  }
  return packet
}
