import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** The state file of a local cluster, `<dataDir>/cluster.json`. */
export const CLUSTER_STATE_FILE = 'cluster.json'

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
  dataDir: string
  startedAt: string
}

export function readClusterState(dataDir: string): LocalClusterState | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, CLUSTER_STATE_FILE), 'utf8')) as LocalClusterState
  } catch {
    return undefined
  }
}

export function writeClusterState(dataDir: string, state: LocalClusterState): void {
  const file = join(dataDir, CLUSTER_STATE_FILE)
  const tmp = `${file}.${process.pid}.tmp`
  // Holds the SQL password: readable by its owner only.
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, file)
}

/** True when `pid` is a live process (not a zombie). */
export function isProcessAlive(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}

/** The cluster recorded in `dataDir` when its process is still alive; a state file left by a dead process is stale. */
export function runningClusterState(dataDir: string): LocalClusterState | undefined {
  const state = readClusterState(dataDir)
  if (state === undefined || state.status === 'stopped') return undefined
  return isProcessAlive(state.pid) ? state : undefined
}

/** Waits until `pid` exits; false on timeout. */
export async function waitForProcessExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false
    await sleep(50)
  }
  return true
}

/**
 * Stops a private server left running on `serverDataDir` by a process that died (kill -9): SIGTERM (a clean
 * shutdown), SIGKILL after `timeoutMs`. Only a `mariadbd`/`mysqld` started on that data dir is signalled.
 */
export async function stopOrphanServer(serverDataDir: string, timeoutMs = 30_000): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(join(serverDataDir, 'mysqld.pid'), 'utf8').catch(() => ''), 10)
  if (!isProcessAlive(pid)) return undefined
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  if (!/(mariadbd|mysqld)/.test(command) || !command.includes(`--datadir=${serverDataDir}`)) return undefined
  process.kill(pid, 'SIGTERM')
  if (!(await waitForProcessExit(pid, timeoutMs))) {
    process.kill(pid, 'SIGKILL')
    await waitForProcessExit(pid, 10_000)
  }
  return pid
}
