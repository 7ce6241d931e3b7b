import { execFile, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatRdsTime } from '@backtrack/core'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FakeEngine } from '@backtrack/core/testing'
import { FakeClusterRegistry } from './test-support/fake-cluster-registry.js'
import { buildRdsEndpoint } from './rds-endpoint.js'

// Debian's awscli v2 package; the `aws` first on PATH may be a pyenv v1, which prints and exits differently.
const AWS = '/usr/bin/aws'
const missing = [
  ...(existsSync(AWS) ? [] : [`${AWS} (AWS CLI v2)`]),
  ...(spawnSync('sh', ['-c', 'command -v jq']).status === 0 ? [] : ['jq']),
]
const suite = missing.length === 0 ? describe : describe.skip
const skipNote = missing.length === 0 ? '' : ` (skipped: ${missing.join(' and ')} not installed)`
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

interface Run {
  code: number
  stdout: string
  stderr: string
}

let home: string

/** Runs a shell pipeline with a clean AWS environment (no profile, no pager, no retries). */
function sh(command: string, credentials = { id: 'test', secret: 'test' }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-o', 'pipefail', '-c', command],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          AWS_ACCESS_KEY_ID: credentials.id,
          AWS_SECRET_ACCESS_KEY: credentials.secret,
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_MAX_ATTEMPTS: '1',
          AWS_PAGER: '',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

suite(`RDS endpoint with the real AWS CLI v2${skipNote}`, () => {
  let registry: FakeClusterRegistry
  let cluster: FakeEngine
  let app: FastifyInstance
  let endpoint: string

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'rds-endpoint-cli-'))
    registry = new FakeClusterRegistry()
    cluster = registry.add({ identifier: 'labstack-cluster', createdAt: new Date(Date.now() - 3_600_000) })
    app = buildRdsEndpoint({ registry })
    endpoint = await listen(app)
  })

  afterAll(async () => {
    await app.close()
    rmSync(home, { recursive: true, force: true })
  })

  it('describe-db-clusters | jq prints the status', async () => {
    const run = await sh(
      `${AWS} rds describe-db-clusters --db-cluster-identifier labstack-cluster --endpoint-url ${endpoint} | jq -r '.DBClusters[0].Status'`,
    )
    expect(run).toMatchObject({ code: 0, stdout: 'available\n' })
  })

  it('backtrack-db-cluster starts a backtrack, describe-db-cluster-backtracks shows it completed', async () => {
    const backtrackTo = formatRdsTime(new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000))
    const started = await sh(
      `${AWS} rds backtrack-db-cluster --db-cluster-identifier labstack-cluster --backtrack-to "${backtrackTo}" --endpoint-url ${endpoint}`,
    )
    expect(started.stderr).toBe('')
    expect(started.code).toBe(0)
    const record = JSON.parse(started.stdout) as Record<string, string>
    expect(record).toMatchObject({ DBClusterIdentifier: 'labstack-cluster', Status: 'PENDING' })
    expect(record.BacktrackIdentifier).toMatch(UUID)
    // CLI v2 prints timestamps in its own ISO form (+00:00), whatever the wire sent.
    expect(record.BacktrackTo).toBe(backtrackTo.replace('Z', '+00:00'))

    const status = await sh(
      `${AWS} rds describe-db-clusters --db-cluster-identifier labstack-cluster --endpoint-url ${endpoint} | jq -r '.DBClusters[0].Status'`,
    )
    expect(status.stdout).toBe('backtracking\n')

    cluster.completeAll()
    const described = await sh(
      `${AWS} rds describe-db-cluster-backtracks --db-cluster-identifier labstack-cluster --backtrack-identifier ${record.BacktrackIdentifier} --endpoint-url ${endpoint} | jq -c '[.DBClusterBacktracks[] | {BacktrackIdentifier, Status}]'`,
    )
    expect(described.code).toBe(0)
    expect(JSON.parse(described.stdout)).toEqual([
      { BacktrackIdentifier: record.BacktrackIdentifier, Status: 'COMPLETED' },
    ])
  })

  it('follows Marker across pages (--page-size) and filters by status', async () => {
    for (let i = 0; i < 24; i++) {
      await cluster.backtrack({ backtrackTo: new Date(Date.now() - 30_000) })
      cluster.completeAll()
    }
    const all = await sh(
      `${AWS} rds describe-db-cluster-backtracks --db-cluster-identifier labstack-cluster --page-size 20 --endpoint-url ${endpoint} | jq '.DBClusterBacktracks | length'`,
    )
    expect(all).toMatchObject({ code: 0, stdout: '25\n' })
    const filtered = await sh(
      `${AWS} rds describe-db-cluster-backtracks --db-cluster-identifier labstack-cluster --filters Name=db-cluster-backtrack-status,Values=pending --endpoint-url ${endpoint} | jq -c .DBClusterBacktracks`,
    )
    expect(filtered).toMatchObject({ code: 0, stdout: '[]\n' })
  })

  it('exits 254 with the RDS message on stderr for an unknown cluster', async () => {
    const run = await sh(`${AWS} rds describe-db-clusters --db-cluster-identifier nope --endpoint-url ${endpoint}`)
    expect(run.code).toBe(254)
    expect(run.stdout).toBe('')
    // With AWS_MAX_ATTEMPTS=1 botocore marks every error "(reached max retries: 0)".
    expect(run.stderr).toMatch(
      /An error occurred \(DBClusterNotFoundFault\) when calling the DescribeDBClusters operation( \(reached max retries: 0\))?: DBCluster nope not found\./,
    )
  })

  it('exits 254 with InvalidParameterValue for a backtrack into the future', async () => {
    const future = formatRdsTime(new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000))
    const run = await sh(
      `${AWS} rds backtrack-db-cluster --db-cluster-identifier labstack-cluster --backtrack-to "${future}" --endpoint-url ${endpoint}`,
    )
    expect(run.code).toBe(254)
    expect(run.stderr).toContain(
      'An error occurred (InvalidParameterValue) when calling the BacktrackDBCluster operation',
    )
  })

  it('passes signature verification with the configured key and fails with SignatureDoesNotMatch otherwise', async () => {
    const verifying = buildRdsEndpoint({
      registry,
      verifySignatures: { credentials: [{ accessKeyId: 'test', secretAccessKey: 'test' }] },
    })
    const url = await listen(verifying)
    try {
      const ok = await sh(`${AWS} rds describe-db-clusters --endpoint-url ${url} | jq -r '.DBClusters[0].Status'`)
      expect(ok).toMatchObject({ code: 0, stdout: 'available\n' })
      const wrong = await sh(`${AWS} rds describe-db-clusters --endpoint-url ${url}`, { id: 'test', secret: 'wrong' })
      expect(wrong.code).toBe(254)
      expect(wrong.stderr).toContain('An error occurred (SignatureDoesNotMatch)')
    } finally {
      await verifying.close()
    }
  })
})
