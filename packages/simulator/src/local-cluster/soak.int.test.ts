import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { statSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  BacktrackDBClusterCommand,
  DescribeDBClusterBacktracksCommand,
  DescribeDBClustersCommand,
  RDSClient,
} from '@aws-sdk/client-rds'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runSysbench, sysbenchArgs, sysbenchInstalled, type SysbenchOptions } from '@backtrack/core'
import { tempDir } from '@backtrack/mysql-server/testing'
import { pageLogFile } from '../history/cluster-history.js'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

// Issue 11, fault 5: sysbench oltp_write_only --threads=4 against the writer, a backtrack every period to a random
// earlier mark through the RDS API, and Neon's oracle beside it (one row per transaction in `seq`; at each mark the
// writer records max(id)). Every backtrack must be exact (max(id) and count(*) equal the mark's, `verify` finds no
// drift), the process's RSS flat and the page log bounded by the (small) backtrack window.
//
// The backtracks go through the RDS API, as a runbook on Aurora would: they close every connection, so sysbench
// dies with "Lost connection" at each one and is started again once the cluster is `available`, which is what an
// application rehearsing a backtrack has to do (its reconnect logic is what the rehearsal is for).
//
// CI runs 75 s (a backtrack every 10 s, window 20 s). A long run by hand:
//   BACKTRACK_SOAK_SECONDS=600 pnpm vitest run packages/simulator/src/local-cluster/soak.int.test.ts
// (a backtrack every 30 s, window 120 s; BACKTRACK_SOAK_PERIOD and BACKTRACK_SOAK_WINDOW override both).

const SECONDS = Number(process.env['BACKTRACK_SOAK_SECONDS'] ?? 75)
const LONG = SECONDS >= 300
const PERIOD_SECONDS = Number(process.env['BACKTRACK_SOAK_PERIOD'] ?? (LONG ? 30 : 10))
const WINDOW_SECONDS = Number(process.env['BACKTRACK_SOAK_WINDOW'] ?? (LONG ? 120 : 20))
const TABLES = 4
const TABLE_SIZE = LONG ? 10_000 : 2_000
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' }

const hasSysbench = sysbenchInstalled()
const hasServer = ['mariadbd', 'mysqld'].some((bin) => spawnSync('which', [bin], { stdio: 'ignore' }).status === 0)
const suite = hasSysbench && hasServer ? describe : describe.skip
const skipNote = hasSysbench && hasServer ? '' : ' (skipped: needs sysbench and a mariadbd/mysqld binary)'

interface Mark {
  at: Date
  /** max(id) of `seq` when the mark was taken: the writer is sequential and takes the mark itself. */
  maxId: number
}

interface Sample {
  elapsed: number
  rss: number
  pageLogBytes: number
}

/** One row per transaction, each committed before the next, with marks taken between them. */
class SequenceWriter {
  #stop = false
  #done: Promise<void> | undefined
  next: number

  constructor(
    private readonly connection: mysql.Connection,
    private readonly cluster: StartedLocalCluster,
    private readonly marks: Mark[],
    from: number,
  ) {
    this.next = from
  }

  start(markEveryMs: number): void {
    this.#stop = false
    this.#done = (async () => {
      let lastMark = Date.now()
      while (!this.#stop) {
        await this.connection.query('INSERT INTO seq (id) VALUES (?)', [this.next])
        this.next++
        if (Date.now() - lastMark >= markEveryMs) {
          this.marks.push({ at: await this.cluster.mark(), maxId: this.next - 1 })
          lastMark = Date.now()
        }
        await sleep(20)
      }
    })()
  }

  async stop(): Promise<void> {
    this.#stop = true
    await this.#done
  }
}

suite(`soak: sysbench oltp_write_only, a backtrack every ${PERIOD_SECONDS} s for ${SECONDS} s${skipNote}`, () => {
  const dir = tempDir('backtrack-soak-')
  let cluster: StartedLocalCluster
  let rds: RDSClient
  let sysbench: ChildProcess | undefined

  beforeAll(async () => {
    cluster = await startLocalCluster({
      dataDir: dir.path,
      backtrackWindow: WINDOW_SECONDS,
      logger: { info: () => {}, warn: (message) => console.log(`${new Date().toISOString()} cluster: ${message}`) },
    })
    rds = new RDSClient({
      endpoint: cluster.info().rdsEndpoint,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      maxAttempts: 1,
    })
  }, 120_000)

  afterAll(async () => {
    sysbench?.kill('SIGKILL')
    rds?.destroy()
    await cluster?.stop()
    dir[Symbol.dispose]()
  })

  it(
    'every backtrack is exact (max(id), verify), RSS stays flat and the page log bounded by the window',
    async () => {
      const options: SysbenchOptions = {
        connection: cluster.sql,
        database: cluster.sql.database,
        tables: TABLES,
        tableSize: TABLE_SIZE,
        threads: 4,
      }
      await runSysbench(sysbenchArgs(options, 'prepare'))
      const connect = () => mysql.createConnection({ ...cluster.sql })
      let seqConnection = await connect()
      await seqConnection.query('CREATE TABLE seq (id INT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))')

      const sysbenchExits: string[] = []
      const startSysbench = () => {
        const child = spawn('sysbench', sysbenchArgs({ ...options, time: 0 }, 'run'), { stdio: 'pipe' })
        let output = ''
        child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)))
        child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)))
        child.on('exit', (code, signal) => {
          // The backtrack closed its connections: what an application sees on Aurora.
          sysbenchExits.push(`${code ?? signal}: ${/FATAL: .*|error \d+.*/.exec(output)?.[0] ?? output.slice(-200)}`)
        })
        sysbench = child
      }
      const stopSysbench = async () => {
        const child = sysbench
        if (child === undefined) return
        sysbench = undefined
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve))
          child.kill('SIGTERM')
          await exited
        }
      }

      const marks: Mark[] = []
      const samples: Sample[] = []
      const startedAt = Date.now()
      const sample = () => {
        const file = pageLogFile(dir.path)
        const size = (path: string) => {
          try {
            return statSync(path).size
          } catch {
            return 0
          }
        }
        samples.push({
          elapsed: (Date.now() - startedAt) / 1000,
          rss: process.memoryUsage().rss,
          pageLogBytes: size(file) + size(`${file}-wal`),
        })
      }
      const sampler = setInterval(sample, 2_000)

      const backtracks: { to: Date; expected: number; got: number; count: number; drift: boolean }[] = []
      let writer = new SequenceWriter(seqConnection, cluster, marks, 1)
      try {
        startSysbench()
        writer.start(Math.max(1_000, (PERIOD_SECONDS * 1000) / 4))
        // A backtrack every period on a fixed schedule (one that overruns its slot delays the next).
        for (let slot = 1; slot * PERIOD_SECONDS <= SECONDS; slot++) {
          await sleep(Math.max(0, startedAt + slot * PERIOD_SECONDS * 1000 - Date.now()))
          const described = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'labstack-cluster' })))
            .DBClusters![0]!
          // A mark well inside the window (pruning runs every 10 s), but never the newest: a backtrack goes back.
          const earliest = described.EarliestBacktrackTime!.getTime() + 12_000
          const candidates = marks.slice(0, -1).filter((mark) => mark.at.getTime() > earliest)
          if (candidates.length === 0) continue
          const target = candidates[Math.floor(Math.random() * candidates.length)]!

          await writer.stop()
          const { BacktrackIdentifier } = await rds.send(
            new BacktrackDBClusterCommand({ DBClusterIdentifier: 'labstack-cluster', BacktrackTo: target.at }),
          )
          let status = 'pending'
          const requested = Date.now()
          while (status !== 'completed' && status !== 'failed' && Date.now() - requested < 120_000) {
            await sleep(250)
            const { DBClusterBacktracks } = await rds.send(
              new DescribeDBClusterBacktracksCommand({ DBClusterIdentifier: 'labstack-cluster', BacktrackIdentifier }),
            )
            status = DBClusterBacktracks![0]!.Status!.toLowerCase()
          }
          expect(status).toBe('completed')
          await stopSysbench()

          // The backtrack closed the writer's connection too.
          seqConnection.destroy()
          seqConnection = await connect()
          const [[row]] = await seqConnection.query<RowDataPacket[]>('SELECT max(id) AS m, count(*) AS n FROM seq')
          const report = await cluster.engine.verify()
          console.log(
            `${new Date().toISOString()} backtrack to ${target.at.toISOString()}: ${status} in ` +
              `${Date.now() - requested} ms, max(id) ${String(row!['m'])} (mark ${target.maxId}), ` +
              `verify ${report.ok ? 'ok' : 'DRIFT'}, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`,
          )
          backtracks.push({
            to: target.at,
            expected: target.maxId,
            got: Number(row!['m']),
            count: Number(row!['n']),
            drift: !report.ok,
          })
          expect({ maxId: Number(row!['m']), count: Number(row!['n']) }).toEqual({
            maxId: target.maxId,
            count: target.maxId,
          })
          expect(report.tables.filter((table) => table.status !== 'same')).toEqual([])

          writer = new SequenceWriter(seqConnection, cluster, marks, target.maxId + 1)
          startSysbench()
          writer.start(Math.max(1_000, (PERIOD_SECONDS * 1000) / 4))
        }
      } finally {
        clearInterval(sampler)
        await writer.stop()
        await stopSysbench()
        await seqConnection.end()
      }
      sample()

      const third = (i: 0 | 2) => {
        const from = (SECONDS / 3) * i
        return samples.filter((s) => s.elapsed >= from && s.elapsed < from + SECONDS / 3)
      }
      const peak = (list: Sample[], key: 'rss' | 'pageLogBytes') => Math.max(...list.map((s) => s[key]))
      const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
      const first = third(0)
      const last = third(2)
      const { EarliestBacktrackTime } = (
        await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'labstack-cluster' }))
      ).DBClusters![0]!
      console.log(
        `soak ${SECONDS} s, window ${WINDOW_SECONDS} s: ${backtracks.length} backtracks, ` +
          `${backtracks.filter((b) => b.expected === b.got && b.count === b.got && !b.drift).length} exact; ` +
          `marks ${marks.length}; sysbench restarts ${sysbenchExits.length} (first exit: ${sysbenchExits[0] ?? '-'}); ` +
          `RSS peak first third ${mb(peak(first, 'rss'))} MB, last third ${mb(peak(last, 'rss'))} MB; ` +
          `page log peak first third ${mb(peak(first, 'pageLogBytes'))} MB, last third ` +
          `${mb(peak(last, 'pageLogBytes'))} MB, at the end ${mb(samples.at(-1)!.pageLogBytes)} MB ` +
          `(WAL ${mb(statSync(`${pageLogFile(dir.path)}-wal`, { throwIfNoEntry: false })?.size ?? 0)} MB); ` +
          `EarliestBacktrackTime ${((Date.now() - EarliestBacktrackTime!.getTime()) / 1000).toFixed(1)} s ago`,
      )

      // The first slots find no mark old enough inside the window yet.
      expect(backtracks.length).toBeGreaterThanOrEqual(Math.floor(SECONDS / PERIOD_SECONDS / 2))
      // Flat: the last third's peak within a generous bound of the first third's (a leak of a row version or a
      // statement per transaction would grow with the run).
      expect(peak(last, 'rss')).toBeLessThan(peak(first, 'rss') * 1.5 + 64 * 2 ** 20)
      // Bounded by the window: pruning keeps the log at about a window's worth of history (the window is at most a
      // third of the run, so a log that kept everything would be about three times the first third's peak).
      expect(peak(last, 'pageLogBytes')).toBeLessThan(peak(first, 'pageLogBytes') * 2 + 4 * 2 ** 20)
      expect(Date.now() - EarliestBacktrackTime!.getTime()).toBeLessThan((WINDOW_SECONDS + 15) * 1000)
    },
    (SECONDS + 240) * 1000,
  )
})
