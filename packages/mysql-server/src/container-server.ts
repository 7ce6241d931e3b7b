import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

import { BacktrackError } from '@backtrack/core'
import type { ConnectionOptions } from 'mysql2/promise'

import { captureServerArgs } from './binlog-settings.js'
import { DEFAULT_APP_USER, generatePassword, isReservedUser, provisionAccounts } from './accounts.js'
import { MysqlServerHandle, SILENT_LOGGER, withConnection } from './mysql-server-handle.js'
import type { ServerLogger, StartedMysqlServer } from './mysql-server.js'
import { validateServer } from './url-server.js'

/** Options of {@link startContainerServer}. */
export interface ContainerServerOptions {
  /** Default `mysql:8.0`, what Aurora MySQL 3 is. */
  image?: string
  /** Application account (`$DBUSER`). Default `admin`. */
  appUser?: string
  /** Application password (`$DBPASS`). Default: generated. */
  appPassword?: string
  /** Default 1. */
  serverId?: number
  logger?: ServerLogger
}

/** Where a Docker engine may answer; without any of them there is no point asking testcontainers. */
function dockerHints(): string[] {
  const hints: string[] = []
  if (process.env.DOCKER_HOST) hints.push(`DOCKER_HOST=${process.env.DOCKER_HOST}`)
  const files = [
    '/var/run/docker.sock',
    join(homedir(), '.docker', 'run', 'docker.sock'),
    join(homedir(), '.testcontainers.properties'),
    join(homedir(), '.colima', 'default', 'docker.sock'),
    join(homedir(), '.rd', 'docker.sock'),
    process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'docker.sock') : '',
    process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'podman', 'podman.sock') : '',
  ]
  for (const file of files) if (file && existsSync(file)) hints.push(file)
  return hints
}

/**
 * Whether a Docker engine answers, decided quickly: no socket, `DOCKER_HOST` or testcontainers config means no;
 * otherwise testcontainers' own runtime check, bounded by `timeoutMs`. Returns the reason when it does not.
 */
export async function isDockerReachable(timeoutMs = 3_000): Promise<{ reachable: boolean; reason: string }> {
  const hints = dockerHints()
  if (hints.length === 0) return { reachable: false, reason: 'no Docker socket, DOCKER_HOST or testcontainers config' }
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    const timeout = sleep(timeoutMs, undefined, { ref: false }).then(() => {
      throw new Error(`no answer within ${timeoutMs} ms`)
    })
    const client = await Promise.race([getContainerRuntimeClient(), timeout])
    return { reachable: true, reason: `Docker engine ${client.info.containerRuntime.host} answers` }
  } catch (error) {
    return {
      reachable: false,
      reason: `Docker engine (${hints.join(', ')}) not reachable: ${(error as Error).message}`,
    }
  }
}

/** The image's entrypoint restarts the server after initialising it, so the first open port can still refuse. */
async function waitForLogin(options: ConnectionOptions, deadline: number): Promise<void> {
  for (;;) {
    try {
      await withConnection(options, (conn) => conn.query('SELECT 1'))
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(250)
    }
  }
}

/**
 * Starts a MySQL 8.0 container (through testcontainers) with the row binlog the capture needs. The admin account is
 * root; the application account is created with the lab's privileges. `stop()` removes the container.
 *
 * @example
 * await using server = await startContainerServer({ appUser: 'admin', appPassword: 'secret' })
 */
export async function startContainerServer(options: ContainerServerOptions = {}): Promise<StartedMysqlServer> {
  const logger = options.logger ?? SILENT_LOGGER
  const image = options.image ?? 'mysql:8.0'
  const appUser = options.appUser ?? DEFAULT_APP_USER
  if (isReservedUser(appUser)) {
    throw new BacktrackError('InvalidParameterValue', `the application user cannot be "${appUser}"`)
  }
  const admin = { user: 'root', password: generatePassword() }
  const app = { user: appUser, password: options.appPassword ?? generatePassword() }
  const serverId = options.serverId ?? 1
  const started = Date.now()

  const { MySqlContainer } = await import('@testcontainers/mysql')
  let container
  try {
    container = await new MySqlContainer(image)
      .withRootPassword(admin.password)
      .withUsername(app.user)
      .withUserPassword(app.password)
      .withCommand([
        ...captureServerArgs('binlog', serverId),
        // The binlog client the capture uses speaks mysql_native_password only.
        '--default-authentication-plugin=mysql_native_password',
      ])
      .start()
  } catch (error) {
    throw new BacktrackError('ServerStartFault', `starting a ${image} container failed: ${(error as Error).message}`, {
      cause: error,
    })
  }
  const host = container.getHost()
  const port = container.getPort()
  const where = `${host}:${port}`
  try {
    await waitForLogin({ host, port, ...admin }, Date.now() + 60_000)
    const validated = await withConnection({ host, port, ...admin }, async (conn) => {
      await conn.query('SET SESSION sql_log_bin = 0')
      await provisionAccounts(conn, 'mysql', { admin: { user: 'root', password: admin.password }, app, hosts: ['%'] })
      return validateServer(conn, where)
    })
    logger.info(`${image} container ready on ${where} in ${Date.now() - started} ms`)
    const running = container
    return new MysqlServerHandle({ source: 'container', ...validated, host, port, admin, app }, async () => {
      await running.stop()
    })
  } catch (error) {
    await container.stop().catch(() => {})
    throw BacktrackError.is(error)
      ? error
      : new BacktrackError('ServerStartFault', `setting up the ${image} container failed`, { cause: error })
  }
}
