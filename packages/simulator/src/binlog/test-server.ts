import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'

const run = promisify(execFile)

/**
 * A throwaway private MariaDB for the binlog tests (ROW / FULL / FULL, server-id 1, UTC, CRC32 checksums), in its
 * own temp datadir on a free port. Interim helper until the shared `startPrivateServer` lands.
 */
export interface TestServer {
  host: string
  port: number
  user: string
  password: string
  dataDir: string
  /** A new connection as root (multipleStatements and LOCAL INFILE allowed). */
  connect(database?: string): Promise<mysql.Connection>
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export async function startTestServer(extraArgs: string[] = []): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'backtrack-binlog-'))
  await run('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${dataDir}`,
    '--auth-root-authentication-method=normal',
    '--user=root',
    '--skip-test-db',
  ])
  const port = await freePort()
  const child: ChildProcess = spawn(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${path.join(dataDir, 'mysqld.sock')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--log-bin=${path.join(dataDir, 'binlog')}`,
      '--binlog-format=ROW',
      '--binlog-row-image=FULL',
      '--binlog-row-metadata=FULL',
      '--server-id=1',
      '--default-time-zone=+00:00',
      '--user=root',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=64M',
      `--log-error=${path.join(dataDir, 'mysqld.err')}`,
      `--pid-file=${path.join(dataDir, 'mysqld.pid')}`,
      ...extraArgs,
    ],
    { stdio: 'ignore' },
  )
  let exited = false
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true
      resolve()
    }),
  )
  const options = { host: '127.0.0.1', port, user: 'root', password: '' }
  const connect = (database?: string) =>
    mysql.createConnection({
      ...options,
      ...(database ? { database } : {}),
      multipleStatements: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      timezone: 'Z',
    })
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exitPromise
      clearTimeout(timer)
    }
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    const deadline = Date.now() + 30_000
    for (;;) {
      if (exited) throw new Error(`mariadbd exited during startup; see ${dataDir}/mysqld.err`)
      try {
        const c = await connect()
        const [users] = await c.query<mysql.RowDataPacket[]>("SELECT user, host FROM mysql.user WHERE user = ''")
        for (const u of users) await c.query('DROP USER ?@?', [u['user'], u['host']])
        await c.end()
        break
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { ...options, dataDir, connect, stop }
}
