import { describe, expect, it } from 'vitest'
import { parseSysbenchRun, runSysbench, sysbenchArgs } from './sysbench.js'

describe('sysbench', () => {
  it('parses sysbench run output', () => {
    const output = `
SQL statistics:
    transactions:                        44561  (2227.93 per sec.)
    ignored errors:                      3      (0.15 per sec.)
Latency (ms):
         95th percentile:                        3.05
`
    expect(parseSysbenchRun(output)).toEqual({ transactions: 44561, tps: 2227.93, p95Millis: 3.05, errors: 3 })
    expect(() => parseSysbenchRun('FATAL: nope')).toThrow(/no "transactions:" line/)
  })

  it('builds sysbench arguments', () => {
    const args = sysbenchArgs(
      {
        connection: { host: '127.0.0.1', port: 3307, user: 'admin', password: 'pw' },
        database: 'mylab',
        tables: 1,
        tableSize: 100,
        threads: 4,
        time: 5,
      },
      'run',
    )
    expect(args[0]).toBe('oltp_write_only')
    expect(args).toContain('--mysql-port=3307')
    expect(args).toContain('--time=5')
    expect(args.at(-1)).toBe('run')
  })

  it('says which command failed, without the password', async () => {
    const error = await runSysbench(['--mysql-password=secret', 'prepare'], 'false').catch((caught: unknown) => caught)
    expect(String(error)).toMatch(/sysbench --mysql-password=\*\*\* prepare failed/)
    expect(String(error)).not.toContain('secret')
  })
})
