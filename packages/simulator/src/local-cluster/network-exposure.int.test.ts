import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '@backtrack/mysql-server/testing'
import { signRequest } from '@backtrack/rds-endpoint'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

// An address beyond loopback, made by the test itself: a veth pair whose far end lives in a network namespace of its
// own, so requests really come from another host's address. Needs root (CAP_NET_ADMIN) and iproute2.
const id = process.pid % 250
const NS = `btns${process.pid}`
const HOST_IF = `bth${process.pid}`.slice(0, 15)
const NS_IF = `btn${process.pid}`.slice(0, 15)
const HOST_IP = `10.213.${id}.1`
const NS_IP = `10.213.${id}.2`
const KEY = { accessKeyId: 'AKIDEXPOSURETEST', secretAccessKey: 'exposure-secret-1' }

function sh(command: string): { status: number | null; stderr: string } {
  const run = spawnSync('sh', ['-c', command], { encoding: 'utf8' })
  return { status: run.status, stderr: run.stderr }
}

/** Why the test cannot run here, or undefined when it can (probed by making and removing a namespace). */
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: creating a network namespace needs CAP_NET_ADMIN'
  if (sh('command -v ip').status !== 0) return 'iproute2 (ip) is not installed'
  if (!existsSync('/usr/bin/aws') || sh('command -v curl').status !== 0) return '/usr/bin/aws or curl is missing'
  const probe = `btprobe${process.pid}`
  const made = sh(`ip netns add ${probe} && ip netns del ${probe}`)
  return made.status === 0 ? undefined : `ip netns is not permitted here (${made.stderr.trim()})`
}

const reason = unavailable()
const suite = reason === undefined ? describe : describe.skip

/** Runs a command inside the namespace: a client on another address. */
function inNamespace(
  command: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', NS, ...command],
      { env: { PATH: '/usr/bin:/bin', HOME: '/tmp', ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
    )
  })
}

suite(
  `endpoints beyond loopback (a veth pair into a network namespace)${reason === undefined ? '' : ` (skipped: ${reason})`}`,
  () => {
    const dir = tempDir('backtrack-exposure-')
    let cluster: StartedLocalCluster
    let api: string
    const log: string[] = []

    beforeAll(async () => {
      const setup = sh(
        [
          `ip netns add ${NS}`,
          `ip link add ${HOST_IF} type veth peer name ${NS_IF}`,
          `ip link set ${NS_IF} netns ${NS}`,
          `ip addr add ${HOST_IP}/30 dev ${HOST_IF}`,
          `ip link set ${HOST_IF} up`,
          `ip netns exec ${NS} ip addr add ${NS_IP}/30 dev ${NS_IF}`,
          `ip netns exec ${NS} ip link set ${NS_IF} up`,
          `ip netns exec ${NS} ip link set lo up`,
        ].join(' && '),
      )
      if (setup.status !== 0) throw new Error(`network setup failed: ${setup.stderr}`)
    }, 60_000)

    afterAll(async () => {
      await cluster?.stop()
      sh(`ip netns del ${NS}; ip link del ${HOST_IF} 2>/dev/null`)
      dir[Symbol.dispose]()
    })

    it('refuses to start beyond loopback without keys to check signatures against', async () => {
      await expect(startLocalCluster({ dataDir: dir.path, host: HOST_IP })).rejects.toMatchObject({
        code: 'InvalidParameterCombination',
        message: expect.stringContaining('--verify-signatures'),
      })
    })

    it('starts with keys and says what is exposed and how it is protected', async () => {
      cluster = await startLocalCluster({
        dataDir: dir.path,
        host: HOST_IP,
        verifySignatures: { credentials: [KEY] },
        logger: { info: (line) => log.push(line), warn: (line) => log.push(line) },
      })
      api = cluster.info().rdsEndpoint
      expect(api).toBe(`http://${HOST_IP}:${new URL(api).port}`)
      const said = log.join('\n')
      expect(said).toContain(`reachable from the network (${HOST_IP})`)
      expect(said).toContain(`SigV4 required, keys ${KEY.accessKeyId}`)
      expect(said).toContain('control routes never send passwords')
    })

    it('answers a correctly signed AWS CLI from the other address', async () => {
      const run = await inNamespace(
        [
          '/usr/bin/aws',
          'rds',
          'describe-db-clusters',
          '--endpoint-url',
          api,
          '--query',
          'DBClusters[0].Status',
          '--output',
          'text',
        ],
        {
          AWS_ACCESS_KEY_ID: KEY.accessKeyId,
          AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
          AWS_DEFAULT_REGION: 'us-east-1',
        },
      )
      expect(run.stderr).toBe('')
      expect(run.stdout.trim()).toBe('available')
    })

    it('refuses unsigned and wrongly signed requests, and they change nothing', async () => {
      const before = await cluster.node.describeCluster()
      const unsigned = (path: string, body: string, headers: string[] = []) =>
        inNamespace([
          'curl',
          '-s',
          '-o',
          '-',
          '-w',
          '\n%{http_code}',
          '-X',
          'POST',
          `${api}${path}`,
          '-H',
          'content-type: application/x-www-form-urlencoded',
          ...headers.flatMap((h) => ['-H', h]),
          '--data',
          body,
        ])
      const backtrack = await unsigned(
        '/',
        `Action=BacktrackDBCluster&Version=2014-10-31&DBClusterIdentifier=labstack-cluster&BacktrackTo=${encodeURIComponent(before.ClusterCreateTime.toISOString())}`,
      )
      expect(backtrack.stdout).toContain('<Code>MissingAuthenticationToken</Code>')
      expect(backtrack.stdout.trim().split('\n').at(-1)).toBe('403')
      const modify = await unsigned(
        '/',
        'Action=ModifyDBCluster&Version=2014-10-31&DBClusterIdentifier=labstack-cluster&BacktrackWindow=0',
      )
      expect(modify.stdout.trim().split('\n').at(-1)).toBe('403')
      const metrics = await inNamespace([
        'curl',
        '-s',
        '-o',
        '-',
        '-w',
        '\n%{http_code}',
        '-X',
        'POST',
        `${api}/`,
        '-H',
        'content-type: application/x-amz-json-1.0',
        '-H',
        'x-amz-target: GraniteServiceVersion20100801.ListMetrics',
        '--data',
        '{}',
      ])
      expect(metrics.stdout).toContain('MissingAuthenticationToken')
      expect(metrics.stdout.trim().split('\n').at(-1)).toBe('403')

      const wrong = await inNamespace(
        [
          '/usr/bin/aws',
          'rds',
          'backtrack-db-cluster',
          '--db-cluster-identifier',
          'labstack-cluster',
          '--backtrack-to',
          before.ClusterCreateTime.toISOString(),
          '--endpoint-url',
          api,
        ],
        {
          AWS_ACCESS_KEY_ID: KEY.accessKeyId,
          AWS_SECRET_ACCESS_KEY: 'not-the-secret',
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_MAX_ATTEMPTS: '1',
        },
      )
      expect(wrong.code).not.toBe(0)
      expect(wrong.stderr).toContain('SignatureDoesNotMatch')
      const stranger = await inNamespace(
        [
          '/usr/bin/aws',
          'rds',
          'delete-db-cluster',
          '--db-cluster-identifier',
          'labstack-cluster',
          '--skip-final-snapshot',
          '--endpoint-url',
          api,
        ],
        {
          AWS_ACCESS_KEY_ID: 'AKIDSTRANGER',
          AWS_SECRET_ACCESS_KEY: 'x',
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_MAX_ATTEMPTS: '1',
        },
      )
      expect(stranger.stderr).toContain('InvalidClientTokenId')

      const after = await cluster.node.describeCluster()
      expect(after.BacktrackWindow).toBe(before.BacktrackWindow)
      expect(after.Status).toBe('available')
      expect((await cluster.node.describeBacktracks()).backtracks).toEqual([])
    })

    it('guards the control routes the same way, and their status carries no password', async () => {
      for (const [method, path] of [
        ['GET', '/_backtrack/status'],
        ['POST', '/_backtrack/mark?name=intruder'],
      ] as const) {
        const run = await inNamespace(['curl', '-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, `${api}${path}`])
        expect(run.stdout).toContain('"code":"MissingAuthenticationToken"')
        expect(run.stdout.trim().split('\n').at(-1)).toBe('403')
        expect(run.stdout).not.toContain(cluster.info().sql.password)
      }
      expect(cluster.node.engine.pageLog.marker('intruder')).toBeUndefined()

      const url = new URL('/_backtrack/status', api)
      const headers = { host: url.host }
      const signed = signRequest(
        { method: 'GET', url: url.pathname, headers, body: Buffer.alloc(0) },
        KEY,
        'us-east-1',
        'backtrack',
      )
      const answer = await fetch(url, { headers: { ...headers, ...signed } })
      expect(answer.status).toBe(200)
      const text = await answer.text()
      expect(JSON.parse(text)).toMatchObject({
        clusterIdentifier: 'labstack-cluster',
        sql: { user: expect.any(String) },
      })
      expect(text).not.toContain(cluster.info().sql.password)
      expect(JSON.parse(text).sql.password).toBeUndefined()
    })
  },
)
