import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** The pid file a private server writes into its data dir. */
export const PID_FILE = 'mysqld.pid'

/** True when `pid` is a live process: it answers `kill(pid, 0)` and is not a zombie (a zombie answers too). */
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
    return true // not Linux, or gone since: kill(0) said it was there
  }
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

async function commandLineOf(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ')
  } catch {
    // not Linux (or gone): ask ps
  }
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'command=', '-p', String(pid)])
    return stdout.trim()
  } catch {
    return undefined
  }
}

/**
 * The pid of a `mariadbd`/`mysqld` still running on `dataDir` (left by an earlier process), if any: the one its pid
 * file names, or `alsoTry` (a pid recorded elsewhere). A pid reused by another program is not taken for it.
 */
export async function findServerLeftRunning(dataDir: string, alsoTry?: number): Promise<number | undefined> {
  const candidates: number[] = []
  const fromPidFile = Number.parseInt(await readFile(join(dataDir, PID_FILE), 'utf8').catch(() => ''), 10)
  if (Number.isInteger(fromPidFile) && fromPidFile > 0) candidates.push(fromPidFile)
  if (alsoTry !== undefined && !candidates.includes(alsoTry)) candidates.push(alsoTry)
  for (const pid of candidates) {
    if (pid === process.pid || !isProcessAlive(pid)) continue
    const command = await commandLineOf(pid)
    if (command && /(mariadbd|mysqld)/.test(command) && command.includes(`--datadir=${dataDir}`)) return pid
  }
  return undefined
}

/**
 * Stops a private server left running on `dataDir` by a process that died (kill -9): SIGTERM (a clean shutdown),
 * SIGKILL after `timeoutMs`. Resolves with its pid, or undefined when none was running there.
 */
export async function stopOrphanServer(dataDir: string, timeoutMs = 30_000): Promise<number | undefined> {
  const pid = await findServerLeftRunning(dataDir)
  if (pid === undefined) return undefined
  process.kill(pid, 'SIGTERM')
  if (!(await waitForProcessExit(pid, timeoutMs))) {
    process.kill(pid, 'SIGKILL')
    await waitForProcessExit(pid, 10_000)
  }
  return pid
}
