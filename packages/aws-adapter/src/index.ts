export { createRdsEngine, RdsEngine, type RdsEngineConfig } from './rds-engine.js'
export { connectMysql, type ConnectSql, type SqlConnection } from './server-clock.js'
export type { SqlCredentials } from './sql-credentials.js'
