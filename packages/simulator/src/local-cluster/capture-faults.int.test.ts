import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DescribeEventsCommand, RDSClient } from '@aws-sdk/client-rds'
import Database from 'better-sqlite3'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { BacktrackError } from '@backtrack/core'
import { startPrivateServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'
import { DATA_DIR } from './data-dir.js'
import { LocalClusterClient } from './local-cluster-client.js'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

// Faults under the capture that a restart of the server does not cure: the page log's disk fills up, and the binlog
// the capture needs next is purged while it is behind. Each must stop the capture with a CaptureFault that status,
// DescribeEvents and the cluster log show, never leave a silent gap, and end with the page log and the tables agreeing.

/** Why a tmpfs cannot be mounted here, or undefined when it can (probed by mounting and unmounting one). */
function cannotMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: mounting a small tmpfs needs CAP_SYS_ADMIN'
  const probe = mkdtempSync(join(tmpdir(), 'bt-mount-probe-'))
  try {
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { encoding: 'utf8' })
    if (mounted.status !== 0) return `mount -t tmpfs is not permitted here (${(mounted.stderr ?? '').trim()})`
    spawnSync('umount', [probe])
    return undefined
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
}
const mountReason = cannotMount()

interface Harness {
  cluster: StartedLocalCluster
  log: string[]
  rds: RDSClient
  status: () => ReturnType<LocalClusterClient['status']>
  sql: () => Promise<Connection>
  events: () => Promise<string[]>
}

async function start(dataDir: string, log: string[]): Promise<Harness> {
  const cluster = await startLocalCluster({
    dataDir,
    logger: { info: (m) => void log.push(m), warn: (m) => void log.push(`WARN ${m}`) },
  })
  const rds = new RDSClient({
    endpoint: cluster.rdsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  })
  const client = new LocalClusterClient(dataDir)
  return {
    cluster,
    log,
    rds,
    // What `backtrack status --json` prints.
    status: () => client.status(),
    sql: () => mysql.createConnection({ ...cluster.info().sql, multipleStatements: false }),
    events: async () =>
      ((await rds.send(new DescribeEventsCommand({ SourceIdentifier: cluster.clusterIdentifier }))).Events ?? []).map(
        (event) => event.Message ?? '',
      ),
  }
}

async function stop(harness: Harness | undefined): Promise<void> {
  harness?.rds.destroy()
  await harness?.cluster.stop()
}

const query = async (conn: Connection, sql: string, params?: unknown[]) =>
  (await conn.query<RowDataPacket[]>(sql, params))[0]

/** Waits for `condition` (bounded: a fault must show within seconds, not after minutes of retries). */
async function until<T>(what: string, read: () => Promise<T>, condition: (value: T) => boolean, ms = 20_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (condition(value)) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s (last: ${JSON.stringify(value)})`)
    await sleep(100)
  }
}

/** `PRAGMA integrity_check` of the page log, read beside the running cluster. */
function integrity(dataDir: string): string {
  const db = new Database(DATA_DIR.pageLogFile(dataDir), { readonly: true, fileMustExist: true })
  try {
    return String(db.pragma('integrity_check', { simple: true }))
  } finally {
    db.close()
  }
}

async function expectNoDrift(cluster: StartedLocalCluster): Promise<void> {
  const report = await cluster.node.verify()
  expect(report.tables.filter((table) => table.status !== 'same')).toEqual([])
  expect(report.ok).toBe(true)
}

/** Rewinds to each mark and checks the sequence table's oracle: `count(*) == max(id) == i`. */
async function expectExactRewinds(harness: Harness, marks: { at: Date; i: number }[]): Promise<void> {
  for (const { at, i } of marks) {
    const record = await harness.cluster.node.backtrack({ backtrackTo: at })
    expect((await harness.cluster.node.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
    const conn = await harness.sql()
    const [row] = await query(conn, 'SELECT count(*) AS n, max(id) AS m FROM seq')
    await conn.end()
    expect([Number(row!.n), Number(row!.m ?? 0)], `at the mark of i = ${i}`).toEqual([i, i])
  }
}

describe.sequential('capture faults under a local cluster', () => {
  const dirs: ({ path: string } & Disposable)[] = []
  const mounts: string[] = []
  let harness: Harness | undefined

  // A test that failed leaves its cluster running: stop it before the next one starts another.
  afterEach(async () => {
    await stop(harness).catch(() => undefined)
    harness = undefined
  })
  afterAll(() => {
    for (const mount of mounts) spawnSync('umount', ['-l', mount])
    for (const dir of dirs) dir[Symbol.dispose]()
  })

  it.skipIf(mountReason !== undefined)(
    `the page log's disk fills up (a 16 MiB tmpfs): the capture stops with a fault that status, DescribeEvents and the log show, nothing is corrupted, and it resumes by itself once space is back${mountReason === undefined ? '' : ` (skipped: ${mountReason})`}`,
    async () => {
      const dir = tempDir('bt-disk-full-')
      dirs.push(dir)
      const pageLogDir = DATA_DIR.engineDir(dir.path)
      mkdirSync(pageLogDir, { recursive: true })
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', pageLogDir], { encoding: 'utf8' })
      expect(mounted.status, mounted.stderr).toBe(0)
      mounts.push(pageLogDir)
      harness = await start(dir.path, [])
      const { cluster } = harness

      let i = 0
      const marks: { at: Date; i: number }[] = []
      const writer = await harness.sql()
      await writer.query('CREATE TABLE seq (id INT PRIMARY KEY, pad VARCHAR(4000) NOT NULL)')
      /** One row per transaction, each a few KiB of history. */
      const write = async (n: number) => {
        for (let k = 0; k < n; k++) await writer.query("INSERT INTO seq VALUES (?, REPEAT('x', 3000))", [++i])
      }
      await write(20)
      marks.push({ at: await cluster.mark(), i })

      // Leave the page log 512 KiB, then write until the capture runs out of it.
      const free = () => {
        const stats = statfsSync(pageLogDir)
        return stats.bavail * stats.bsize
      }
      const filler = join(pageLogDir, 'filler')
      writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 512 * 1024)))
      for (let round = 0; (await harness.status()).status !== 'failed'; round++) {
        if (round > 100) throw new Error(`the capture never ran out of space (${free()} bytes free)`)
        await write(20)
        await sleep(50)
      }
      const atFault = i
      await write(20)

      const status = await harness.status()
      expect(status.status).toBe('failed')
      expect(status.captureFault?.code).toBe('CaptureFault')
      expect(status.captureFault?.message).toMatch(
        /the page log's disk is full \(SQLITE_FULL writing .*page-log\.sqlite\)/,
      )
      expect(status.captureFault?.message).toMatch(/resumes from there by itself/)
      expect((await harness.events()).join('\n')).toMatch(/change capture stopped: the page log's disk is full/)
      expect(harness.log.join('\n')).toMatch(/WARN \[labstack-cluster\] capture: the page log's disk is full/)
      // A backtrack or a mark now would be a lie: both are refused with the fault.
      const marked: unknown = await cluster.mark().catch((error: unknown) => error)
      expect(BacktrackError.is(marked, 'CaptureFault'), String(marked)).toBe(true)
      const backtracked: unknown = await cluster.node
        .backtrack({ backtrackTo: marks[0]!.at })
        .catch((error: unknown) => error)
      expect(BacktrackError.is(backtracked, 'InvalidDBClusterStateFault'), String(backtracked)).toBe(true)
      expect(integrity(dir.path)).toBe('ok')

      // Space back: the capture resumes by itself from where it stopped, and nothing committed meanwhile is lost.
      rmSync(filler)
      await until(
        'the capture resumes',
        () => harness!.status(),
        (s) => s.status === 'available' && s.captureFault === undefined,
      )
      expect((await harness.events()).join('\n')).toMatch(/change capture resumed/)
      marks.push({ at: await cluster.mark(), i })
      await write(5)
      marks.push({ at: await cluster.mark(), i })
      expect(atFault).toBeGreaterThan(20)
      await writer.end()

      await expectExactRewinds(harness, [marks[0]!, marks[1]!, marks[2]!, marks[0]!, marks[2]!])
      await expectNoDrift(cluster)
      expect(integrity(dir.path)).toBe('ok')
      await stop(harness)
      harness = undefined
    },
    90_000,
  )

  it('binlog files purged under a capture that is behind: a CaptureFault naming the missing file and what to do, never a silent gap', async () => {
    const dir = tempDir('bt-purged-')
    dirs.push(dir)
    const log: string[] = []
    harness = await start(dir.path, log)
    let i = 0
    const marks: { at: Date; i: number }[] = []
    const insert = async (conn: Connection, n: number) => {
      for (let k = 0; k < n; k++) await conn.query('INSERT INTO seq VALUES (?)', [++i])
    }
    let conn = await harness.sql()
    await conn.query('CREATE TABLE seq (id INT PRIMARY KEY)')
    await insert(conn, 10)
    await conn.end()
    await harness.cluster.mark()
    const stoppedAt = harness.cluster.node.engine.capture.position
    await stop(harness)
    harness = undefined

    // While the cluster is down its server runs (started by hand on the same data dir): writes, rotations, a purge.
    const server = await startPrivateServer({ dataDir: DATA_DIR.serverDir(dir.path) })
    try {
      conn = await mysql.createConnection(server.connectionOptions('app', 'mylab'))
      const admin = await mysql.createConnection(server.connectionOptions('admin'))
      await insert(conn, 10)
      await admin.query('FLUSH BINARY LOGS')
      await insert(conn, 10)
      await conn.end()
      await admin.query('FLUSH BINARY LOGS')
      const [{ File: current }] = (await query(admin, 'SHOW MASTER STATUS')) as [{ File: string }]
      await admin.query(`PURGE BINARY LOGS TO '${current}'`)
      const files = (await query(admin, 'SHOW BINARY LOGS')).map((row) => String(row.Log_name))
      expect(files).not.toContain(stoppedAt.file)
      await admin.end()
    } finally {
      await server.stop()
    }

    harness = await start(dir.path, log)
    const status = await until(
      'the capture reports the purged file',
      () => harness!.status(),
      (s) => s.status === 'failed',
    )
    const file = stoppedAt.file.replaceAll('.', '\\.')
    expect(status.captureFault?.message).toMatch(
      new RegExp(`binlog file ${file}, which the capture reads next .* is no longer on the server`),
    )
    expect(status.captureFault?.message).toMatch(/move .*cluster aside and start it again/)
    expect((await harness.events()).join('\n')).toMatch(new RegExp(`change capture stopped: binlog file ${file}`))
    expect(log.join('\n')).toMatch(new RegExp(`WARN \\[labstack-cluster\\] capture: binlog file ${file}`))
    expect(log.join('\n')).not.toMatch(/reconnecting/)
    const marked: unknown = await harness.cluster.mark().catch((error: unknown) => error)
    expect(BacktrackError.is(marked, 'CaptureFault'), String(marked)).toBe(true)
    const backtracked: unknown = await harness.cluster.node
      .backtrack({ backtrackTo: new Date(Date.now() - 1000) })
      .catch((error: unknown) => error)
    expect(BacktrackError.is(backtracked, 'InvalidDBClusterStateFault'), String(backtracked)).toBe(true)

    // What the fault says to do: move the page log aside and start again; a new history starts from the data as is.
    await stop(harness)
    harness = undefined
    renameSync(DATA_DIR.engineDir(dir.path), `${DATA_DIR.engineDir(dir.path)}.gap`)
    harness = await start(dir.path, log)
    expect((await harness.status()).status).toBe('available')
    marks.push({ at: await harness.cluster.mark(), i })
    conn = await harness.sql()
    await insert(conn, 5)
    await conn.end()
    marks.push({ at: await harness.cluster.mark(), i })
    expect(i).toBe(35)
    await expectExactRewinds(harness, [marks[0]!, marks[1]!])
    await expectNoDrift(harness.cluster)
    await stop(harness)
    harness = undefined
  }, 90_000)
})
