import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { isProcessAlive } from '@backtrack/mysql-server'
import { DATA_DIR } from './data-dir.js'

/**
 * What a local cluster keeps in `<dataDir>/cluster.json`: how another process (`status`, `mark`, `down`, a second
 * `up`) finds it, and which ports a restart reuses. Written when the cluster is ready and when it stops.
 */
export interface LocalClusterState {
  clusterIdentifier: string
  /** `starting` while it starts, `available` once it serves, `stopped` after a clean stop. */
  status: 'starting' | 'available' | 'stopped'
  /** Process id of the cluster process (the one serving the endpoints). */
  pid: number
  /** Process id of the private server, when there is one. */
  serverPid?: number
  host: string
  sqlPort?: number
  apiPort?: number
  region: string
  database?: string
  backtrackWindow: number
  source: 'private' | 'container' | 'url'
  sql?: { host: string; port: number; user: string; password: string; database?: string }
  rdsEndpoint?: string
  /** The endpoints take SigV4-signed requests only (`--verify-signatures`): the CLI signs its control calls. */
  signedRequests?: boolean
  dataDir: string
  startedAt: string
}

export function readClusterState(dataDir: string): LocalClusterState | undefined {
  try {
    return JSON.parse(readFileSync(DATA_DIR.stateFile(dataDir), 'utf8')) as LocalClusterState
  } catch {
    return undefined
  }
}

export function writeClusterState(dataDir: string, state: LocalClusterState): void {
  const file = DATA_DIR.stateFile(dataDir)
  const tmp = `${file}.${process.pid}.tmp`
  // Holds the SQL password: readable by its owner only.
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, file)
}

/** The cluster recorded in `dataDir` when its process is still alive; a state file left by a dead process is stale. */
export function runningClusterState(dataDir: string): LocalClusterState | undefined {
  const state = readClusterState(dataDir)
  if (state === undefined || state.status === 'stopped') return undefined
  return isProcessAlive(state.pid) ? state : undefined
}
