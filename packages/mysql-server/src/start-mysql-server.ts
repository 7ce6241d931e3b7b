import { BacktrackError } from '@backtrack/core'

import { isDockerReachable, startContainerServer } from './container-server.js'
import { SILENT_LOGGER } from './mysql-server-handle.js'
import type { ServerLogger, StartedMysqlServer } from './mysql-server.js'
import { startPrivateServer } from './private-server.js'
import { INSTALL_HINT } from './server-binaries.js'
import { connectExistingServer } from './url-server.js'

/** Options of {@link startMysqlServer}. */
export interface StartMysqlServerOptions {
  /** Default `auto`: `url` when a URL is given, else `container` when Docker answers, else `private`. */
  source?: 'auto' | 'url' | 'container' | 'private'
  /** `mysql://user:password@host:port/` of an existing server. */
  url?: string
  /** Data directory of a private server. */
  dataDir?: string
  /** Port of a private server. */
  port?: number
  /** Application account (`$DBUSER`). */
  appUser?: string
  /** Application password (`$DBPASS`). */
  appPassword?: string
  logger?: ServerLogger
}

/**
 * Provides the MySQL-family server underneath a simulated cluster, from the source asked for or, by default, the
 * first that works: an explicit URL, a MySQL 8.0 container when a Docker engine answers, a private server from local
 * binaries. Logs which source was chosen and why.
 *
 * @example
 * await using server = await startMysqlServer({ logger: console })
 */
export async function startMysqlServer(options: StartMysqlServerOptions = {}): Promise<StartedMysqlServer> {
  const logger = options.logger ?? SILENT_LOGGER
  const source = options.source ?? 'auto'
  const app = {
    ...(options.appUser === undefined ? {} : { appUser: options.appUser }),
    ...(options.appPassword === undefined ? {} : { appPassword: options.appPassword }),
  }
  const startPrivate = () =>
    startPrivateServer({
      ...app,
      logger,
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      ...(options.port === undefined ? {} : { port: options.port }),
    })

  if (source === 'url' || (source === 'auto' && options.url !== undefined)) {
    if (options.url === undefined) {
      throw new BacktrackError('InvalidParameterCombination', 'the url source needs a server URL')
    }
    logger.info('server source: url (a server URL was given)')
    return connectExistingServer(options.url, { ...app, logger })
  }
  if (source === 'container') {
    logger.info('server source: container (asked for)')
    return startContainerServer({ ...app, logger })
  }
  if (source === 'private') {
    logger.info('server source: private (asked for)')
    return startPrivate()
  }

  const docker = await isDockerReachable()
  let containerFailure: string | undefined
  if (docker.reachable) {
    logger.info(`server source: container (${docker.reason})`)
    try {
      return await startContainerServer({ ...app, logger })
    } catch (error) {
      containerFailure = (error as Error).message
      logger.warn(`the container did not start (${containerFailure}); falling back to a private server`)
    }
  } else {
    logger.info(`server source: private (${docker.reason})`)
  }
  try {
    return await startPrivate()
  } catch (error) {
    if (!BacktrackError.is(error, 'ServerStartFault')) throw error
    const why = containerFailure ? `a container did not start (${containerFailure})` : docker.reason
    throw new BacktrackError(
      'ServerStartFault',
      `no MySQL-family server could be started: ${error.message}. Docker: ${why}.` +
        (error.message.includes(INSTALL_HINT) ? '' : ` To fix: ${INSTALL_HINT}`),
      { cause: error },
    )
  }
}
