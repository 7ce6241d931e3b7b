import { appendFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { DescribeDBClustersCommand, DescribeEventsCommand, RDSClient } from '@aws-sdk/client-rds'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '@backtrack/mysql-server/testing'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

const ROWS = Number(process.env.BACKTRACK_FAULT_ROWS ?? 150_000)

// The private server killed with SIGKILL: the cluster must notice by itself, start the server again and carry on.
describe.sequential('a local cluster whose server is killed (kill -9)', () => {
  const dir = tempDir('bt-server-faults-')
  let cluster: StartedLocalCluster
  let rds: RDSClient
  /** The cluster's log; BT_FAULT_LOG=<file> also writes it there, to follow a run. */
  const record = (message: string) => {
    if (process.env.BT_FAULT_LOG) appendFileSync(process.env.BT_FAULT_LOG, `${new Date().toISOString()} ${message}\n`)
  }

  const connect = () => mysql.createConnection({ ...cluster.info().sql, multipleStatements: false })
  const admin = () => mysql.createConnection({ ...cluster.node.server.connectionOptions('admin'), database: 'mylab' })
  const query = async (conn: Connection, sql: string) => (await conn.query<RowDataPacket[]>(sql))[0]
  /** Reconnects as long as the server is coming back (a killed server refuses connections for a while). */
  async function withSql<T>(fn: (conn: Connection) => Promise<T>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      let conn: Connection | undefined
      try {
        conn = await connect()
        return await fn(conn)
      } catch (error) {
        if (Date.now() > deadline) throw error
        await sleep(200)
      } finally {
        await conn?.end().catch(() => undefined)
      }
    }
  }
  const checksum = (table: string) =>
    withSql(async (conn) => String((await query(conn, `CHECKSUM TABLE ${table}`))[0]!.Checksum))
  const describeCluster = async () =>
    (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: cluster.clusterIdentifier }))).DBClusters![0]!
  /** `backtrack verify`: the server holds exactly what the page log says. */
  const expectNoDrift = async () => {
    const report = await cluster.node.verify()
    expect(report.tables.filter((table) => table.status !== 'same')).toEqual([])
    expect(report.ok).toBe(true)
  }
  const killServer = () => {
    const pid = cluster.node.server.pid!
    process.kill(pid, 'SIGKILL')
    return pid
  }

  beforeAll(async () => {
    cluster = await startLocalCluster({
      dataDir: dir.path,
      logger: { info: (m) => record(m), warn: (m) => record(`WARN ${m}`) },
    })
    rds = new RDSClient({
      endpoint: cluster.rdsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    })
  })
  afterAll(async () => {
    rds?.destroy()
    await cluster?.stop()
    dir[Symbol.dispose]()
  })

  it(`restarts the server killed while a backtrack restores a dropped ${ROWS}-row table, and never leaves it half-applied`, async () => {
    await withSql(async (conn) => {
      await conn.query('CREATE TABLE big (id INT PRIMARY KEY, k INT NOT NULL, pad CHAR(200) NOT NULL)')
      await conn.query(`INSERT INTO big SELECT seq, seq % 1000, REPEAT('x', 200) FROM seq_1_to_${ROWS}`)
      await conn.query('CREATE TABLE small (id INT PRIMARY KEY)')
      await conn.query('INSERT INTO small VALUES (1)')
    })
    const original = await checksum('big')
    const beforeDrop = await cluster.mark()
    await withSql(async (conn) => {
      await conn.query('DROP TABLE big')
      await conn.query('INSERT INTO small VALUES (2)')
    })
    const afterDrop = await cluster.mark()
    const killedPid = cluster.node.server.pid!

    const record = await cluster.node.backtrack({ backtrackTo: beforeDrop })
    // Kill the server while the executor loads the table's rows.
    const watcher = await admin()
    for (let i = 0; ; i++) {
      const loading = await query(
        watcher,
        "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%' AND INFO LIKE '%`big`%'",
      )
      if (loading.length > 0) break
      if (i > 20_000) throw new Error('the rewind never loaded the table')
      await sleep(2)
    }
    killServer()
    watcher.destroy()

    // The RDS endpoint keeps answering, and the cluster comes back by itself.
    const statuses: string[] = []
    const deadline = Date.now() + 120_000
    for (;;) {
      const started = Date.now()
      const described = await describeCluster()
      expect(Date.now() - started).toBeLessThan(5_000)
      if (statuses.at(-1) !== described.Status) statuses.push(described.Status!)
      const [current] = (await cluster.node.describeBacktracks({ backtrackIdentifier: record.BacktrackIdentifier }))
        .backtracks
      if (described.Status === 'available' && ['completed', 'failed'].includes(current!.Status)) break
      if (Date.now() > deadline) throw new Error(`not back after 120 s: ${statuses.join(' -> ')}`)
      await sleep(200)
    }
    expect(cluster.node.server.pid).not.toBe(killedPid)
    const [final] = (await cluster.node.describeBacktracks({ backtrackIdentifier: record.BacktrackIdentifier }))
      .backtracks
    const tables = await withSql(async (conn) => (await query(conn, 'SHOW TABLES')).map((r) => Object.values(r)[0]))
    if (final!.Status === 'completed') {
      expect(await checksum('big')).toBe(original)
      expect(await withSql(async (conn) => (await query(conn, 'SELECT id FROM small')).map((r) => r.id))).toEqual([1])
    } else {
      // FAILED: the data as before the request, and the cluster says why.
      expect(tables).not.toContain('big')
      expect(await withSql(async (conn) => (await query(conn, 'SELECT id FROM small')).map((r) => r.id))).toEqual([
        1, 2,
      ])
    }
    const events = await rds.send(new DescribeEventsCommand({ SourceIdentifier: cluster.clusterIdentifier }))
    expect(events.Events?.map((event) => event.Message).join('\n')).toMatch(/server .*stopped unexpectedly/i)

    // Later rewinds are exact, both ways.
    let back = await cluster.node.backtrack({ backtrackTo: afterDrop })
    expect((await cluster.node.waitForBacktrack(back.BacktrackIdentifier)).Status).toBe('completed')
    expect(await withSql(async (conn) => (await query(conn, 'SHOW TABLES')).map((r) => Object.values(r)[0]))).toEqual([
      'small',
    ])
    back = await cluster.node.backtrack({ backtrackTo: beforeDrop })
    expect((await cluster.node.waitForBacktrack(back.BacktrackIdentifier)).Status).toBe('completed')
    expect(await checksum('big')).toBe(original)
    await expectNoDrift()
  }, 300_000)

  it('loses no committed transaction when the server is killed while idle and while under write load (max(id) == i at each mark)', async () => {
    await withSql((conn) => conn.query('CREATE TABLE seq (id INT PRIMARY KEY, at DATETIME(6) NOT NULL)'))
    const marks: { at: Date; i: number }[] = []
    let i = 0
    let writer: Connection | undefined
    /** One row per transaction; after a lost connection the same row again (a duplicate means it committed). */
    const write = async () => {
      const next = i + 1
      for (;;) {
        try {
          writer ??= await connect()
          await writer.query('INSERT INTO seq VALUES (?, NOW(6))', [next])
          break
        } catch (error) {
          writer?.destroy()
          writer = undefined
          if ((error as { code?: string }).code === 'ER_DUP_ENTRY') break
          await sleep(100)
        }
      }
      i = next
    }
    const markNow = async () => marks.push({ at: await cluster.mark(), i })
    const waitForRestart = async (pid: number) => {
      const deadline = Date.now() + 60_000
      while (cluster.node.server.pid === pid || cluster.node.server.pid === undefined) {
        if (Date.now() > deadline) throw new Error('the server was not restarted')
        await sleep(50)
      }
    }

    for (let n = 0; n < 30; n++) await write()
    await markNow()
    // Killed while idle: the capture resumes and sees nothing new.
    await waitForRestart(killServer())
    await markNow()
    for (let n = 0; n < 30; n++) await write()
    await markNow()
    // Killed under write load: the writer keeps going through the restart.
    const load = (async () => {
      for (let n = 0; n < 400; n++) {
        await write()
        if (n % 50 === 49) await markNow()
      }
    })()
    const killAt = i + 60
    while (i < killAt) await sleep(5)
    await waitForRestart(killServer())
    await load
    writer?.destroy()
    await markNow()
    expect(marks.at(-1)!.i).toBe(460)

    const described = await describeCluster()
    expect(described.Status).toBe('available')
    const counts = await withSql(async (conn) => (await query(conn, 'SELECT count(*) AS n, max(id) AS m FROM seq'))[0]!)
    expect([Number(counts.n), Number(counts.m)]).toEqual([460, 460])
    // Rewind to every mark, newest and oldest first, then back and forth: max(id) == i each time.
    const order = [marks.length - 1, 0, ...marks.map((_, index) => index).slice(1, -1), marks.length - 1]
    for (const index of order) {
      const { at, i: expected } = marks[index]!
      const record = await cluster.node.backtrack({ backtrackTo: at })
      expect((await cluster.node.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
      const row = await withSql(async (conn) => (await query(conn, 'SELECT count(*) AS n, max(id) AS m FROM seq'))[0]!)
      expect([Number(row.n), Number(row.m ?? 0)], `at mark ${index}`).toEqual([expected, expected])
    }
    await expectNoDrift()
  }, 300_000)
})
