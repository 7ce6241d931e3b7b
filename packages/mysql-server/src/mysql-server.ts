/** Which family of server is underneath a simulated cluster. */
export type ServerFlavor = 'mariadb' | 'mysql'

/** Where a server came from (logged when the cluster starts). */
export type ServerSource = 'url' | 'container' | 'private'

/** Where progress and decisions go (which source was chosen and why); silent when not given. */
export interface ServerLogger {
  info(message: string): void
  warn(message: string): void
}

export interface Credentials {
  user: string
  password: string
}

/** What a mysql2 connection needs to reach the server. */
export interface ServerConnectionOptions {
  host: string
  port: number
  user: string
  password: string
  database?: string
}

/**
 * A running MySQL-family server whose row binlog the capture reads. Obtained from `startMysqlServer()` (or one of
 * the three sources directly); `stop()` / `await using` releases it (a private server or container is shut down, a
 * server given by URL is only disconnected from).
 */
export interface StartedMysqlServer extends AsyncDisposable {
  readonly source: ServerSource
  readonly flavor: ServerFlavor
  /** `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1`. */
  readonly version: string
  readonly host: string
  readonly port: number
  /** The account the simulator itself uses (capture, base image, restore with `sql_log_bin=0`). */
  readonly admin: Credentials
  /** The account applications and the lab use (`$DBUSER`/`$DBPASS`). */
  readonly app: Credentials
  /** The server's `server_id`; a capture registers with a different one. */
  readonly serverId: number
  /** Data directory of a private server. */
  readonly dataDir?: string
  /** Process id of a private server. */
  readonly pid?: number
  /** Unix socket of a private server (for `mysql -S`). */
  readonly socketPath?: string
  /** True when a private server left running by an earlier process was taken over instead of started. */
  readonly adopted?: boolean
  connectionOptions(account: 'admin' | 'app', database?: string): ServerConnectionOptions
  /** Removes binlog files older than `file` (the capture calls it for files it no longer needs). */
  purgeBinaryLogsBefore(file: string): Promise<void>
  stop(): Promise<void>
}
