import type { DBCluster as RdsDBCluster } from '@aws-sdk/client-rds'
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { BacktrackError } from '@backtrack/core'
import { mapSdkError } from './map-sdk-error.js'

export interface SqlCredentials {
  user: string
  password: string
}

/**
 * Who to connect as: the configured credentials, else DBUSER/DBPASS (the lab's variables; DBUSER defaults to the
 * master user), else the RDS-managed master password in Secrets Manager (`MasterUserSecret`).
 */
export async function resolveSqlCredentials(
  cluster: RdsDBCluster,
  configured: SqlCredentials | undefined,
  secrets: () => SecretsManagerClient,
): Promise<SqlCredentials> {
  if (configured !== undefined) return configured
  const password = process.env['DBPASS']
  if (password !== undefined) return { user: process.env['DBUSER'] ?? cluster.MasterUsername ?? '', password }

  const secretArn = cluster.MasterUserSecret?.SecretArn
  if (secretArn === undefined) {
    throw new BacktrackError(
      'MissingParameter',
      `No SQL credentials for cluster ${cluster.DBClusterIdentifier ?? ''}: pass sql { user, password }, set ` +
        'DBUSER/DBPASS, or let RDS manage the master password (--manage-master-user-password).',
    )
  }
  let secretString: string | undefined
  try {
    secretString = (await secrets().send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString
  } catch (error) {
    throw mapSdkError(error)
  }
  let parsed: { username?: unknown; password?: unknown }
  try {
    parsed = JSON.parse(secretString ?? '') as typeof parsed
  } catch (error) {
    throw new BacktrackError('InternalFailure', `The master user secret ${secretArn} is not JSON.`, { cause: error })
  }
  if (typeof parsed.password !== 'string') {
    throw new BacktrackError('InternalFailure', `The master user secret ${secretArn} has no password field.`)
  }
  const user = typeof parsed.username === 'string' ? parsed.username : (cluster.MasterUsername ?? '')
  return { user, password: parsed.password }
}
