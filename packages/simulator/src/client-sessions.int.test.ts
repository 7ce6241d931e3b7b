import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClientSessions, LOCK_WAIT_SECONDS } from './client-sessions.js'
import { PageLog } from './page-log/page-log.js'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'

// mysql2 words a killed connection by how far it got: "Connection lost", "... closed state", or, when the server's
// FIN arrives first, "This socket has been ended by the other party".
const KILLED = /Connection lost|closed|ended by the other party/i

/**
 * A TCP relay to the server that can hold what clients send (a login stays half done, as on a loaded machine) and
 * can close a client's connection when it next sends something (a pooled connection the server closed, whose FIN the
 * pool has not read yet).
 */
class Relay {
  readonly #server: Server
  #holding = false
  #dropNext = false
  readonly #held: (() => void)[] = []
  readonly #sockets = new Set<Socket>()

  constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => {
      const upstream = connect(target.port, target.host)
      this.#sockets.add(client).add(upstream)
      upstream.on('data', (chunk) => client.write(chunk))
      client.on('data', (chunk) => {
        if (this.#dropNext) {
          this.#dropNext = false
          client.destroy()
          upstream.destroy()
          return
        }
        if (this.#holding) this.#held.push(() => upstream.write(chunk))
        else upstream.write(chunk)
      })
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        a.on('error', () => b.destroy())
        a.on('close', () => b.destroy())
      }
    })
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve(this.#address())))
  }

  #address(): number {
    return (this.#server.address() as { port: number }).port
  }

  hold(): void {
    this.#holding = true
  }

  release(): void {
    this.#holding = false
    for (const send of this.#held.splice(0)) send()
  }

  dropNext(): void {
    this.#dropNext = true
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy()
    this.#server.close()
  }
}

describe.sequential('ClientSessions on a real server', () => {
  const dir = tempDir('bt-sessions-')
  let server: StartedMysqlServer
  let admin: Pool
  let log: PageLog
  let sessions: ClientSessions
  const connectApp = () => mysql.createConnection(server.connectionOptions('app'))

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    admin = mysql.createPool({ ...server.connectionOptions('admin'), connectionLimit: 2 })
    log = new PageLog(join(dir.path, 'page-log.sqlite'))
    sessions = new ClientSessions({ admin, log, flavor: server.flavor, adminUser: server.admin.user })
    await admin.query('CREATE DATABASE IF NOT EXISTS app')
    await admin.query('CREATE TABLE IF NOT EXISTS app.t (id INT PRIMARY KEY)')
  })

  afterAll(async () => {
    log?.close()
    await admin?.end()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  it('lockAccounts refuses logins with "account is locked" until unlockAccounts, also after a restart', async () => {
    await sessions.lockAccounts()
    await expect(connectApp()).rejects.toThrow(/this account is locked/)
    // The simulator's own account still logs in.
    await (await mysql.createConnection(server.connectionOptions('admin'))).end()
    // A crash here: a new ClientSessions over the same page log finds what was locked and unlocks it.
    await new ClientSessions({ admin, log, flavor: server.flavor, adminUser: server.admin.user }).unlockAccounts()
    await (await connectApp()).end()
    await sessions.unlockAccounts() // nothing left to do
  })

  it('an account created while an earlier lockout is left locked is added to it: the next unlock frees both', async () => {
    await sessions.lockAccounts()
    // The unlock did not happen (the server went away); a client account is created meanwhile.
    await admin.query("CREATE USER 'late'@'%' IDENTIFIED BY 'late-pw'")
    try {
      await sessions.lockAccounts()
      await sessions.unlockAccounts()
      await (await connectApp()).end()
      await (
        await mysql.createConnection({ ...server.connectionOptions('app'), user: 'late', password: 'late-pw' })
      ).end()
    } finally {
      await sessions.unlockAccounts()
      await admin.query("DROP USER 'late'@'%'")
    }
  })

  it("close('busy') closes sessions in a transaction or a statement and leaves idle ones", async () => {
    const idle = await connectApp()
    const writing = await connectApp()
    const reading = await connectApp()
    const running = await connectApp()
    try {
      await idle.query('SELECT * FROM app.t')
      await writing.query('BEGIN')
      await writing.query('INSERT INTO app.t VALUES (1)')
      // A large transaction: killed, it rolls back for a while and stays in the process list meanwhile.
      for (let size = 1; size < 200_000; size *= 2) {
        await writing.query(`INSERT INTO app.t SELECT id + ${size} FROM app.t WHERE id <= ${size}`)
      }
      await reading.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
      const sleeping = running.query('SELECT SLEEP(30)').catch((error: Error) => error)
      // Until the server runs it (a busy machine may take a while to send it).
      for (;;) {
        const [running] = await admin.query<RowDataPacket[]>(
          "SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)'",
        )
        if (running.length > 0) break
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      // Twice in a row, as back-to-back rewinds do: the answer must not come from a stale cache.
      expect(await sessions.close('busy')).toBe(3)
      expect(await sessions.close('busy')).toBe(0)
      expect(String(((await sleeping) as Error).message)).toMatch(/killed|Connection lost/i)
      await expect(writing.query('COMMIT')).rejects.toThrow(KILLED)
      await expect(reading.query('SELECT 1')).rejects.toThrow(KILLED)
      await idle.query('SELECT 1')
      expect(await sessions.close('all')).toBe(1)
      await expect(idle.query('SELECT 1')).rejects.toThrow(KILLED)
    } finally {
      for (const connection of [idle, writing, reading, running]) connection.destroy()
    }
  })

  it("leaves a connection that has not logged in yet: the simulator's own pool opening one keeps it", async () => {
    const relay = new Relay(server)
    const own = mysql.createPool({
      ...server.connectionOptions('admin'),
      port: await relay.listen(),
      connectionLimit: 1,
    })
    const mine = new ClientSessions({ admin: own, log, flavor: server.flavor, adminUser: server.admin.user })
    try {
      // The pool's login waits in the relay: the server has greeted it and shows an `unauthenticated user`.
      relay.hold()
      const counting = mine.count()
      for (;;) {
        const [rows] = await admin.query<RowDataPacket[]>(
          "SELECT 1 FROM information_schema.PROCESSLIST WHERE USER = 'unauthenticated user'",
        )
        if (rows.length > 0) break
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      expect(await sessions.close('all')).toBe(0)
      expect(await sessions.close('busy')).toBe(0)
      relay.release()
      expect(await counting).toBe(0)
    } finally {
      relay.release()
      await own.end()
      relay.close()
    }
  })

  it('count() answers when the pooled connection it gets was closed by the server: once more, on a new one', async () => {
    const relay = new Relay(server)
    const own = mysql.createPool({
      ...server.connectionOptions('admin'),
      port: await relay.listen(),
      connectionLimit: 2,
    })
    const mine = new ClientSessions({ admin: own, log, flavor: server.flavor, adminUser: server.admin.user })
    try {
      expect(await mine.count()).toBe(0) // the pool now holds an idle connection
      relay.dropNext()
      expect(await mine.count()).toBe(0)
      relay.dropNext()
      await mine.lockAccounts()
      await expect(connectApp()).rejects.toThrow(/this account is locked/)
      relay.dropNext()
      await mine.unlockAccounts()
      await (await connectApp()).end()
    } finally {
      await own.end()
      relay.close()
    }
  })

  it('holdWrites does not wait forever for a session that left LOCK TABLES: it closes every client session', async () => {
    const locker = await connectApp()
    const idle = await connectApp()
    try {
      await locker.query('LOCK TABLES app.t WRITE')
      const started = performance.now()
      await sessions.holdWrites()
      expect(performance.now() - started).toBeGreaterThanOrEqual(LOCK_WAIT_SECONDS * 1000 - 100)
      await expect(locker.query('SELECT 1')).rejects.toThrow(KILLED)
      await expect(idle.query('SELECT 1')).rejects.toThrow(KILLED)
    } finally {
      await sessions.releaseWrites()
      locker.destroy()
      idle.destroy()
    }
  })

  it('holdWrites refuses client writes with the read-only error until releaseWrites', async () => {
    const app = await connectApp()
    try {
      await sessions.holdWrites()
      await expect(app.query('INSERT INTO app.t VALUES (2)')).rejects.toThrow(/read-only/)
      await sessions.releaseWrites()
      await app.query('INSERT INTO app.t VALUES (2)')
    } finally {
      await sessions.releaseWrites()
      app.destroy()
    }
  })
})
