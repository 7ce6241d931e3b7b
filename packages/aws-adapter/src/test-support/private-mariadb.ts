import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createConnection } from 'mysql2/promise'

// Test support: a throw-away MariaDB/MySQL server from local binaries, for tests of the SQL side only.

const run = promisify(execFile)

export interface PrivateServer {
  host: string
  port: number
  user: string
  password: string
  stop(): Promise<void>
}

async function which(names: string[]): Promise<string | undefined> {
  for (const name of names) {
    const found = await run('sh', ['-c', `command -v ${name}`]).catch(() => undefined)
    const path = found?.stdout.trim()
    if (path) return path
  }
  return undefined
}

/** Why a private server cannot be started here, or undefined when it can. */
export async function privateServerUnavailable(): Promise<string | undefined> {
  if ((await which(['mariadbd'])) === undefined) return 'no mariadbd binary on PATH (apt-get install mariadb-server)'
  if ((await which(['mariadb-install-db'])) === undefined) return 'no mariadb-install-db on PATH'
  return undefined
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export async function startPrivateMariadb(): Promise<PrivateServer> {
  const datadir = await mkdtemp(join(tmpdir(), 'backtrack-aws-adapter-db-'))
  const port = await freePort()
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : []
  await run('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${datadir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    ...asRoot,
  ])
  const child: ChildProcess = spawn(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--socket=${join(datadir, 'mysqld.sock')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-log-bin',
      `--log-error=${join(datadir, 'mysqld.err')}`,
      ...asRoot,
    ],
    { stdio: 'ignore' },
  )
  const server = { host: '127.0.0.1', port, user: 'root', password: '' }
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const connection = await createConnection(server)
      await connection.end()
      break
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL')
        throw error
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return {
    ...server,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      await rm(datadir, { recursive: true, force: true })
    },
  }
}
