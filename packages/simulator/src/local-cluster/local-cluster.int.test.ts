import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeEventsCommand,
  ModifyDBClusterCommand,
  RDSClient,
} from '@aws-sdk/client-rds'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '@backtrack/mysql-server/testing'
import { readClusterState } from './cluster-state.js'
import { LOCAL_POLL, LocalClusterClient } from './local-cluster-client.js'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

// The lab's commands say `aws`; with /usr/bin first on PATH that is Debian's AWS CLI v2, not the pyenv v1.
const PATH = '/usr/bin:/bin'
const has = (tool: string) => spawnSync('sh', ['-c', `PATH=${PATH} command -v ${tool}`]).status === 0
const missing = ['aws', 'jq', 'mysql'].filter((tool) => !has(tool) || (tool === 'aws' && !existsSync('/usr/bin/aws')))
const suite = missing.length === 0 ? describe : describe.skip
const skipNote = missing.length === 0 ? '' : ` (skipped: ${missing.join(', ')} not installed in /usr/bin)`
const sysbenchIt = has('sysbench') ? it : it.skip
const sysbenchNote = has('sysbench') ? '' : ' (skipped: sysbench is not installed)'

interface Run {
  code: number
  stdout: string
  stderr: string
}

suite.sequential(`local cluster${skipNote}`, () => {
  const dir = tempDir('backtrack-local-cluster-')
  let cluster: StartedLocalCluster
  let env: Record<string, string>

  /** Runs a shell snippet in the lab's environment: DBUSER, DBPASS, CLUSTER_ENDPOINT, ENDPOINT_URL exported. */
  function sh(command: string): Promise<Run> {
    return new Promise((resolve) => {
      execFile('bash', ['-o', 'pipefail', '-c', command], { env, timeout: 120_000 }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
      })
    })
  }

  async function ok(command: string): Promise<string> {
    const run = await sh(command)
    expect(run.stderr.replace(/^.*Using a password on the command line.*\n?/gm, '')).toBe('')
    expect(run.code).toBe(0)
    return run.stdout
  }

  /** The lab's `describe-db-clusters | jq -r '.DBClusters[0].Status'`, with --endpoint-url added. */
  const clusterStatus = async () =>
    (
      await ok(`aws rds describe-db-clusters \\
--db-cluster-identifier labstack-cluster --endpoint-url $ENDPOINT_URL \\
| jq -r '.DBClusters[0].Status'`)
    ).trim()

  /** Repeats the status command until the cluster is `available`; returns the statuses seen, in order. */
  async function trackBacktrack(): Promise<string[]> {
    const seen: string[] = []
    for (let i = 0; i < 300; i++) {
      const status = await clusterStatus()
      if (seen.at(-1) !== status) seen.push(status)
      if (status === 'available') break
    }
    return seen
  }

  /** `mysql -h[clusterEndpoint] -u$DBUSER -p"$DBPASS" mylab` fed the lab's SQL through stdin; the port comes
   * from MYSQL_TCP_PORT, and `quit;` is left out: the client reads it as SQL when not interactive. */
  const labSql = (sql: string) => ok(`mysql -h$CLUSTER_ENDPOINT -u$DBUSER -p"$DBPASS" mylab <<'SQL'\n${sql}\nSQL`)

  /** `SELECT current_timestamp()` → the lab's `--backtrack-to` form, whole seconds with a Z. */
  const marker = async () => {
    const out = await labSql('SELECT current_timestamp();')
    const value = out.trim().split('\n').at(-1)!
    expect(value).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    return `${value.replace(' ', 'T')}Z`
  }

  const plusSeconds = (time: string, seconds: number) =>
    new Date(new Date(time).getTime() + seconds * 1000).toISOString().replace('.000Z', 'Z')

  beforeAll(async () => {
    // Aurora keeps a request pending for a while; long enough here for a slow `aws` start (seconds on a loaded machine)
    // to see `backtracking`.
    cluster = await startLocalCluster({ dataDir: dir.path, pendingMillis: 8_000 })
    const { sql, rdsEndpoint } = cluster.info()
    env = {
      PATH,
      HOME: dir.path,
      DBUSER: sql.user,
      DBPASS: sql.password,
      CLUSTER_ENDPOINT: sql.host,
      CLUSTER_PORT: String(sql.port),
      MYSQL_TCP_PORT: String(sql.port),
      ENDPOINT_URL: rdsEndpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
      AWS_MAX_ATTEMPTS: '1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    }
  })

  afterAll(async () => {
    await cluster?.stop()
    dir[Symbol.dispose]()
  })

  it('records itself in cluster.json and describes its SQL endpoint as Endpoint/Port', async () => {
    const state = readClusterState(dir.path)
    expect(state).toMatchObject({ status: 'available', pid: process.pid, clusterIdentifier: 'labstack-cluster' })
    expect(state?.serverPid).toBe(cluster.node.server.pid)
    const described = JSON.parse(
      await ok('aws rds describe-db-clusters --db-cluster-identifier labstack-cluster --endpoint-url $ENDPOINT_URL'),
    ) as { DBClusters: { Endpoint: string; Port: number; Status: string; BacktrackWindow: number }[] }
    expect(described.DBClusters[0]).toMatchObject({
      Endpoint: '127.0.0.1',
      Port: cluster.info().sql.port,
      Status: 'available',
      BacktrackWindow: 86400,
    })
    // No proxy in the data path: the SQL endpoint is the server itself.
    expect(described.DBClusters[0]!.Port).toBe(cluster.node.server.port)
  })

  it('is reached by its data dir through LocalClusterClient: state, status, exact and named marks, history', async () => {
    const client = new LocalClusterClient(dir.path)
    expect(client.running()).toMatchObject({ clusterIdentifier: 'labstack-cluster', pid: process.pid })
    expect(client.info()).toEqual(cluster.info())
    expect(client.rdsTarget()).toEqual({
      clusterIdentifier: 'labstack-cluster',
      endpointUrl: cluster.info().rdsEndpoint,
      region: 'us-east-1',
      sql: { user: cluster.info().sql.user, password: cluster.info().sql.password },
      poll: LOCAL_POLL,
    })
    expect(await client.status()).toMatchObject({ clusterIdentifier: 'labstack-cluster', pid: process.pid })
    const named = await client.mark({ name: 'client-mark' })
    expect((await client.mark()).getTime()).toBeGreaterThanOrEqual(named.getTime())
    const history = client.history()
    try {
      expect(Math.floor((await history.resolve('client-mark')) / 1000)).toBe(named.getTime())
    } finally {
      history.close()
    }
    await expect(client.mark({ clusterIdentifier: 'no-such-cluster' })).rejects.toMatchObject({
      code: 'DBClusterNotFoundFault',
      message: 'DBCluster no-such-cluster not found.',
    })
    await expect(new LocalClusterClient(join(dir.path, 'nothing-here')).status()).rejects.toMatchObject({
      code: 'DBClusterNotFoundFault',
      message: expect.stringMatching(/^no cluster in .*nothing-here: start one with/),
    })
  })

  sysbenchIt(
    `runs seed-lab.md: sysbench prepare, DROP TABLE, backtrack past and before it${sysbenchNote}`,
    async () => {
      // Connect, Load Data (the prerequisite lab), at a size a test can afford.
      await ok(`sysbench oltp_write_only \\
--threads=1 \\
--mysql-host=$CLUSTER_ENDPOINT \\
--mysql-user=$DBUSER \\
--mysql-password="$DBPASS" \\
--mysql-port=$CLUSTER_PORT \\
--tables=1 \\
--mysql-db=mylab \\
--table-size=20000 prepare`)
      const checksum = async () => (await labSql('checksum table sbtest1;')).trim().split('\n').at(-1)!
      const original = await checksum()
      await sleep(1_100)

      // 1. Make unintended data changes (a second apart, as the lab advises, so whole-second markers separate them).
      const first = await marker()
      await sleep(1_100)
      await labSql('DROP TABLE sbtest1;')
      await sleep(1_100)
      const second = await marker()
      await sleep(1_100)

      // 2. Backtrack to slightly after the second marker: the table is gone.
      const backtrack = JSON.parse(
        await ok(`aws rds backtrack-db-cluster \\
--db-cluster-identifier labstack-cluster \\
--backtrack-to "${plusSeconds(second, 1)}" --endpoint-url $ENDPOINT_URL`),
      ) as { Status: string; BacktrackTo: string }
      expect(backtrack.Status.toLowerCase()).toBe('pending')
      expect(await trackBacktrack()).toEqual(['backtracking', 'available'])
      expect(await labSql('show tables;')).not.toContain('sbtest1')

      // Then to slightly before the first marker: the table is back with the original data.
      await ok(`aws rds backtrack-db-cluster \\
--db-cluster-identifier labstack-cluster \\
--backtrack-to "${first}" --endpoint-url $ENDPOINT_URL`)
      expect(await trackBacktrack()).toEqual(['backtracking', 'available'])
      expect(await labSql('show tables;\n\nchecksum table sbtest1;')).toContain('sbtest1')
      expect(await checksum()).toBe(original)

      const history = JSON.parse(
        await ok(
          'aws rds describe-db-cluster-backtracks --db-cluster-identifier labstack-cluster --endpoint-url $ENDPOINT_URL',
        ),
      ) as { DBClusterBacktracks: { Status: string; BacktrackTo: string }[] }
      expect(history.DBClusterBacktracks.map((record) => record.Status.toLowerCase())).toEqual([
        'completed',
        'completed',
      ])
    },
    300_000,
  )

  it('disconnects a client during a rewind, refuses logins until available, then serves the rewound state', async () => {
    const { sql } = cluster.info()
    const options = { host: sql.host, port: sql.port, user: sql.user, password: sql.password, database: 'mylab' }
    const setup = await mysql.createConnection(options)
    await setup.query('CREATE TABLE IF NOT EXISTS ledger (id INT PRIMARY KEY)')
    await setup.query('INSERT INTO ledger VALUES (1)')
    await setup.end()
    const mark = await cluster.mark()

    const client = await mysql.createConnection(options)
    client.on('error', () => {}) // the server-side close arrives as an error event too
    await client.query('INSERT INTO ledger VALUES (2)')
    // The simulator's own account is never disconnected: its lock on the row the rewind deletes keeps it applying.
    const holder = await mysql.createConnection({
      ...cluster.node.server.connectionOptions('admin'),
      database: 'mylab',
    })
    await holder.query('BEGIN')
    await holder.query('SELECT * FROM ledger WHERE id = 2 FOR UPDATE')
    await client.query('BEGIN')
    await client.query('INSERT INTO ledger VALUES (3)') // uncommitted: Aurora drops it

    try {
      const record = await cluster.node.backtrack({ backtrackTo: mark })
      expect(await cluster.node.engine.clientConnections()).toBeGreaterThan(0)
      // While pending the client still works; once the rewind applies, it is disconnected.
      await expect(
        (async () => {
          for (;;) {
            await client.query('SELECT 1')
            await sleep(50)
          }
        })(),
      ).rejects.toThrow()
      // Every client session is closed by now; a login that lands on that (mid-login, it may) sees the connection
      // closed. Once it applies, as on Aurora, a login is refused with a reason until the cluster is available.
      const status = async () =>
        (await cluster.node.describeBacktracks({ backtrackIdentifier: record.BacktrackIdentifier })).backtracks[0]!
          .Status
      while ((await status()) !== 'applying') await sleep(50)
      await expect(mysql.createConnection(options)).rejects.toThrow(/this account is locked/)
      await holder.query('ROLLBACK')
      let reconnected: mysql.Connection | undefined
      while (reconnected === undefined) {
        reconnected = await mysql.createConnection(options).catch((error: Error) => {
          expect(error.message).toMatch(/this account is locked/)
          return sleep(10).then(() => undefined)
        })
      }
      const [rows] = await reconnected.query<RowDataPacket[]>('SELECT id FROM ledger ORDER BY id')
      expect(rows.map((row) => row.id)).toEqual([1])
      expect((await cluster.node.describeCluster()).Status).toBe('available')
      expect(await status()).toBe('completed')
      await reconnected.end()
    } finally {
      // A failure above must not leave this backtrack running (accounts locked) into the next test.
      await holder.end().catch(() => undefined)
      await cluster.node.engine.idle()
      client.destroy()
    }
  })

  it('refuses a window change and a second backtrack while a backtrack is pending and while it applies', async () => {
    const { sql } = cluster.info()
    const options = { host: sql.host, port: sql.port, user: sql.user, password: sql.password, database: 'mylab' }
    const setup = await mysql.createConnection(options)
    await setup.query('CREATE TABLE busy (id INT PRIMARY KEY, v INT)')
    await setup.query('INSERT INTO busy VALUES (1, 1)')
    await setup.end()
    const target = await cluster.mark()
    const writer = await mysql.createConnection(options)
    await writer.query('UPDATE busy SET v = 2')
    await writer.end()
    await cluster.mark()
    // The simulator's own account is never disconnected: a row lock it holds keeps the rewind applying.
    const holder = await mysql.createConnection({
      ...cluster.node.server.connectionOptions('admin'),
      database: 'mylab',
    })
    await holder.query('BEGIN')
    await holder.query('SELECT * FROM busy FOR UPDATE')
    const refused = async () => {
      const runs = await Promise.all([
        sh(
          'aws rds modify-db-cluster --db-cluster-identifier labstack-cluster --backtrack-window 7200 --endpoint-url $ENDPOINT_URL',
        ),
        sh(
          `aws rds backtrack-db-cluster --db-cluster-identifier labstack-cluster --backtrack-to "${target.toISOString()}" --endpoint-url $ENDPOINT_URL`,
        ),
      ])
      for (const run of runs) {
        expect(run.code).not.toBe(0)
        expect(run.stderr).toContain('InvalidDBClusterStateFault')
      }
    }
    try {
      const record = JSON.parse(
        await ok(`aws rds backtrack-db-cluster --db-cluster-identifier labstack-cluster \
--backtrack-to "${target.toISOString()}" --endpoint-url $ENDPOINT_URL`),
      ) as { BacktrackIdentifier: string }
      await refused() // pending
      const applying = async () =>
        (await cluster.node.describeBacktracks({ backtrackIdentifier: record.BacktrackIdentifier })).backtracks[0]!
          .Status
      while ((await applying()) !== 'applying') await sleep(50)
      await refused()
      expect(await applying()).toBe('applying')
      expect((await cluster.node.describeCluster()).BacktrackWindow).toBe(86400)
      await holder.query('COMMIT')
      expect(await trackBacktrack()).toContain('available')
      expect(
        (await cluster.node.describeBacktracks({ backtrackIdentifier: record.BacktrackIdentifier })).backtracks[0]!
          .Status,
      ).toBe('completed')
      expect(await labSql('SELECT v FROM busy;')).toMatch(/\n1\n$/)
      const history = await cluster.node.describeBacktracks()
      expect(
        history.backtracks.filter(
          (b) => b.BacktrackIdentifier !== record.BacktrackIdentifier && b.Status !== 'completed',
        ),
      ).toEqual([])
    } finally {
      await holder.end().catch(() => undefined)
    }
  }, 120_000)

  it('creates, serves and deletes another cluster through CreateDBCluster/DeleteDBCluster, with events', async () => {
    const rds = new RDSClient({
      endpoint: cluster.info().rdsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    })
    const created = await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: 'Second-Cluster',
        Engine: 'aurora-mysql',
        BacktrackWindow: 3600,
        MasterUsername: 'labuser',
        MasterUserPassword: 'lab-password-1',
        DatabaseName: 'other',
      }),
    )
    expect(created.DBCluster).toMatchObject({ DBClusterIdentifier: 'second-cluster', BacktrackWindow: 3600 })
    const port = created.DBCluster!.Port!
    expect(port).not.toBe(cluster.info().sql.port)
    // As in Aurora, the cluster answers SQL once it has a writer instance.
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'second-writer',
        DBClusterIdentifier: 'second-cluster',
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-mysql',
      }),
    )
    const conn = await mysql.createConnection({
      host: created.DBCluster!.Endpoint!,
      port,
      user: 'labuser',
      password: 'lab-password-1',
      database: 'other',
    })
    await conn.query('CREATE TABLE t (id INT PRIMARY KEY)')
    await conn.end()
    const node = cluster.registry.node('second-cluster')!
    const serverPid = node.server.pid!

    const modified = await rds.send(
      new ModifyDBClusterCommand({ DBClusterIdentifier: 'second-cluster', BacktrackWindow: 7200 }),
    )
    expect(modified.DBCluster?.BacktrackWindow).toBe(7200)
    const listed = await rds.send(new DescribeDBClustersCommand({}))
    expect(listed.DBClusters?.map((c) => c.DBClusterIdentifier)).toEqual(['labstack-cluster', 'second-cluster'])

    await expect(
      rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'labstack-cluster', SkipFinalSnapshot: true })),
    ).rejects.toMatchObject({ name: 'InvalidDBClusterStateFault' })
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'second-writer' }))
    const deleted = await rds.send(
      new DeleteDBClusterCommand({ DBClusterIdentifier: 'second-cluster', SkipFinalSnapshot: true }),
    )
    expect(deleted.DBCluster?.Status).toBe('deleting')
    await cluster.registry.settled()
    await expect(
      rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'second-cluster' })),
    ).rejects.toMatchObject({ name: 'DBClusterNotFoundFault' })
    expect(existsSync(join(dir.path, 'clusters', 'second-cluster'))).toBe(false)
    expect(() => process.kill(serverPid, 0)).toThrow()

    const events = await rds.send(new DescribeEventsCommand({ Duration: 60 }))
    const messages = events.Events?.map((event) => `${event.SourceIdentifier}: ${event.Message}`) ?? []
    expect(messages).toContain('second-cluster: DB cluster created.')
    expect(messages).toContain('second-writer: DB instance created.')
    expect(messages).toContain('second-writer: DB instance deleted.')
    expect(messages).toContain('second-cluster: DB cluster deleted.')
    expect(messages.some((m) => /^second-cluster: The target Backtrack window was modified to 7200/.test(m))).toBe(true)
    const backtrackEvents = await rds.send(
      new DescribeEventsCommand({ SourceIdentifier: 'labstack-cluster', EventCategories: ['backtrack'] }),
    )
    const texts = backtrackEvents.Events?.map((event) => event.Message) ?? []
    expect(texts.some((text) => /^Backtrack to .* requested/.test(text ?? ''))).toBe(true)
    expect(texts.some((text) => /^Backtrack to .* started\.$/.test(text ?? ''))).toBe(true)
    expect(texts.some((text) => /^Backtrack to .* completed\.$/.test(text ?? ''))).toBe(true)
    rds.destroy()
  })
})
