import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { createConnection, type ConnectionOptions, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import type { StartedMysqlServer } from './mysql-server.js'
import { startPrivateServer } from './private-server.js'
import { connectExistingServer } from './url-server.js'

/** The machine's own MariaDB (binlog off): only ever read from. */
const SYSTEM_SERVER: ConnectionOptions = { host: '127.0.0.1', port: 3306, user: 'root', password: '' }

async function systemServerAnswers(): Promise<boolean> {
  try {
    const conn = await createConnection({ ...SYSTEM_SERVER, connectTimeout: 2_000 })
    await conn.end()
    return true
  } catch {
    return false
  }
}

const systemServer = await systemServerAnswers()

/** What validation must leave as it was: binlog settings, accounts and databases. */
async function snapshot(): Promise<unknown> {
  const conn = await createConnection(SYSTEM_SERVER)
  try {
    const [vars] = await conn.query<RowDataPacket[]>(
      'SHOW GLOBAL VARIABLES WHERE Variable_name IN ' +
        "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'server_id', 'sql_log_bin')",
    )
    const [users] = await conn.query<RowDataPacket[]>('SELECT User, Host FROM mysql.user ORDER BY User, Host')
    const [databases] = await conn.query<RowDataPacket[]>('SHOW DATABASES')
    return { vars, users, databases }
  } finally {
    await conn.end()
  }
}

describe.skipIf(!systemServer)(
  `connectExistingServer on the machine's MariaDB${systemServer ? '' : ' (skipped: nothing answers on 127.0.0.1:3306)'}`,
  () => {
    it('fails with ServerConfigurationFault naming log_bin, and changes nothing', async () => {
      const before = await snapshot()
      const error = await connectExistingServer('mysql://root@127.0.0.1:3306/').catch((e: unknown) => e)
      expect(error).toMatchObject({
        code: 'ServerConfigurationFault',
        message: expect.stringContaining('log_bin is OFF on 127.0.0.1:3306: start the server with --log-bin'),
      })
      expect(await snapshot()).toEqual(before)
    })
  },
)

describe('connectExistingServer on a private server', () => {
  let root: string
  let server: StartedMysqlServer
  const url = (user: string, password: string) =>
    `mysql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${server.port}/`

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'backtrack-url-'))
    server = await startPrivateServer({ dataDir: join(root, 'data') })
  })

  afterAll(async () => {
    await server?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('passes validation with the admin account, and uses the URL user as the application account', async () => {
    const messages: string[] = []
    const logger = { info: (m: string) => messages.push(m), warn: (m: string) => messages.push(m) }
    await using viaUrl = await connectExistingServer(url(server.admin.user, server.admin.password), { logger })
    expect(viaUrl).toMatchObject({
      source: 'url',
      flavor: 'mariadb',
      version: server.version,
      host: '127.0.0.1',
      port: server.port,
      serverId: server.serverId,
      admin: server.admin,
      app: server.admin,
    })
    expect(messages.join('\n')).toMatch(/binlog settings validated/)
  })

  it('uses another application account when given, after checking that it can log in', async () => {
    await using viaUrl = await connectExistingServer(url(server.admin.user, server.admin.password), {
      appUser: server.app.user,
      appPassword: server.app.password,
    })
    expect(viaUrl.app).toEqual(server.app)
    const conn = await createConnection(viaUrl.connectionOptions('app'))
    await conn.end()

    await expect(
      connectExistingServer(url(server.admin.user, server.admin.password), {
        appUser: server.app.user,
        appPassword: 'wrong',
      }),
    ).rejects.toMatchObject({
      code: 'ServerConfigurationFault',
      message: expect.stringMatching(/application account admin cannot log in/),
    })
  })

  it('names every missing privilege of an account that cannot replicate', async () => {
    const admin = await createConnection(server.connectionOptions('admin'))
    await admin.query("CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY 'reader-pw'")
    await admin.query("GRANT SELECT, INSERT, UPDATE, DELETE ON *.* TO 'reader'@'127.0.0.1'")
    await admin.end()

    const error = await connectExistingServer(url('reader', 'reader-pw')).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ServerConfigurationFault' })
    const message = (error as Error).message
    expect(message).toContain('privilege REPLICATION SLAVE is missing for reader@127.0.0.1')
    expect(message).toContain("GRANT REPLICATION SLAVE ON *.* TO 'reader'@'127.0.0.1'")
    expect(message).toContain('privilege BINLOG MONITOR is missing')
    expect(message).toMatch(/privilege CREATE is missing.*\n.*privilege DROP is missing/)
    expect(message).toMatch(/reader@127\.0\.0\.1 cannot SET sql_log_bin=0 .*GRANT BINLOG ADMIN/)
    expect(message).not.toMatch(/log_bin is|binlog_format is|SELECT is missing/)
  })

  it('reports a server it cannot reach as ServerConfigurationFault, without the password', async () => {
    const error = await connectExistingServer('mysql://someone:hunter2@127.0.0.1:1/').catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ServerConfigurationFault', message: expect.stringContaining('127.0.0.1:1') })
    expect((error as Error).message).not.toContain('hunter2')
  })
})
