import { execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'
import { promisify } from 'node:util'

import type { ServerFlavor } from './mysql-server.js'

const execFileAsync = promisify(execFile)

/** The local server binaries a private server is spawned from. */
export interface ServerBinaries {
  flavor: ServerFlavor
  /** `mariadbd` or `mysqld`. */
  server: string
  /** `mariadb-install-db` (MariaDB only; MySQL initialises with `mysqld --initialize-insecure`). */
  installDb?: string
  /** Numeric version, e.g. `10.11.19`. */
  version: string
  /** The whole `--version` line. */
  versionLine: string
}

/** Directories searched after `PATH`: where distributions and Homebrew put the server binaries. */
const EXTRA_DIRS = [
  '/usr/sbin',
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/local/mysql/bin',
  '/opt/homebrew/bin',
  '/opt/homebrew/sbin',
  '/usr/libexec',
]

/** Install instructions, shared by every "no server" error. */
export const INSTALL_HINT =
  'install MariaDB 10.5+ or MySQL 8.0 server binaries (Debian/Ubuntu: `sudo apt-get install mariadb-server`, ' +
  'the system service need not run; macOS: `brew install mariadb`), or start Docker, or pass a server URL ' +
  '(mysql://user:password@host:port/)'

function searchDirs(): string[] {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '')
  return [...new Set([...fromPath, ...EXTRA_DIRS])]
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

async function findExecutable(names: string[], dirs: string[]): Promise<string | undefined> {
  for (const name of names) {
    for (const dir of dirs) {
      const file = join(dir, name)
      if (await isExecutable(file)) return file
    }
  }
  return undefined
}

/** Parses `mysqld --version` output, e.g. `mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu`. */
export function parseServerVersion(line: string): { flavor: ServerFlavor; version: string } | undefined {
  const match = /Ver\s+(\d+\.\d+\.\d+)/.exec(line)
  if (!match?.[1]) return undefined
  return { flavor: /mariadb/i.test(line) ? 'mariadb' : 'mysql', version: match[1] }
}

/** Compares dotted versions numerically: negative when `a < b`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (diff !== 0) return diff
  }
  return 0
}

/** `binlog_row_metadata=FULL` is what the capture needs; it arrived in MariaDB 10.5 and MySQL 8.0.1. */
function minimumVersion(flavor: ServerFlavor): string {
  return flavor === 'mariadb' ? '10.5.0' : '8.0.1'
}

async function describe(server: string): Promise<ServerBinaries | string> {
  let versionLine: string
  try {
    const { stdout } = await execFileAsync(server, ['--no-defaults', '--version'], { timeout: 10_000 })
    versionLine = stdout.trim()
  } catch (error) {
    return `${server} --version failed: ${(error as Error).message}`
  }
  const parsed = parseServerVersion(versionLine)
  if (!parsed) return `${server}: cannot read the version from "${versionLine}"`
  if (compareVersions(parsed.version, minimumVersion(parsed.flavor)) < 0) {
    return `${server} is ${parsed.flavor} ${parsed.version}; binlog_row_metadata=FULL needs MariaDB 10.5+ or MySQL 8.0.1+`
  }
  const binaries: ServerBinaries = { ...parsed, server, versionLine }
  if (parsed.flavor === 'mariadb') {
    const dirs = [dirname(server), join(dirname(server), '..', 'bin'), join(dirname(server), '..', 'scripts')]
    binaries.installDb = await findExecutable(['mariadb-install-db', 'mysql_install_db'], [...dirs, ...searchDirs()])
    if (!binaries.installDb) return `${server} is MariaDB but mariadb-install-db was not found next to it or on PATH`
  }
  return binaries
}

/**
 * Finds local MariaDB (`mariadbd`) or MySQL (`mysqld`) server binaries: `explicit` or `$BACKTRACK_MYSQLD` when
 * given, else the first usable one on `PATH` and the usual install directories. Returns the reasons every candidate
 * was rejected when none is usable.
 */
export async function findServerBinaries(explicit?: string): Promise<ServerBinaries | { rejected: string[] }> {
  const given = explicit ?? process.env.BACKTRACK_MYSQLD
  const candidates: string[] = []
  if (given) {
    candidates.push(given)
  } else {
    const dirs = searchDirs()
    for (const name of ['mariadbd', 'mysqld']) {
      for (const dir of dirs) {
        const file = join(dir, name)
        if (!candidates.includes(file) && (await isExecutable(file))) candidates.push(file)
      }
    }
  }
  const rejected: string[] = []
  for (const server of candidates) {
    const result = await describe(server)
    if (typeof result !== 'string') return result
    rejected.push(result)
  }
  if (candidates.length === 0) rejected.push('no mariadbd or mysqld on PATH or in ' + EXTRA_DIRS.join(', '))
  return { rejected }
}
