// The built CLI as a user runs it: `node packages/cli/dist/main.js …` in a subprocess. The build is refreshed in
// beforeAll (`tsc -b` is incremental); a detached `up` re-runs the same script, so it has to be the built one.
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..')
const MAIN = join(ROOT, 'packages/cli/dist/main.js')
const PATH = `/usr/bin:/bin:${process.env.PATH ?? ''}`
const has = (tool: string) => spawnSync('sh', ['-c', `PATH=/usr/bin:/bin command -v ${tool}`]).status === 0
const missing = ['mysql', 'aws', 'jq'].filter((tool) => !has(tool))
const suite = missing.length === 0 ? describe : describe.skip
const skipNote = missing.length === 0 ? '' : ` (skipped: ${missing.join(', ')} not installed in /usr/bin)`

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      {
        env: {
          PATH,
          HOME: process.env.HOME ?? tmpdir(),
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_PAGER: '',
          AWS_MAX_ATTEMPTS: '1',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          ...env,
        },
        timeout: 240_000,
      },
      (error, stdout, stderr) =>
        done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
    )
  })
}

const cli = (...args: string[]) => run(process.execPath, [MAIN, ...args])

interface UpJson {
  clusterIdentifier: string
  status: string
  sql: { host: string; port: number; user: string; password: string; database: string }
  rdsEndpoint: string
  region: string
  dataDir: string
}

/** Alive and not a zombie (an orphan's exit may be reaped late). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

suite.sequential(`backtrack up/status/mark/down (built CLI)${skipNote}`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'backtrack-cli-up-'))
  let up: UpJson

  const sql = (statement: string) =>
    run('mysql', [
      `-h${up.sql.host}`,
      `-P${up.sql.port}`,
      `-u${up.sql.user}`,
      `-p${up.sql.password}`,
      up.sql.database,
      '-N',
      '-e',
      statement,
    ])

  const state = () =>
    JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as { pid: number; serverPid: number }

  beforeAll(async () => {
    // Incremental; a failing project elsewhere in the tree still emits, so only a missing main.js stops the suite.
    await run('pnpm', ['exec', 'tsc', '-b'], { PATH: process.env.PATH ?? '' })
    expect(existsSync(MAIN)).toBe(true)
  }, 240_000)

  afterAll(async () => {
    // Whatever happened above, leave no cluster process or server behind.
    if (existsSync(join(dataDir, 'cluster.json'))) await cli('down', '--data-dir', dataDir)
    rmSync(dataDir, { recursive: true, force: true })
  }, 120_000)

  it('exits 2 on a usage error and 1, naming the fix, when no cluster is there', async () => {
    const usage = await cli('up', '--sql-port', 'abc')
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('--sql-port')
    const none = await cli('status', '--data-dir', join(dataDir, 'nothing-here'))
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/^backtrack: no cluster in .*: start one with `backtrack up --data-dir/)
    expect(none.stderr).not.toContain('    at ')
    const help = await cli('up', '--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Examples:')
  })

  it('starts detached, prints one JSON object, and a second up reports the running cluster', async () => {
    const started = await cli('up', '--detach', '--json', '--data-dir', dataDir)
    expect(started.code, started.stderr).toBe(0)
    up = JSON.parse(started.stdout) as UpJson
    expect(Object.keys(up)).toEqual([
      'clusterIdentifier',
      'status',
      'sql',
      'rdsEndpoint',
      'region',
      'dataDir',
      'console',
    ])
    expect(up).toMatchObject({ clusterIdentifier: 'labstack-cluster', status: 'available', region: 'us-east-1' })
    expect(up.sql).toMatchObject({ host: '127.0.0.1', user: 'admin', database: 'mylab' })
    expect(up.rdsEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect((up as UpJson & { console: string }).console).toBe(`${up.rdsEndpoint}/console/`)

    const again = await cli('up', '--detach', '--data-dir', dataDir)
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('labstack-cluster is already running')
    expect(again.stdout).toContain(`export DBPASS=${up.sql.password}`)
    expect(again.stdout).toContain(`export ENDPOINT_URL=${up.rdsEndpoint}`)
  })

  it('shows status and prints marks', async () => {
    const status = await cli('status', '--json', '--data-dir', dataDir)
    expect(status.code, status.stderr).toBe(0)
    const parsed = JSON.parse(status.stdout) as Record<string, unknown>
    expect(parsed).toMatchObject({ status: 'available', backtrackWindow: 86400, pid: state().pid })
    expect(parsed.serverPid).toBe(state().serverPid)
    expect(typeof parsed.captureLagMillis).toBe('number')
    expect(typeof parsed.earliestBacktrackTime).toBe('string')
    const human = await cli('status', '--data-dir', dataDir)
    expect(human.stdout).toMatch(/process ids +cluster \d+, server \d+/)
    const mark = await cli('mark', '--data-dir', dataDir)
    expect(mark.stdout.trim()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('recovers from kill -9 of the cluster process with its history intact', async () => {
    expect((await sql('CREATE TABLE ledger (id INT PRIMARY KEY); INSERT INTO ledger VALUES (1), (2)')).code).toBe(0)
    const mark = (await cli('mark', '--data-dir', dataDir)).stdout.trim()
    expect((await sql('INSERT INTO ledger VALUES (3); DELETE FROM ledger WHERE id = 1')).code).toBe(0)

    const before = state()
    process.kill(before.pid, 'SIGKILL')
    while (alive(before.pid)) await sleep(20)
    expect((await cli('status', '--data-dir', dataDir)).code).toBe(1)

    const restarted = await cli('up', '--detach', '--json', '--data-dir', dataDir)
    expect(restarted.code, restarted.stderr).toBe(0)
    const again = JSON.parse(restarted.stdout) as UpJson
    // Same ports and credentials; the server the killed process left running was adopted.
    expect(again.sql).toEqual(up.sql)
    expect(again.rdsEndpoint).toBe(up.rdsEndpoint)
    expect(state().serverPid).toBe(before.serverPid)
    expect(state().pid).not.toBe(before.pid)
    expect((await sql('SELECT id FROM ledger ORDER BY id')).stdout.trim().split('\n')).toEqual(['2', '3'])

    const backtrack = await run('bash', [
      '-o',
      'pipefail',
      '-c',
      `aws rds backtrack-db-cluster --db-cluster-identifier labstack-cluster --backtrack-to "${mark}" --endpoint-url ${up.rdsEndpoint} | jq -r .Status`,
    ])
    expect(backtrack.code, backtrack.stderr).toBe(0)
    for (;;) {
      const status = await run('bash', [
        '-o',
        'pipefail',
        '-c',
        `aws rds describe-db-clusters --db-cluster-identifier labstack-cluster --endpoint-url ${up.rdsEndpoint} | jq -r '.DBClusters[0].Status'`,
      ])
      expect(status.code, status.stderr).toBe(0)
      if (status.stdout.trim() === 'available') break
      await sleep(200)
    }
    expect((await sql('SELECT id FROM ledger ORDER BY id')).stdout.trim().split('\n')).toEqual(['1', '2'])
  })

  it('verify says every table matches, and names drift made behind the binlog with its table and first key', async () => {
    const clean = await cli('verify', '--data-dir', dataDir)
    expect(clean.code, clean.stderr).toBe(0)
    expect(clean.stdout).toMatch(/same +mylab\.ledger \(2 rows\)/)
    expect(clean.stdout).toContain('every table matches the page log')
    // The simulator's own account may write without the binlog: a change no capture can see.
    const { admin } = JSON.parse(readFileSync(join(dataDir, 'mysql', 'backtrack-server.json'), 'utf8')) as {
      admin: { user: string; password: string }
    }
    const behind = (statement: string) =>
      run('mysql', [
        `-h${up.sql.host}`,
        `-P${up.sql.port}`,
        `-u${admin.user}`,
        `-p${admin.password}`,
        'mylab',
        '-e',
        statement,
      ])
    expect((await behind('SET sql_log_bin = 0; UPDATE ledger SET id = 9 WHERE id = 2')).code).toBe(0)
    const drifted = await cli('verify', '--json', '--data-dir', dataDir)
    expect(drifted.code).toBe(1)
    const report = JSON.parse(drifted.stdout) as {
      ok: boolean
      tables: { table: string; status: string; firstDifference?: unknown }[]
    }
    expect(report.ok).toBe(false)
    expect(report.tables.find((t) => t.table === 'ledger')).toMatchObject({
      status: 'differs',
      firstDifference: { key: ['2'], kind: 'missing' },
    })
    const human = await cli('verify', '--data-dir', dataDir)
    expect(human.stdout).toContain('DIFFERS  mylab.ledger: first at key (2): missing on the server')
    expect((await behind('SET sql_log_bin = 0; UPDATE ledger SET id = 2 WHERE id = 9')).code).toBe(0)
    expect((await cli('verify', '--data-dir', dataDir)).code).toBe(0)
  })

  it('stops with down (cluster process and server gone) and deletes the data with --purge', async () => {
    const { pid, serverPid } = state()
    const down = await cli('down', '--json', '--data-dir', dataDir)
    expect(down.code, down.stderr).toBe(0)
    expect(JSON.parse(down.stdout)).toEqual({
      clusterIdentifier: 'labstack-cluster',
      status: 'stopped',
      purged: false,
      dataDir,
    })
    expect(alive(pid)).toBe(false)
    expect(alive(serverPid)).toBe(false)
    expect((await cli('status', '--json', '--data-dir', dataDir)).code).toBe(1)
    const purge = await cli('down', '--purge', '--data-dir', dataDir)
    expect(purge.code, purge.stderr).toBe(0)
    expect(purge.stdout).toContain(`deleted ${dataDir}`)
    expect(existsSync(dataDir)).toBe(false)
  })
})
