import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { Option, type Command } from 'commander'
import { LocalClusterClient, startLocalCluster, type LocalClusterOptions } from '@backtrack/simulator'
import { mountConsole } from '@backtrack/console'
import {
  CliFailure,
  formatExports,
  parsePort,
  parseSeconds,
  resolveDataDir,
  withConsole,
  type UpInfo,
} from './local-cluster-cli.js'

interface UpOptions {
  clusterId?: string
  database?: string
  dataDir?: string
  host?: string
  sqlPort?: number
  apiPort?: number
  backtrackWindow?: number
  engine: 'auto' | 'private' | 'container' | 'url'
  mysqlUrl?: string
  region?: string
  verifySignatures?: boolean
  detach?: boolean
  json?: boolean
}

const READY_TIMEOUT_MS = 180_000

const EXAMPLES = `
Examples:
  $ backtrack up                                               # foreground, Ctrl-C stops it
  $ eval "$(backtrack up --detach)"                            # background; exports DBUSER, DBPASS, CLUSTER_ENDPOINT, ENDPOINT_URL
  $ backtrack up --detach --json | jq -r .sql.port
  $ DBUSER=admin DBPASS=secret backtrack up --sql-port 13306 --api-port 14566
  $ backtrack up --host 127.0.0.2 --sql-port 3306              # the lab's sysbench --mysql-port=3306 runs as written
  $ backtrack up --mysql-url mysql://root:pw@127.0.0.1:3307/   # an existing server (row binlog on)

The data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>) keeps the cluster: \`up\` on it
again resumes with its history, also after a kill -9. Logs go to stderr (with --detach: <data-dir>/cluster.log).
`

function logLine(level: 'info' | 'warn', message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${level === 'info' ? 'INFO' : 'WARN'} ${message}\n`)
}

function printInfo(info: UpInfo, json: boolean | undefined): void {
  process.stdout.write(json ? JSON.stringify(info) + '\n' : formatExports(info))
}

function clusterOptions(options: UpOptions, dataDir: string): LocalClusterOptions {
  if (options.engine === 'url' && options.mysqlUrl === undefined) {
    throw new CliFailure('--engine url needs --mysql-url mysql://user:password@host:port/', 2)
  }
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY
  if (options.verifySignatures && (accessKeyId === undefined || secretAccessKey === undefined)) {
    throw new CliFailure(
      '--verify-signatures checks requests against AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: set both in the environment of `up`',
      2,
    )
  }
  const dbUser = process.env.DBUSER
  const dbPass = process.env.DBPASS
  return {
    dataDir,
    ...(options.clusterId === undefined ? {} : { clusterIdentifier: options.clusterId }),
    ...(options.database === undefined ? {} : { database: options.database }),
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.sqlPort === undefined ? {} : { sqlPort: options.sqlPort }),
    ...(options.apiPort === undefined ? {} : { apiPort: options.apiPort }),
    ...(options.backtrackWindow === undefined ? {} : { backtrackWindow: options.backtrackWindow }),
    source: options.engine,
    ...(options.mysqlUrl === undefined ? {} : { mysqlUrl: options.mysqlUrl }),
    ...(dbUser ? { appUser: dbUser } : {}),
    ...(dbPass ? { appPassword: dbPass } : {}),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.verifySignatures
      ? { verifySignatures: { credentials: [{ accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! }] } }
      : {}),
    logger: { info: (message) => logLine('info', message), warn: (message) => logLine('warn', message) },
    mount: mountConsole,
  }
}

/** Resolves on the first SIGINT/SIGTERM; a second one exits at once. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        logLine('warn', `${signal} again: exiting without a clean stop (the next \`up\` recovers)`)
        process.exit(130)
      }
      received = true
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

async function runForeground(options: UpOptions, dataDir: string): Promise<void> {
  const cluster = await startLocalCluster(clusterOptions(options, dataDir))
  printInfo(withConsole(cluster.info()), options.json)
  const signal = await untilSignal()
  logLine('info', `${signal}: stopping ${cluster.clusterIdentifier}`)
  await cluster.stop()
  logLine('info', `stopped ${cluster.clusterIdentifier}; its data stays in ${dataDir}`)
}

/** Re-runs `up` in the foreground as a detached child, logging to `<data-dir>/cluster.log`, and waits until it serves. */
async function runDetached(options: UpOptions, dataDir: string): Promise<void> {
  clusterOptions(options, dataDir) // usage errors before anything starts
  mkdirSync(dataDir, { recursive: true })
  const client = new LocalClusterClient(dataDir)
  const logFile = client.logFile
  const args = ['up', '--data-dir', dataDir, '--engine', options.engine]
  const pass: [string, string | number | undefined][] = [
    ['--cluster-id', options.clusterId],
    ['--database', options.database],
    ['--host', options.host],
    ['--sql-port', options.sqlPort],
    ['--api-port', options.apiPort],
    ['--backtrack-window', options.backtrackWindow],
    ['--mysql-url', options.mysqlUrl],
    ['--region', options.region],
  ]
  for (const [flag, value] of pass) if (value !== undefined) args.push(flag, String(value))
  if (options.verifySignatures) args.push('--verify-signatures')
  const script = process.argv[1]
  if (script === undefined) throw new CliFailure('cannot tell which script to run for --detach')
  const log = openSync(logFile, 'a', 0o600)
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    detached: true,
    stdio: ['ignore', log, log],
    env: process.env,
  })
  closeSync(log)
  let exited: string | undefined
  child.once('exit', (code, signal) => (exited = signal ?? `code ${code}`))
  child.once('error', (error) => (exited = error.message))
  child.unref()

  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    const state = client.state()
    if (state !== undefined && state.pid === child.pid && state.status === 'available') {
      printInfo(withConsole(client.info()), options.json)
      return
    }
    if (exited !== undefined) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n')
      throw new CliFailure(`the cluster process exited (${exited}) before it was ready; ${logFile} ends with:\n${tail}`)
    }
    if (Date.now() > deadline) {
      throw new CliFailure(
        `the cluster process (pid ${child.pid}) was not ready within ${READY_TIMEOUT_MS / 1000} s; see ${logFile}, ` +
          `and stop it with \`backtrack down --data-dir ${dataDir}\``,
      )
    }
    await sleep(100)
  }
}

/** `backtrack up`: starts (or resumes) a local cluster, in the foreground or detached. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('Start a local cluster: a MySQL server with Backtrack, its SQL endpoint and an RDS-compatible API.')
    .option('--cluster-id <id>', 'cluster identifier of a new cluster (default labstack-cluster)')
    .option('--database <name>', 'database created in a new cluster (default mylab)')
    .option(
      '--data-dir <dir>',
      'where the cluster lives (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--host <address>', 'address the endpoints bind (default 127.0.0.1)')
    .option('--sql-port <port>', 'SQL endpoint port (default: the previous one, else a free one)', parsePort)
    .option('--api-port <port>', 'RDS endpoint port (default: the previous one, else a free one)', parsePort)
    .option(
      '--backtrack-window <seconds>',
      'backtrack window of a new cluster, 0..259200 (default 86400)',
      parseSeconds,
    )
    .addOption(
      new Option('--engine <source>', 'where the MySQL server comes from')
        .choices(['auto', 'private', 'container', 'url'])
        .default('auto'),
    )
    .option('--mysql-url <url>', 'use an existing server, mysql://user:password@host:port/ (row binlog, full images)')
    .option('--region <region>', 'region the API pretends to be in (default us-east-1)')
    .option('--verify-signatures', 'check SigV4 signatures against $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY')
    .option('--detach', 'return once the cluster is ready and leave it running')
    .option('--json', 'print one JSON object {clusterIdentifier, status, sql, rdsEndpoint, region, dataDir, console}')
    .addHelpText('after', EXAMPLES)
    .action(async (options: UpOptions) => {
      const dataDir = resolveDataDir(options.dataDir, options.clusterId)
      const client = new LocalClusterClient(dataDir)
      const running = client.running()
      if (running?.status === 'starting') {
        throw new CliFailure(
          `${running.clusterIdentifier} on ${dataDir} is starting (pid ${running.pid}); try again shortly`,
        )
      }
      if (running !== undefined) {
        process.stderr.write(
          `${running.clusterIdentifier} is already running on ${dataDir} (pid ${running.pid}); its endpoints:\n`,
        )
        printInfo(withConsole(client.info()), options.json)
        return
      }
      if (options.detach) await runDetached(options, dataDir)
      else await runForeground(options, dataDir)
    })
}
