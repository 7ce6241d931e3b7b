import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '@backtrack/mysql-server/testing'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

// examples/aws-cli/aurora-runbook.sh is a runbook written for AWS (create a cluster and its writer, wait, tag,
// backtrack, restore to a point in time, read the metrics, clean up). It must run unchanged here, with the Debian
// AWS CLI v2 (/usr/bin/aws, first on PATH as the lab's `aws`) and jq; only --endpoint-url differs.
const RUNBOOK = fileURLToPath(new URL('../../../../examples/aws-cli/aurora-runbook.sh', import.meta.url))
const PATH = '/usr/bin:/bin'
const has = (tool: string) => spawnSync('sh', ['-c', `PATH=${PATH} command -v ${tool}`]).status === 0
const missing = ['aws', 'jq', 'mysql'].filter((tool) => !has(tool) || (tool === 'aws' && !existsSync('/usr/bin/aws')))
const suite = missing.length === 0 ? describe : describe.skip
const skipNote = missing.length === 0 ? '' : ` (skipped: ${missing.join(', ')} not installed in /usr/bin)`

suite(`an AWS runbook against the local cluster${skipNote}`, () => {
  const dir = tempDir('backtrack-runbook-')
  let cluster: StartedLocalCluster

  beforeAll(async () => {
    cluster = await startLocalCluster({ dataDir: dir.path, metricsIntervalMs: 1000 })
  }, 120_000)

  afterAll(async () => {
    await cluster?.stop()
    dir[Symbol.dispose]()
  })

  it('runs examples/aws-cli/aurora-runbook.sh unchanged with --endpoint-url', async () => {
    const env = {
      PATH,
      HOME: dir.path,
      ENDPOINT_URL: cluster.info().rdsEndpoint,
      AWS_ACCESS_KEY_ID: 'runbook',
      AWS_SECRET_ACCESS_KEY: 'runbook',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
      NAME: 'runbook',
    }
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('bash', [RUNBOOK], { env, timeout: 300_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
      )
    })
    expect(run.stderr.replace(/^.*Using a password on the command line.*\n?/gm, ''), run.stdout).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('orders back: 3')
    expect(run.stdout).toContain('the copy has the orders: 3')
    expect(run.stdout).toContain(
      'BacktrackChangeRecordsCreationRate BacktrackChangeRecordsStored BacktrackWindowActual BacktrackWindowAlert',
    )
    expect(run.stdout).toMatch(/BacktrackChangeRecordsStored \(max over the last hour\): [1-9]\d*/)
    expect(run.stdout).toContain('runbook done')
    // It cleaned up after itself, as on AWS.
    expect(cluster.registry.list().map((member) => member.clusterIdentifier)).toEqual(['labstack-cluster'])
  }, 300_000)
})
