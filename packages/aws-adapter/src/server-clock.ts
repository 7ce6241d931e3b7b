import { BacktrackError, type PollClock, type SqlEndpoint } from '@backtrack/core'

/** The slice of a MySQL client the adapter uses (kysely-style: mysql2 stays behind this seam). */
export interface SqlConnection {
  /** Runs one statement and returns its rows. */
  query(statement: string): Promise<Record<string, unknown>[]>
  close(): Promise<void>
}

export type ConnectSql = (endpoint: SqlEndpoint) => Promise<SqlConnection>

/** Opens a mysql2 connection to the cluster's SQL endpoint. */
export const connectMysql: ConnectSql = async (endpoint) => {
  const mysql = await import('mysql2/promise')
  const connection = await mysql.createConnection({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    ...(endpoint.database === undefined ? {} : { database: endpoint.database }),
    connectTimeout: 10_000,
    dateStrings: true,
  })
  return {
    async query(statement) {
      const [rows] = await connection.query(statement)
      return rows as Record<string, unknown>[]
    },
    async close() {
      await connection.end().catch(() => connection.destroy())
    },
  }
}

// DATE_FORMAT keeps the microseconds and sidesteps the driver's time-zone handling of DATETIME values.
const SERVER_TIME_SQL = "SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%f') AS utc, VERSION() AS version"
/**
 * How far past a whole-second mark the server clock must be before the mark is handed out: a backtrack to the
 * mark sent at once must not be in the future for the cluster's API, whose clock may trail the database's a little.
 */
const MARK_SETTLE_MS = 5
const SERVER_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})$/

/** A server time with the microseconds a `Date` cannot hold. */
export interface ServerTime {
  /** Whole milliseconds since the epoch (rounded down). */
  epochMs: number
  /** Microseconds past `epochMs` (0..999). */
  extraMicros: number
  /** The server is MariaDB, whose binlog stamps commits with whole seconds. */
  mariadb: boolean
}

function parseServerTime(text: unknown, version?: unknown): ServerTime {
  const match = typeof text === 'string' ? SERVER_TIME.exec(text) : null
  if (match === null) {
    throw new BacktrackError('InternalFailure', `The server answered UTC_TIMESTAMP(6) with ${JSON.stringify(text)}.`)
  }
  const micros = Number(match[2])
  return {
    epochMs: Date.parse(`${match[1]}Z`) + Math.floor(micros / 1000),
    extraMicros: micros % 1000,
    mariadb: typeof version === 'string' && /mariadb/i.test(version),
  }
}

const CONNECTION_LOST = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_SERVER_SHUTDOWN'])
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

// mysql2 marks connection-level failures `fatal`, some without a code ("Can't add new command when connection is
// in closed state" after the server killed an idle connection).
function isConnectionGone(error: unknown): boolean {
  return CONNECTION_LOST.has(sqlErrorCode(error) ?? '') || (error as { fatal?: unknown } | null)?.fatal === true
}

function sqlErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Maps a failure on the SQL side to the error users see for it, naming the endpoint. */
function mapSqlError(error: unknown, endpoint: SqlEndpoint): BacktrackError {
  if (error instanceof BacktrackError) return error
  const code = sqlErrorCode(error)
  const where = `SQL endpoint ${endpoint.host}:${endpoint.port}`
  const message = error instanceof Error ? error.message : String(error)
  if (code !== undefined && (UNREACHABLE.has(code) || CONNECTION_LOST.has(code))) {
    return new BacktrackError('ServiceUnavailable', `${where} cannot be reached: ${message}`, { cause: error })
  }
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR') {
    return new BacktrackError(
      'AccessDenied',
      `${where} refused user ${endpoint.user}: ${message}. Set sql.user/sql.password or DBUSER/DBPASS.`,
      { cause: error },
    )
  }
  return new BacktrackError('InternalFailure', `${where}: ${message}`, { cause: error })
}

/**
 * Reads time from the cluster's own clock over one SQL connection, reconnecting once when the server dropped it
 * (Aurora closes every connection during a backtrack).
 */
export class ServerClock {
  readonly #connect: ConnectSql
  readonly #endpoint: () => Promise<SqlEndpoint>
  readonly #clock: Pick<PollClock, 'sleep'>
  #connection: Promise<SqlConnection> | undefined

  constructor(endpoint: () => Promise<SqlEndpoint>, connect: ConnectSql, clock: Pick<PollClock, 'sleep'>) {
    this.#endpoint = endpoint
    this.#connect = connect
    this.#clock = clock
  }

  async read(): Promise<ServerTime> {
    const endpoint = await this.#endpoint()
    for (let attempt = 1; ; attempt++) {
      try {
        this.#connection ??= this.#connect(endpoint)
        const rows = await (await this.#connection).query(SERVER_TIME_SQL)
        return parseServerTime(rows[0]?.['utc'], rows[0]?.['version'])
      } catch (error) {
        await this.#drop()
        if (attempt === 1 && isConnectionGone(error)) continue
        throw mapSqlError(error, endpoint)
      }
    }
  }

  /** The server's current time, rounded down to the millisecond. */
  async now(): Promise<Date> {
    return new Date((await this.read()).epochMs)
  }

  /**
   * A time at or after the commit time of every transaction committed before the call, and before that of every
   * one committed after it returns, so backtracking to it restores the present. Normally the server's time rounded
   * up to the millisecond. On MariaDB, whose binlog gives commits whole seconds only, the next whole second, handed
   * out once the server clock has passed it: every earlier commit lies in a second before it, every later one in
   * a second at or after it (a cluster built on that binlog keeps each commit's time inside its second).
   */
  async mark(): Promise<Date> {
    let time = await this.read()
    if (!time.mariadb) return new Date(time.extraMicros === 0 ? time.epochMs : time.epochMs + 1)
    const mark = (Math.floor(time.epochMs / 1000) + 1) * 1000
    while (time.epochMs < mark + MARK_SETTLE_MS) {
      await this.#clock.sleep(mark + MARK_SETTLE_MS - time.epochMs)
      time = await this.read()
    }
    return new Date(mark)
  }

  async close(): Promise<void> {
    await this.#drop()
  }

  async #drop(): Promise<void> {
    const connection = this.#connection
    this.#connection = undefined
    if (connection !== undefined) await connection.then((c) => c.close()).catch(() => undefined)
  }
}
