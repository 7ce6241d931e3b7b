import { setTimeout as sleep } from 'node:timers/promises'

import { createConnection, type Connection, type ConnectionOptions, type RowDataPacket } from 'mysql2/promise'

import type {
  Credentials,
  ServerConnectionOptions,
  ServerFlavor,
  ServerLogger,
  ServerSource,
  StartedMysqlServer,
} from './mysql-server.js'

/** The logger used when none is given. */
export const SILENT_LOGGER: ServerLogger = { info: () => {}, warn: () => {} }

/** What every source knows about the server it provides. */
export interface MysqlServerProps {
  source: ServerSource
  flavor: ServerFlavor
  version: string
  host: string
  port: number
  admin: Credentials
  app: Credentials
  serverId: number
  dataDir?: string
  pid?: number
  socketPath?: string
  adopted?: boolean
}

/** Opens a connection, runs `fn` and always closes it (destroying it when closing fails). */
export async function withConnection<T>(options: ConnectionOptions, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await createConnection({ connectTimeout: 5_000, ...options })
  try {
    return await fn(conn)
  } finally {
    await conn.end().catch(() => conn.destroy())
  }
}

/** `mysql-bin.000012`-style names only: the name ends up inside a statement. */
const BINLOG_FILE = /^[\w.-]+$/
const PURGE_RETRY_MS = 5_000

/**
 * One started server, whatever its source: the source decides only what `stop()` does. `stop()` runs once; later
 * calls wait for the same shutdown.
 */
export class MysqlServerHandle implements StartedMysqlServer {
  readonly source: ServerSource
  readonly flavor: ServerFlavor
  readonly version: string
  readonly host: string
  readonly port: number
  readonly admin: Credentials
  readonly app: Credentials
  readonly serverId: number
  readonly dataDir?: string
  readonly pid?: number
  readonly socketPath?: string
  readonly adopted?: boolean
  readonly #shutdown: () => Promise<void>
  #stopping?: Promise<void>

  constructor(props: MysqlServerProps, shutdown: () => Promise<void>) {
    this.source = props.source
    this.flavor = props.flavor
    this.version = props.version
    this.host = props.host
    this.port = props.port
    this.admin = props.admin
    this.app = props.app
    this.serverId = props.serverId
    if (props.dataDir !== undefined) this.dataDir = props.dataDir
    if (props.pid !== undefined) this.pid = props.pid
    if (props.socketPath !== undefined) this.socketPath = props.socketPath
    if (props.adopted !== undefined) this.adopted = props.adopted
    this.#shutdown = shutdown
  }

  connectionOptions(account: 'admin' | 'app', database?: string): ServerConnectionOptions {
    const { user, password } = this[account]
    return { host: this.host, port: this.port, user, password, ...(database === undefined ? {} : { database }) }
  }

  /**
   * MariaDB keeps a file until its binlog checkpoint (written in the background after a rotation) and PURGE skips it
   * silently until then, so this retries for a few seconds; a file still kept is removed by a later call.
   */
  async purgeBinaryLogsBefore(file: string): Promise<void> {
    if (!BINLOG_FILE.test(file)) throw new TypeError(`not a binlog file name: ${JSON.stringify(file)}`)
    await withConnection(this.connectionOptions('admin'), async (conn) => {
      const deadline = Date.now() + PURGE_RETRY_MS
      for (;;) {
        await conn.query('PURGE BINARY LOGS TO ?', [file])
        const [logs] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS')
        const oldest = String(logs[0]?.Log_name ?? file)
        if (oldest >= file || Date.now() > deadline) return
        await sleep(100)
      }
    })
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown()
    return this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
