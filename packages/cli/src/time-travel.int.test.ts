import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectMysql, type SqlConnection } from '@backtrack/aws-adapter'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// The built CLI as a user runs it: a subprocess, its exit code and its output.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const MAIN = join(ROOT, 'packages/cli/dist/main.js')

interface Run {
  code: number
  stdout: string
  stderr: string
}

function backtrack(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    )
  })
}

function json<T = Record<string, unknown>>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`)
  }
}

const dirs: string[] = []
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

beforeAll(() => {
  execFileSync('pnpm', ['exec', 'tsc', '-b'], { cwd: ROOT, stdio: 'inherit' })
}, 300_000)

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

describe('backtrack lab', () => {
  it('runs the seed lab end to end on a temporary cluster and passes', async () => {
    const run = await backtrack('lab', '--table-size', '20000', '--loader', 'builtin')
    expect(run.stdout).toContain('mysql> DROP TABLE sbtest1;')
    expect(run.stdout).toMatch(/aws rds backtrack-db-cluster --db-cluster-identifier labstack-cluster/)
    expect(run.stdout).toMatch(/--endpoint-url http:\/\/127\.0\.0\.1:\d+/)
    expect(run.stdout).toMatch(/backtrack completed\s+cluster available/)
    expect(run.stdout).toContain('✓ CHECKSUM TABLE sbtest1 =')
    expect(run.stdout).toMatch(/PASS {2}Backtrack a DB Cluster: 15\/15 steps/)
    expect(run.code).toBe(0)
  }, 300_000)
})

describe('backtrack run', () => {
  it.each(['delete-without-where.yaml', 'bad-migration.yaml'])(
    'passes the shipped scenario %s',
    async (file) => {
      const run = await backtrack('run', join('scenarios', file), '--json')
      const result = json<{ passed: boolean; failures: unknown[] }>(run)
      expect(result.failures).toEqual([])
      expect(result.passed).toBe(true)
      expect(run.code).toBe(0)
    },
    180_000,
  )

  it('shows expected against actual for a failed expect and exits 1', async () => {
    const dir = temp('backtrack-scenario-')
    const file = join(dir, 'fails.yaml')
    writeFileSync(
      file,
      'name: fails\nsteps:\n  - sql: CREATE TABLE t (id INT PRIMARY KEY)\n  - expect:\n      rows:\n        t: 3\n',
    )
    const run = await backtrack('run', file)
    expect(run.stdout).toContain('✗ line 6: expect rows failed (line 6)')
    expect(run.stdout).toContain('expected 3 rows in t')
    expect(run.stdout).toContain('actual   0 rows')
    expect(run.code).toBe(1)
  }, 120_000)
})

describe('on a running local cluster', () => {
  let dataDir: string
  let sql: SqlConnection

  beforeAll(async () => {
    dataDir = temp('backtrack-cli-e2e-')
    const up = await backtrack('up', '--detach', '--data-dir', dataDir, '--json')
    expect(up.code, up.stderr).toBe(0)
    const lab = await backtrack(
      'run',
      'scenarios/aurora-backtrack-lab.yaml',
      '--var',
      'table_size=2000',
      '--data-dir',
      dataDir,
      '--json',
      '--loader',
      'builtin',
    )
    expect(json<{ passed: boolean }>(lab).passed).toBe(true)
    // Backtracks close every connection, as Aurora's do: connect after them.
    sql = await reconnect()
  }, 300_000)

  afterAll(async () => {
    await sql?.close()
    if (dataDir !== undefined) await backtrack('down', '--data-dir', dataDir)
  }, 120_000)

  const checksum = async () => String((await sql.query('CHECKSUM TABLE sbtest1'))[0]?.['Checksum'])

  it('to --dry-run previews a backtrack without changing anything', async () => {
    const original = await checksum()
    const preview = await backtrack('to', 'after-drop', '--dry-run', '--data-dir', dataDir)
    expect(preview.code, preview.stderr).toBe(0)
    // The lab ended at before-drop; at after-drop sbtest1 did not exist, so going there redoes the DROP.
    expect(preview.stdout).toMatch(/redoes DROP TABLE `sbtest1`/)
    expect(preview.stdout).toContain('mylab.sbtest1: dropped (it did not exist then; 2000 rows now)')
    expect(preview.stdout).toMatch(/\$ backtrack to \S+ --data-dir \S+ --wait/)
    expect(preview.stdout).toMatch(/\$ aws rds backtrack-db-cluster --db-cluster-identifier labstack-cluster/)
    const json = JSON.parse(
      (await backtrack('to', 'after-drop', '--dry-run', '--json', '--data-dir', dataDir)).stdout,
    ) as { tables: { table: string; change: string; inserted: number }[] }
    expect(json.tables).toEqual([
      expect.objectContaining({ table: 'mylab.sbtest1', change: 'created', inserted: 2000 }),
    ])
    expect(await checksum()).toBe(original)
    const list = JSON.parse((await backtrack('list', '--data-dir', dataDir, '--json')).stdout) as unknown[]
    expect(list).toHaveLength(2) // the lab's two; the previews started none

    const unknown = await backtrack('diff', '--from', 'no-such-marker', '--data-dir', dataDir)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('Unknown marker "no-such-marker". Known markers: ')
  }, 120_000)

  it('find locates the DROP, and its suggested command restores the table', async () => {
    const original = await checksum()
    const away = await backtrack('to', 'after-drop', '--wait', '--data-dir', dataDir, '--json')
    expect(json(away)).toMatchObject({ Status: 'completed' })
    await sql.close()
    sql = await reconnect()
    expect(await sql.query("SHOW TABLES LIKE 'sbtest1'")).toEqual([])

    const found = json<{ sql: string; safeTo: string; command: string }[]>(
      await backtrack('find', '--ddl', 'DROP TABLE sbtest1', '--data-dir', dataDir, '--json'),
    )
    expect(found).toHaveLength(1)
    expect(found[0]!.sql).toMatch(/DROP TABLE `sbtest1`/)
    const command = found[0]!.command.split(' ')
    expect(command.slice(0, 2)).toEqual(['backtrack', 'to'])
    const restore = await backtrack(...command.slice(1))
    expect(restore.code, restore.stderr).toBe(0)
    await sql.close()
    sql = await reconnect()
    expect(await checksum()).toBe(original)

    const human = await backtrack('find', '--table', 'sbtest1', '--data-dir', dataDir)
    expect(human.stdout).toMatch(/DDL {2}DROP TABLE `sbtest1`/)
    expect(human.stdout).toContain('$ backtrack to ')
  }, 120_000)

  it('diff reports the drop and show reads the rows as they were, matching the server', async () => {
    const diff = json<{ ddl: { sql: string }[]; tables: unknown[] }>(
      await backtrack('diff', '--from', 'before-drop', '--to', 'after-drop', '--data-dir', dataDir, '--json'),
    )
    expect(diff.ddl.map((event) => event.sql)).toEqual([expect.stringMatching(/^DROP TABLE `sbtest1`/)])
    expect(diff.tables).toEqual([expect.objectContaining({ table: 'mylab.sbtest1', change: 'dropped', deleted: 2000 })])

    const shown = json<{ total: number; columns: string[]; rows: Record<string, string>[] }>(
      await backtrack(
        'show',
        'mylab.sbtest1',
        '--as-of',
        'before-drop',
        '--limit',
        '3',
        '--data-dir',
        dataDir,
        '--json',
      ),
    )
    expect(shown.total).toBe(2000)
    expect(shown.columns).toEqual(['id', 'k', 'c', 'pad'])
    // The table now holds the state at before-drop again.
    const rows = await sql.query('SELECT id, k, c, pad FROM sbtest1 ORDER BY id LIMIT 3')
    expect(shown.rows).toEqual(
      rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)]))),
    )

    const missing = await backtrack('show', 'sbtest1', '--as-of', 'after-drop', '--data-dir', dataDir)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no table sbtest1 at')
  }, 120_000)

  it('list shows the backtracks, newest first', async () => {
    const list = json<{ Status: string }[]>(await backtrack('list', '--data-dir', dataDir, '--json'))
    expect(list.length).toBeGreaterThanOrEqual(4) // two from the lab, two from find
    expect(list.every((record) => record.Status === 'completed')).toBe(true)
  }, 60_000)

  async function reconnect(): Promise<SqlConnection> {
    const up = json<{ sql: { host: string; port: number; user: string; password: string } }>(
      await backtrack('status', '--data-dir', dataDir, '--json'),
    )
    return connectMysql({ ...up.sql, database: 'mylab' })
  }
})

describe('usage errors', () => {
  it('exit 2 with the line of a malformed scenario', async () => {
    const dir = temp('backtrack-bad-')
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'name: bad\nsteps:\n  - sql: SELECT 1\n  - backtrack: to nowhere\n')
    const run = await backtrack('run', file)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`${file}:4:5: backtrack to unknown marker "nowhere"`)
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })

  it('exit 2 for bad times, missing filters, --live on simulator-only commands and unknown options', async () => {
    const bad = await backtrack('to', 'yesterday at noon')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('Invalid time "yesterday at noon"')
    const find = await backtrack('find')
    expect(find.code).toBe(2)
    expect(find.stderr).toContain('find needs --ddl <text>, --table <name> or --sql <text>')
    const live = await backtrack('diff', '--from', '-5m', '--live')
    expect(live.code).toBe(2)
    expect(live.stderr).toContain('UnsupportedOperation: `backtrack diff` reads the simulator')
    expect((await backtrack('lab', '--table-size', 'lots')).code).toBe(2)
    expect((await backtrack('run')).code).toBe(2)
    expect((await backtrack('run', '/no/such/file.yaml')).stderr).toContain(
      'cannot read scenario /no/such/file.yaml: ENOENT',
    )
  })

  it('every command has --help with examples', async () => {
    for (const command of ['lab', 'to', 'list', 'run', 'find', 'diff', 'show']) {
      const help = await backtrack(command, '--help')
      expect(help.code).toBe(0)
      expect(help.stdout).toContain('Examples:')
    }
  })
})
