import { BacktrackError } from '@backtrack/core'
import type { Connection, RowDataPacket } from 'mysql2/promise'

import { BINLOG_FLAGS, BINLOG_SETTINGS } from './binlog-settings.js'
import { hasAnyPrivilege, globalPrivileges } from './grants.js'
import { MysqlServerHandle, SILENT_LOGGER, withConnection } from './mysql-server-handle.js'
import type {
  Credentials,
  ServerConnectionOptions,
  ServerFlavor,
  ServerLogger,
  StartedMysqlServer,
} from './mysql-server.js'

/** Options of {@link connectExistingServer}. */
export interface UrlServerOptions {
  /** Application account (`$DBUSER`). Default: the URL's user. */
  appUser?: string
  /** Password of `appUser`. Default: the URL's password when `appUser` is the URL's user, else empty. */
  appPassword?: string
  logger?: ServerLogger
}

/** What validation learnt about a server. */
export interface ValidatedServer {
  flavor: ServerFlavor
  version: string
  serverId: number
}

interface PrivilegeRequirement {
  anyOf: string[]
  name: (flavor: ServerFlavor) => string
  why: string
}

const REQUIREMENTS: PrivilegeRequirement[] = [
  {
    anyOf: ['REPLICATION SLAVE', 'REPLICATION REPLICA'],
    name: () => 'REPLICATION SLAVE',
    why: 'to read the binlog as a replica',
  },
  {
    anyOf: ['REPLICATION CLIENT', 'BINLOG MONITOR'],
    name: (flavor) => (flavor === 'mariadb' ? 'BINLOG MONITOR' : 'REPLICATION CLIENT'),
    why: 'to list the binlog files',
  },
  ...['SELECT', 'CREATE', 'DROP', 'INSERT', 'UPDATE', 'DELETE', 'ALTER'].map((privilege) => ({
    anyOf: [privilege],
    name: () => privilege,
    why: privilege === 'SELECT' ? 'to read the base image' : 'to restore data during a backtrack',
  })),
]

/** Parses `mysql://user:password@host:port/` (also `mariadb://`); the port defaults to 3306. */
export function parseServerUrl(url: string): ServerConnectionOptions {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw configFault(`not a server URL: ${redact(url)} (expected mysql://user:password@host:port/)`, error)
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw configFault(
      `unsupported URL scheme ${parsed.protocol} in ${redact(url)}: use mysql://user:password@host:port/`,
    )
  }
  if (!parsed.username)
    throw configFault(`the server URL ${redact(url)} names no user: use mysql://user:password@host:port/`)
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    ...(database ? { database } : {}),
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
}

function configFault(message: string, cause?: unknown): BacktrackError {
  return new BacktrackError('ServerConfigurationFault', message, cause === undefined ? undefined : { cause })
}

async function variables(conn: Connection): Promise<Map<string, string>> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SHOW GLOBAL VARIABLES WHERE Variable_name IN ' +
      "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'server_id', 'version')",
  )
  return new Map(rows.map((row) => [String(row.Variable_name).toLowerCase(), String(row.Value)]))
}

function setOrRestart(variable: string, value: string): string {
  return (
    `set ${variable}=${value} in the server's configuration (--${variable.replaceAll('_', '-')}=${value}), ` +
    `or SET GLOBAL ${variable}='${value}' until the next restart`
  )
}

/**
 * Checks, without changing anything, that the server behind `conn` can back a simulated cluster: row binlog with
 * full images and metadata, a non-zero server_id, and the privileges capture and restore need. Throws one
 * `ServerConfigurationFault` listing every failed check, each naming the setting and how to change it.
 */
export async function validateServer(conn: Connection, where: string): Promise<ValidatedServer> {
  const vars = await variables(conn)
  const version = vars.get('version') ?? 'unknown version'
  const flavor: ServerFlavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql'
  const serverId = Number(vars.get('server_id') ?? 0)
  const failures: string[] = []

  const logBin = vars.get('log_bin') ?? 'OFF'
  if (logBin.toUpperCase() !== 'ON' && logBin !== '1') {
    failures.push(
      `log_bin is ${logBin} on ${where}: start the server with --log-bin (it cannot be turned on while the server ` +
        `runs), together with ${BINLOG_FLAGS.join(' ')} --server-id=<non-zero>`,
    )
  }
  for (const [variable, wanted] of Object.entries(BINLOG_SETTINGS)) {
    const value = vars.get(variable)
    if (value === undefined) {
      failures.push(
        `${variable} does not exist on ${where} (${version}): the capture needs MariaDB 10.5+ or MySQL 8.0.1+`,
      )
    } else if (value.toUpperCase() !== wanted) {
      failures.push(`${variable} is ${value} on ${where}: ${setOrRestart(variable, wanted)}`)
    }
  }
  if (!(serverId > 0)) {
    failures.push(
      `server_id is ${serverId} on ${where}: start the server with --server-id=<n> (non-zero, and unique among ` +
        'the servers and replicas it talks to)',
    )
  }

  const [[who]] = await conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS user')
  const account = String(who?.user ?? '?')
  const grantee = account.replace(/^(.*)@([^@]*)$/, "'$1'@'$2'")
  const [grantRows] = await conn.query<RowDataPacket[]>('SHOW GRANTS')
  const privileges = globalPrivileges(grantRows.map((row) => String(Object.values(row)[0])))
  const missing = REQUIREMENTS.filter((requirement) => !hasAnyPrivilege(privileges, requirement.anyOf))
  for (const requirement of missing) {
    failures.push(
      `privilege ${requirement.name(flavor)} is missing for ${account} on ${where} (needed ${requirement.why}): ` +
        `GRANT ${requirement.name(flavor)} ON *.* TO ${grantee}`,
    )
  }
  // Restores run with sql_log_bin=0 (so they are not captured as new history); trying it, on this session only,
  // is the one check that sees privileges through roles as well.
  try {
    await conn.query('SET SESSION sql_log_bin = 0')
    await conn.query('SET SESSION sql_log_bin = 1')
  } catch (error) {
    const privilege = flavor === 'mariadb' ? 'BINLOG ADMIN' : 'SYSTEM_VARIABLES_ADMIN'
    failures.push(
      `${account} cannot SET sql_log_bin=0 on ${where} (${(error as Error).message}), which restoring needs: ` +
        `GRANT ${privilege} ON *.* TO ${grantee}`,
    )
  }

  if (failures.length > 0) {
    throw configFault(
      `the server at ${where} cannot back a simulated cluster (${failures.length} problem` +
        `${failures.length === 1 ? '' : 's'}):\n- ${failures.join('\n- ')}`,
    )
  }
  return { flavor, version, serverId }
}

/**
 * Uses an existing server given as `mysql://user:password@host:port/`, after checking, without changing anything,
 * that it has the row binlog and the privileges capture and restore need. The URL's account is the simulator's
 * admin account; `stop()` only disconnects.
 *
 * @example
 * await using server = await connectExistingServer('mysql://backtrack:secret@127.0.0.1:3306/')
 */
export async function connectExistingServer(url: string, options: UrlServerOptions = {}): Promise<StartedMysqlServer> {
  const logger = options.logger ?? SILENT_LOGGER
  const { database: _database, ...target } = parseServerUrl(url)
  const where = `${target.host}:${target.port}`
  const admin: Credentials = { user: target.user, password: target.password }
  const app: Credentials = {
    user: options.appUser ?? admin.user,
    password:
      options.appPassword ?? (options.appUser === undefined || options.appUser === admin.user ? admin.password : ''),
  }

  let validated: ValidatedServer
  try {
    validated = await withConnection(target, (conn) => validateServer(conn, where))
  } catch (error) {
    if (BacktrackError.is(error)) throw error
    throw configFault(`cannot use the server at ${where} as ${admin.user}: ${(error as Error).message}`, error)
  }
  if (app.user !== admin.user || app.password !== admin.password) {
    try {
      await withConnection({ ...target, ...app }, (conn) => conn.query('SELECT 1'))
    } catch (error) {
      throw configFault(
        `the application account ${app.user} cannot log in on ${where}: ${(error as Error).message}`,
        error,
      )
    }
  }
  logger.info(`using the server at ${where} (${validated.version}) as ${admin.user}; binlog settings validated`)
  return new MysqlServerHandle(
    { source: 'url', ...validated, host: target.host, port: target.port, admin, app },
    async () => {},
  )
}
