import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes, randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, open, readdir, readFile, realpath, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'

import { BacktrackError } from '@backtrack/core'
import { createConnection, type RowDataPacket } from 'mysql2/promise'

import {
  ADMIN_USER,
  DEFAULT_APP_USER,
  dropAnonymousUsers,
  generatePassword,
  isReservedUser,
  provisionAccounts,
} from './accounts.js'
import { captureServerArgs } from './binlog-settings.js'
import { findServerLeftRunning, isProcessAlive, PID_FILE, waitForProcessExit } from './processes.js'
import { MysqlServerHandle, SILENT_LOGGER, withConnection } from './mysql-server-handle.js'
import type { Credentials, ServerLogger, StartedMysqlServer } from './mysql-server.js'
import { compareVersions, findServerBinaries, INSTALL_HINT, type ServerBinaries } from './server-binaries.js'

const execFileAsync = promisify(execFile)

/** Options of {@link startPrivateServer}. */
export interface PrivateServerOptions {
  /** Data directory; initialised on first use and reused afterwards. Default `.backtrack/mysql` (cwd). */
  dataDir?: string
  /**
   * Address the server listens on (`--bind-address`). Default `127.0.0.1`. A cluster's SQL endpoint is the server
   * itself, so `127.0.0.2` with port 3306 serves the lab's `--mysql-port=3306` beside a system server on 127.0.0.1.
   */
  host?: string
  /** TCP port on `host`. Default: the port of the previous start when free, else any free port. */
  port?: number
  /** Application account (`$DBUSER`). Default `admin`, like Aurora's master user. */
  appUser?: string
  /** Application password (`$DBPASS`). Default: generated on first start and kept in the data directory. */
  appPassword?: string
  /** The server's `server_id`. Default: chosen at random on first start and kept. */
  serverId?: number
  /** Path of `mariadbd`/`mysqld`. Default `$BACKTRACK_MYSQLD`, else searched on PATH. */
  binary?: string
  /** Start the server in its own process group, so it outlives the caller (a CLI's `up`) and Ctrl-C. */
  detached?: boolean
  /** How long to wait for the server to accept connections. Default 60 s (crash recovery can be slow). */
  startTimeoutMs?: number
  logger?: ServerLogger
}

/** Kept in the data directory: what a restart (or another process adopting the server) needs. */
interface ServerState {
  serverId: number
  admin: Credentials
  app: Credentials
  /** False until the accounts exist: an interrupted first start provisions again. */
  provisioned: boolean
  /** Bind address of the last start (absent: 127.0.0.1, as before it was kept). */
  host?: string
  port?: number
  pid?: number
}

const STATE_FILE = 'backtrack-server.json'
const ERROR_LOG = 'mysqld.err'
/** sun_path is 104–108 bytes depending on the OS. */
const MAX_SOCKET_PATH = 100
const SHUTDOWN_TIMEOUT_MS = 30_000
const POLL_MS = 50

function startFault(message: string, cause?: unknown): BacktrackError {
  return new BacktrackError('ServerStartFault', message, cause === undefined ? undefined : { cause })
}

function portTaken(host: string, port: number): BacktrackError {
  return startFault(`port ${port} on ${host} is already in use: choose another port or leave it unset`)
}

/** Where the simulator connects to a server listening on `host` (a wildcard address through the loopback one). */
function connectAddress(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host
}

/**
 * Hosts the accounts are created for. Loopback clients connect from 127.0.0.1 (also to 127.0.0.2: Linux picks the
 * loopback's first address); a server listening beyond the loopback also takes the application account from anywhere,
 * like an Aurora master user.
 */
function accountHosts(host: string): string[] {
  const loopback = /^127\./.test(host) || host === '::1' || host === 'localhost'
  return loopback ? ['localhost', '127.0.0.1'] : ['localhost', '127.0.0.1', '%']
}

function socketPathFor(dataDir: string): string {
  const inDataDir = join(dataDir, 'mysqld.sock')
  if (Buffer.byteLength(inDataDir) <= MAX_SOCKET_PATH) return inDataDir
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16)
  return join(tmpdir(), `backtrack-${hash}.sock`)
}

async function readState(dataDir: string): Promise<ServerState | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8')) as ServerState
  } catch {
    return undefined
  }
}

async function writeState(dataDir: string, state: ServerState): Promise<void> {
  const file = join(dataDir, STATE_FILE)
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, file)
}

/** What a crash (kill -9) leaves behind and would stop the next start: the socket's lock names a dead or reused pid. */
async function removeStaleFiles(dataDir: string, socketPath: string): Promise<string[]> {
  const stale = [join(dataDir, PID_FILE), socketPath, `${socketPath}.lock`].filter((file) => existsSync(file))
  await Promise.all(stale.map((file) => rm(file, { force: true })))
  return stale
}

function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer()
    server.once('error', () => resolvePort(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolvePort(true)))
  })
}

function anyFreePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error())))
    })
  })
}

async function initializeDataDir(
  dataDir: string,
  binaries: ServerBinaries,
  state: ServerState,
  logger: ServerLogger,
): Promise<void> {
  if (existsSync(dataDir) && (await readdir(dataDir)).length > 0) {
    throw startFault(
      `${dataDir} is not empty and is not a server data directory (it has no mysql/ system schema): ` +
        'choose a new or empty directory',
    )
  }
  await mkdir(dirname(dataDir), { recursive: true })
  // Initialise beside the target and rename it into place, so a crash never leaves a half-initialised data dir.
  const tmp = `${dataDir}.init-${process.pid}-${randomBytes(4).toString('hex')}`
  const userArgs = process.getuid?.() === 0 ? ['--user=root'] : []
  const [command, args] =
    binaries.flavor === 'mariadb'
      ? [
          binaries.installDb ?? 'mariadb-install-db',
          [
            '--no-defaults',
            `--datadir=${tmp}`,
            '--auth-root-authentication-method=normal',
            '--skip-test-db',
            ...userArgs,
          ],
        ]
      : [binaries.server, ['--no-defaults', '--initialize-insecure', `--datadir=${tmp}`, ...userArgs]]
  const started = Date.now()
  try {
    // Parallel installs sharing /tmp collide on the bootstrap's temporary table files: give each its own.
    await mkdir(`${tmp}.tmp`, { recursive: true })
    await execFileAsync(command, args, {
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, TMPDIR: `${tmp}.tmp` },
    }).finally(() => rm(`${tmp}.tmp`, { recursive: true, force: true }))
    await writeState(tmp, state)
    if (existsSync(dataDir)) await rmdir(dataDir)
    await rename(tmp, dataDir)
  } catch (error) {
    await rm(tmp, { recursive: true, force: true })
    const stderr = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-10).join('\n')
    throw startFault(`initialising ${dataDir} with ${command} failed${stderr ? `:\n${stderr}` : ''}`, error)
  }
  logger.info(`initialised ${dataDir} with ${command} in ${Date.now() - started} ms`)
}

function serverArgs(
  binaries: ServerBinaries,
  dataDir: string,
  socketPath: string,
  listen: { host: string; port: number },
  serverId: number,
) {
  const args = [
    '--no-defaults',
    `--datadir=${dataDir}`,
    `--socket=${socketPath}`,
    `--port=${listen.port}`,
    `--bind-address=${listen.host}`,
    // TCP logins then match '...'@'127.0.0.1' without a reverse DNS lookup on every connect.
    '--skip-name-resolve',
    `--pid-file=${join(dataDir, PID_FILE)}`,
    `--log-error=${join(dataDir, ERROR_LOG)}`,
    ...captureServerArgs(join(dataDir, 'binlog'), serverId),
    // Its own temporary directory (beside the data dir: a folder inside it would show up as a database).
    `--tmpdir=${dataDir}.tmp`,
  ]
  if (process.getuid?.() === 0) args.push('--user=root')
  if (binaries.flavor === 'mysql') {
    // X Protocol would bind port 33060 and /tmp/mysqlx.sock: a second server side by side would fail.
    args.push('--mysqlx=OFF', '--secure-file-priv=')
    args.push(
      compareVersions(binaries.version, '8.4.0') >= 0
        ? '--mysql-native-password=ON'
        : '--default-authentication-plugin=mysql_native_password',
    )
  }
  return args
}

async function errorLogSince(dataDir: string, offset: number): Promise<string> {
  try {
    const handle = await open(join(dataDir, ERROR_LOG), 'r')
    try {
      const { size } = await handle.stat()
      const length = Math.min(size - offset, 64 * 1024)
      if (length <= 0) return ''
      const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length)
      return buffer.toString('utf8')
    } finally {
      await handle.close()
    }
  } catch {
    return ''
  }
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join('\n')
}

interface Ready {
  version: string
}

/**
 * Polls a TCP connect + `SELECT 1`. Before the accounts exist there is no password to log in with, so an "access
 * denied" answer already proves the server accepts connections.
 */
async function waitUntilReady(
  address: string,
  port: number,
  credentials: Credentials | undefined,
  deadline: number,
  exited: () => string | undefined,
): Promise<Ready | undefined> {
  for (;;) {
    const exit = exited()
    if (exit !== undefined) throw new Error(exit)
    try {
      const conn = await createConnection({
        host: address,
        port,
        user: credentials?.user ?? 'root',
        password: credentials?.password ?? '',
        connectTimeout: 2_000,
      })
      try {
        const [rows] = await conn.query<RowDataPacket[]>('SELECT 1, VERSION() AS version')
        return { version: String(rows[0]?.version) }
      } finally {
        conn.destroy()
      }
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_HOST_NOT_PRIVILEGED') {
        if (credentials === undefined) return undefined
        throw startFault(
          `the server on port ${port} refuses the simulator's account ${credentials.user} (${STATE_FILE} does not ` +
            'match the data directory): restore that file or start with a new data directory',
          error,
        )
      }
    }
    if (Date.now() > deadline) throw new Error(`no answer on ${address}:${port} before the start timeout`)
    await sleep(POLL_MS)
  }
}

/** First start: drop anonymous users, create the accounts, and give root the admin password. */
async function provision(
  binaries: ServerBinaries,
  socketPath: string,
  state: ServerState,
  logger: ServerLogger,
): Promise<void> {
  let lastError: unknown
  // Root has no password until an earlier provisioning got as far as setting it.
  for (const password of ['', state.admin.password]) {
    let conn
    try {
      conn = await createConnection({ socketPath, user: 'root', password, connectTimeout: 5_000 })
    } catch (error) {
      lastError = error
      continue
    }
    try {
      // Account setup is not part of the cluster's history.
      await conn.query('SET SESSION sql_log_bin = 0')
      await dropAnonymousUsers(conn)
      await provisionAccounts(conn, binaries.flavor, {
        admin: state.admin,
        app: state.app,
        hosts: accountHosts(state.host ?? '127.0.0.1'),
      })
      const [roots] = await conn.query<RowDataPacket[]>(
        "SELECT Host AS host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'",
      )
      for (const row of roots) await conn.query("DROP USER 'root'@?", [row.host as string])
      await conn.query("ALTER USER 'root'@'localhost' IDENTIFIED BY ?", [state.admin.password])
      logger.info(`created accounts ${state.admin.user} (simulator) and ${state.app.user} (application)`)
      return
    } finally {
      await conn.end().catch(() => conn.destroy())
    }
  }
  throw startFault(`cannot log in as root over ${socketPath} to create the accounts`, lastError)
}

async function shutdownServer(
  pid: number,
  connection: { address: string; port: number; admin: Credentials },
  logger: ServerLogger,
): Promise<void> {
  if (!isProcessAlive(pid)) return
  const began = Date.now()
  try {
    await withConnection(
      {
        host: connection.address,
        port: connection.port,
        user: connection.admin.user,
        password: connection.admin.password,
      },
      (conn) => conn.query('SHUTDOWN'),
    )
  } catch (error) {
    // The server may drop the connection before answering SHUTDOWN; a signal does the same clean shutdown.
    if (isProcessAlive(pid)) {
      logger.warn(`SHUTDOWN failed (${(error as Error).message}); sending SIGTERM to ${pid}`)
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        // already gone
      }
    }
  }
  if (await waitForProcessExit(pid, SHUTDOWN_TIMEOUT_MS)) {
    logger.info(`stopped the server (pid ${pid}) in ${Date.now() - began} ms`)
    return
  }
  logger.warn(`server ${pid} did not stop within ${SHUTDOWN_TIMEOUT_MS} ms; killing it`)
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
  await waitForProcessExit(pid, 10_000)
}

async function sameDir(a: string, b: string): Promise<boolean> {
  const [ra, rb] = await Promise.all([realpath(a).catch(() => a), realpath(b).catch(() => b)])
  return ra.replace(/\/+$/, '') === rb.replace(/\/+$/, '')
}

/** Takes over a server an earlier process left running on this data dir, or returns undefined once it has exited. */
async function adopt(
  pid: number,
  dataDir: string,
  state: ServerState | undefined,
  binaries: ServerBinaries,
  socketPath: string,
  deadline: number,
  logger: ServerLogger,
): Promise<StartedMysqlServer | undefined> {
  if (!state?.provisioned || state.port === undefined) {
    throw startFault(
      `a server (pid ${pid}) is still running on ${dataDir} but was never fully started; ` +
        `stop it (kill ${pid}) and start again`,
    )
  }
  const { admin, port } = state
  const address = connectAddress(state.host ?? '127.0.0.1')
  for (;;) {
    if (!isProcessAlive(pid)) return undefined
    try {
      const [row] = await withConnection(
        { host: address, port, user: admin.user, password: admin.password, connectTimeout: 2_000 },
        async (conn) => (await conn.query<RowDataPacket[]>('SELECT @@datadir AS datadir, VERSION() AS version'))[0],
      )
      if (row && (await sameDir(String(row.datadir), dataDir))) {
        logger.info(`adopted the server already running on ${dataDir} (pid ${pid}, ${address}:${port})`)
        return privateHandle(
          binaries,
          String(row.version),
          { dataDir, socketPath, address, port, pid, state, adopted: true },
          logger,
        )
      }
    } catch {
      // starting up or shutting down: look again
    }
    if (Date.now() > deadline) {
      throw startFault(
        `a server (pid ${pid}) is running on ${dataDir} but does not answer on ${address}:${port}; ` +
          `stop it (kill ${pid}) and start again`,
      )
    }
    await sleep(POLL_MS)
  }
}

function newState(options: PrivateServerOptions): ServerState {
  return {
    serverId: options.serverId ?? randomInt(2, 2 ** 31),
    admin: { user: ADMIN_USER, password: generatePassword() },
    app: { user: options.appUser ?? DEFAULT_APP_USER, password: options.appPassword ?? generatePassword() },
    provisioned: false,
  }
}

/**
 * Starts a private server from local `mariadbd`/`mysqld` binaries in its own data directory (initialised on first
 * use, reused afterwards) on its own port (of 127.0.0.1 unless `host` says otherwise), with the row binlog the capture needs. A server an earlier
 * process left running on the same data directory is adopted; files left by a crash are cleaned up.
 *
 * @example
 * await using server = await startPrivateServer({ dataDir: '.backtrack/mysql' })
 * const conn = await createConnection(server.connectionOptions('app'))
 */
export async function startPrivateServer(options: PrivateServerOptions = {}): Promise<StartedMysqlServer> {
  const logger = options.logger ?? SILENT_LOGGER
  const dataDir = resolve(options.dataDir ?? join('.backtrack', 'mysql'))
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000)
  if (options.appUser !== undefined && isReservedUser(options.appUser)) {
    throw new BacktrackError('InvalidParameterValue', `the application user cannot be "${options.appUser}"`)
  }

  const found = await findServerBinaries(options.binary)
  if ('rejected' in found) {
    throw startFault(`no usable MySQL-family server binaries (${found.rejected.join('; ')}): ${INSTALL_HINT}`)
  }
  const binaries = found
  const socketPath = socketPathFor(dataDir)
  const host = options.host ?? '127.0.0.1'
  const address = connectAddress(host)

  if (!existsSync(join(dataDir, 'mysql'))) {
    // Fail before the slow initialisation; later starts check the port when they spawn (after a chance to adopt).
    if (options.port !== undefined && !(await isPortFree(host, options.port))) throw portTaken(host, options.port)
    logger.info(`initialising a new data directory ${dataDir} (${binaries.flavor} ${binaries.version})`)
    await initializeDataDir(dataDir, binaries, { ...newState(options), host }, logger)
  }
  let state = await readState(dataDir)

  const running = await findServerLeftRunning(dataDir, state?.pid)
  if (running !== undefined) {
    const adopted = await adopt(running, dataDir, state, binaries, socketPath, deadline, logger)
    if (adopted && options.port !== undefined && adopted.port !== options.port) {
      logger.warn(`the adopted server listens on port ${adopted.port}, not ${options.port}; restart it to move it`)
    }
    if (adopted && options.host !== undefined && adopted.host !== address) {
      logger.warn(`the adopted server listens on ${adopted.host}, not ${options.host}; restart it to move it`)
    }
    if (adopted) return adopted
  }
  const stale = await removeStaleFiles(dataDir, socketPath)
  if (stale.length > 0) logger.warn(`removed files left by a server that is no longer running: ${stale.join(', ')}`)

  if (!state) {
    throw startFault(
      `${join(dataDir, STATE_FILE)} is missing or unreadable, so the accounts of this data directory are ` +
        'unknown: restore it or start with a new data directory',
    )
  }
  const wantedApp = {
    user: options.appUser ?? state.app.user,
    password: options.appPassword ?? state.app.password,
  }
  const appChanged =
    wantedApp.user !== state.app.user ||
    wantedApp.password !== state.app.password ||
    accountHosts(state.host ?? '127.0.0.1').join() !== accountHosts(host).join()
  state = { ...state, app: wantedApp, serverId: options.serverId ?? state.serverId, host }

  for (let attempt = 1; ; attempt++) {
    let port = options.port
    if (port === undefined) {
      port = state.port !== undefined && (await isPortFree(host, state.port)) ? state.port : await anyFreePort(host)
    } else if (!(await isPortFree(host, port))) {
      throw portTaken(host, port)
    }
    const started = Date.now()
    const logOffset = await stat(join(dataDir, ERROR_LOG)).then(
      (s) => s.size,
      () => 0,
    )
    await mkdir(`${dataDir}.tmp`, { recursive: true })
    const child = spawn(binaries.server, serverArgs(binaries, dataDir, socketPath, { host, port }, state.serverId), {
      stdio: 'ignore',
      detached: options.detached ?? false,
    })
    let exit: string | undefined
    child.once('error', (error) => (exit = `could not run ${binaries.server}: ${error.message}`))
    child.once('exit', (code, signal) => (exit = `${binaries.server} exited (${signal ?? `code ${code}`})`))
    // The server is not tied to the caller's event loop: a CLI may exit and leave it for the next start to adopt.
    child.unref()

    let ready: Ready | undefined
    try {
      ready = await waitUntilReady(address, port, state.provisioned ? state.admin : undefined, deadline, () => exit)
    } catch (error) {
      await killChild(child)
      const log = await errorLogSince(dataDir, logOffset)
      const portTaken = /Address already in use|Bind on TCP\/IP port/i.test(log)
      if (portTaken && options.port === undefined && attempt < 3) {
        logger.warn(`port ${port} was taken before the server could bind it; trying another`)
        state = { ...state, port: undefined }
        continue
      }
      if (BacktrackError.is(error)) throw error
      throw startFault(
        `${binaries.server} did not start on ${dataDir} (${(error as Error).message})` +
          (log ? `; its error log (${join(dataDir, ERROR_LOG)}) ends with:\n${lastLines(log, 15)}` : ''),
        error,
      )
    }

    const pid = child.pid as number
    try {
      if (!state.provisioned) {
        await provision(binaries, socketPath, state, logger)
        state = { ...state, provisioned: true }
      } else if (appChanged) {
        const accounts = { admin: state.admin, app: state.app, hosts: accountHosts(host) }
        await withConnection({ host: address, port, ...state.admin }, async (conn) => {
          await conn.query('SET SESSION sql_log_bin = 0')
          await provisionAccounts(conn, binaries.flavor, accounts)
        })
        logger.info(`updated application account ${state.app.user}`)
      }
      const version =
        ready?.version ??
        (await withConnection({ host: address, port, ...state.admin }, async (conn) => {
          const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS version')
          return String(rows[0]?.version)
        }))
      state = { ...state, port, pid }
      await writeState(dataDir, state)
      logger.info(
        `private ${binaries.flavor} server ready on ${host}:${port} (pid ${pid}) in ${Date.now() - started} ms`,
      )
      return privateHandle(
        binaries,
        version,
        { dataDir, socketPath, address, port, pid, state, adopted: false },
        logger,
      )
    } catch (error) {
      await shutdownServer(pid, { address, port, admin: state.admin }, logger).catch(() => killChild(child))
      throw BacktrackError.is(error) ? error : startFault(`setting up the server on ${dataDir} failed`, error)
    }
  }
}

/** The handle of a private server, started or adopted: `stop()` shuts that process down. */
function privateHandle(
  binaries: ServerBinaries,
  version: string,
  run: {
    dataDir: string
    socketPath: string
    address: string
    port: number
    pid: number
    state: ServerState
    adopted: boolean
  },
  logger: ServerLogger,
): MysqlServerHandle {
  const { dataDir, socketPath, address, port, pid, state, adopted } = run
  return new MysqlServerHandle(
    {
      source: 'private',
      flavor: binaries.flavor,
      version,
      host: address,
      port,
      admin: state.admin,
      app: state.app,
      serverId: state.serverId,
      dataDir,
      pid,
      socketPath,
      adopted,
    },
    () => shutdownServer(pid, { address, port, admin: state.admin }, logger),
  )
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGKILL')
  await waitForProcessExit(child.pid, 10_000)
}
