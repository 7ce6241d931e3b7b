import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

import { createConnection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import type { StartedMysqlServer } from './mysql-server.js'
import { startPrivateServer, type PrivateServerOptions } from './private-server.js'

let root: string
const started: StartedMysqlServer[] = []
const messages: string[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'backtrack-private-'))
})

afterEach(async () => {
  messages.length = 0
  await Promise.all(started.splice(0).map((server) => server.stop()))
})

afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

async function start(name: string, options: PrivateServerOptions = {}): Promise<StartedMysqlServer> {
  const logger = { info: (m: string) => messages.push(m), warn: (m: string) => messages.push(`warn: ${m}`) }
  const server = await startPrivateServer({ dataDir: join(root, name), logger, ...options })
  started.push(server)
  return server
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 200 && isAlive(pid); i++) await sleep(50)
}

/** Every server process running on `dataDir`, as `ps` sees it. */
function serversOn(dataDir: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => /mariadbd|mysqld/.test(line) && line.includes(`--datadir=${dataDir}`))
}

async function query<T extends RowDataPacket>(
  server: StartedMysqlServer,
  account: 'admin' | 'app',
  sql: string,
): Promise<T[]> {
  const conn = await createConnection(server.connectionOptions(account))
  try {
    const [rows] = await conn.query<T[]>(sql)
    return rows
  } finally {
    await conn.end()
  }
}

describe('startPrivateServer', () => {
  it('runs two servers side by side, each with the row binlog, UTC and the lab accounts', async () => {
    const [a, b] = await Promise.all([start('a'), start('b')])
    expect(a.port).not.toBe(b.port)
    expect(a.pid).not.toBe(b.pid)

    for (const server of [a, b]) {
      expect(server).toMatchObject({ source: 'private', flavor: 'mariadb', host: '127.0.0.1', adopted: false })
      const [vars] = await query(
        server,
        'admin',
        'SELECT @@log_bin AS logBin, @@binlog_format AS format, @@binlog_row_image AS image, ' +
          '@@binlog_row_metadata AS metadata, @@server_id AS serverId, @@time_zone AS tz, @@local_infile AS localInfile, ' +
          '@@max_binlog_size AS maxBinlog, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()) AS utcOffset',
      )
      expect(vars).toEqual({
        logBin: 1,
        format: 'ROW',
        image: 'FULL',
        metadata: 'FULL',
        serverId: server.serverId,
        tz: '+00:00',
        localInfile: 1,
        maxBinlog: 256 * 1024 * 1024,
        utcOffset: 0,
      })

      // The application account works over TCP from 127.0.0.1 and can create databases and tables.
      const app = await createConnection(server.connectionOptions('app'))
      await app.query('CREATE DATABASE lab')
      await app.query('CREATE TABLE lab.t (id INT PRIMARY KEY, v VARCHAR(10))')
      await app.query("INSERT INTO lab.t VALUES (1, 'one')")
      // ...but it is not the simulator's account: it cannot hide writes from the binlog.
      await expect(app.query('SET SESSION sql_log_bin = 0')).rejects.toThrow(/denied/i)
      await app.end()

      await expect(createConnection({ host: '127.0.0.1', port: server.port, user: '' })).rejects.toMatchObject({
        code: 'ER_ACCESS_DENIED_ERROR',
      })
      await expect(
        createConnection({ host: '127.0.0.1', port: server.port, user: 'root', password: '' }),
      ).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' })
    }

    const pids = [a.pid as number, b.pid as number]
    await Promise.all([a.stop(), b.stop()])
    expect(pids.filter(isAlive)).toEqual([])
    expect([...serversOn(a.dataDir as string), ...serversOn(b.dataDir as string)]).toEqual([])
  })

  it('restarts on the same data directory with its data, accounts and server_id', async () => {
    const first = await start('restart')
    await query(first, 'app', 'CREATE DATABASE keep')
    await query(first, 'app', 'CREATE TABLE keep.t (id INT PRIMARY KEY)')
    await query(first, 'app', 'INSERT INTO keep.t VALUES (7)')
    await first.stop()
    expect(isAlive(first.pid as number)).toBe(false)

    const began = performance.now()
    const second = await start('restart')
    const warmMs = performance.now() - began
    console.log(`warm private server start: ${warmMs.toFixed(0)} ms`)

    expect(second.adopted).toBe(false)
    expect(second.app).toEqual(first.app)
    expect(second.admin).toEqual(first.admin)
    expect(second.serverId).toBe(first.serverId)
    expect(await query(second, 'app', 'SELECT id FROM keep.t')).toEqual([{ id: 7 }])
  })

  it('uses an application password given later, and keeps it', async () => {
    const first = await start('password')
    await first.stop()
    const second = await start('password', { appPassword: 'lab-secret-1' })
    expect(second.app).toEqual({ user: 'admin', password: 'lab-secret-1' })
    expect(await query(second, 'app', 'SELECT CURRENT_USER() AS who')).toEqual([{ who: 'admin@127.0.0.1' }])
    await second.stop()
    const third = await start('password')
    expect(third.app.password).toBe('lab-secret-1')
  })

  it('recovers from a crash (kill -9) and from a pid file naming a live process of another program', async () => {
    const first = await start('crash')
    await query(first, 'app', 'CREATE DATABASE crash')
    const pid = first.pid as number
    process.kill(pid, 'SIGKILL')
    await waitGone(pid)
    const pidFile = join(first.dataDir as string, 'mysqld.pid')
    expect(existsSync(pidFile)).toBe(true)

    const second = await start('crash')
    expect(second.adopted).toBe(false)
    expect(messages).toContainEqual(expect.stringMatching(/^warn: removed files left by a server .*mysqld\.pid/))
    expect(await query(second, 'app', "SHOW DATABASES LIKE 'crash'")).toHaveLength(1)

    // A pid reused by an unrelated process after the crash must not be taken for the server.
    process.kill(second.pid as number, 'SIGKILL')
    await waitGone(second.pid as number)
    await writeFile(pidFile, '1\n')
    const third = await start('crash')
    expect(third.pid).not.toBe(1)
    expect(await query(third, 'app', "SHOW DATABASES LIKE 'crash'")).toHaveLength(1)
  })

  it('adopts a server an earlier start left running on the same data directory', async () => {
    const first = await start('adopt')
    const second = await start('adopt')
    expect(second).toMatchObject({ adopted: true, pid: first.pid, port: first.port, app: first.app })
    expect(await query(second, 'app', 'SELECT 1 AS one')).toEqual([{ one: 1 }])
    await second.stop()
    expect(isAlive(first.pid as number)).toBe(false)
    await first.stop()
    expect(serversOn(first.dataDir as string)).toEqual([])
  })

  it('purges binary logs before a file', async () => {
    const server = await start('purge')
    await query(server, 'admin', 'FLUSH BINARY LOGS')
    await query(server, 'admin', 'FLUSH BINARY LOGS')
    const before = await query(server, 'admin', 'SHOW BINARY LOGS')
    const last = String(before.at(-1)?.Log_name)
    expect(before.length).toBeGreaterThanOrEqual(3)
    await server.purgeBinaryLogsBefore(last)
    expect((await query(server, 'admin', 'SHOW BINARY LOGS')).map((row) => row.Log_name)).toEqual([last])
    await expect(server.purgeBinaryLogsBefore("x'; DROP DATABASE mysql; --")).rejects.toThrow(/not a binlog file/)
  })

  it('refuses a port that is taken', async () => {
    const first = await start('port-a')
    await expect(start('port-b', { port: first.port })).rejects.toMatchObject({
      code: 'ServerStartFault',
      message: expect.stringMatching(new RegExp(`port ${first.port}`)),
    })
  })

  it('fails with install instructions when no server binary is usable', async () => {
    await expect(start('nobinary', { binary: join(root, 'no-such-mysqld') })).rejects.toMatchObject({
      code: 'ServerStartFault',
      message: expect.stringMatching(/apt-get install mariadb-server.*brew install mariadb/),
    })
  })
})
