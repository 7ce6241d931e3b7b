export type {
  Credentials,
  ServerConnectionOptions,
  ServerFlavor,
  ServerLogger,
  ServerSource,
  StartedMysqlServer,
} from './mysql-server.js'
export { startMysqlServer, type StartMysqlServerOptions } from './start-mysql-server.js'
export { startPrivateServer, type PrivateServerOptions } from './private-server.js'
export { connectExistingServer, type UrlServerOptions } from './url-server.js'
export { isDockerReachable, startContainerServer, type ContainerServerOptions } from './container-server.js'
export { findServerBinaries, type ServerBinaries } from './server-binaries.js'
export { SILENT_LOGGER } from './mysql-server-handle.js'
export { isProcessAlive, stopOrphanServer, waitForProcessExit } from './processes.js'
