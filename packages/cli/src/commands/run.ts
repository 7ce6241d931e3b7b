import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { Option, type Command } from 'commander'
import { parseScenario, ScenarioSyntaxError, type Scenario } from '@backtrack/core'
import { runScenarioSession, type Loader } from '../scenario-session.js'
import {
  addTargetOptions,
  isLive,
  openTarget,
  startTemporaryCluster,
  usage,
  type Target,
  type TargetOptions,
} from '../target.js'
import { CliFailure } from './local-cluster-cli.js'

interface RunOptions extends TargetOptions {
  var: Record<string, string>
  keep?: boolean
  loader: Loader
}

const EXAMPLES = `
Examples:
  $ backtrack run scenarios/delete-without-where.yaml              # on a fresh temporary local cluster
  $ backtrack run scenarios/aurora-backtrack-lab.yaml --var table_size=5000 --json
  $ backtrack run my-runbook.yaml --data-dir ~/.backtrack/labstack-cluster   # on the cluster \`backtrack up\` runs
  $ backtrack run my-runbook.yaml --live --cluster-id labstack-cluster --region us-east-1
A scenario is YAML: name, optional database and vars, and steps — sql, mark <name>, sleep <duration>,
sysbench {table, rows}, checksum <tables>, backtrack <marker ± offset | time>, expect {tables, missing, rows,
checksum: {table: marker}, query + equals}. Exit code 0 passed, 1 an expectation or step failed, 2 bad input.
`

function collectVar(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^(\w+)=(.*)$/s.exec(value)
  if (match === null) throw usage(`--var expects name=value, not "${value}"`)
  return { ...previous, [match[1]!]: match[2]! }
}

/** Reads and parses a scenario file; a missing or malformed file is a usage error (exit 2) with line numbers. */
export function loadScenario(path: string, vars: Record<string, string>, source = path): Scenario {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw usage(`cannot read scenario ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  try {
    return parseScenario(text, { source, vars })
  } catch (error) {
    if (error instanceof ScenarioSyntaxError) throw usage(error.message)
    throw error
  }
}

/** Runs a scenario on the chosen target (a temporary cluster unless --data-dir or --live) and cleans up. */
export async function runOnTarget(
  scenario: Scenario,
  options: TargetOptions & { keep?: boolean; loader?: Loader },
  command: Command,
  intro: (target: Target) => string[] = () => [],
): Promise<void> {
  const explicitLocal = options.dataDir !== undefined || command.getOptionValueSource('clusterId') === 'cli'
  const log = options.json ? undefined : (message: string) => process.stderr.write(`  ${message}\n`)
  let target: Target
  if (isLive(options) || explicitLocal) target = openTarget(options)
  else {
    if (!options.json) process.stdout.write('Starting a temporary local cluster ...\n')
    target = await startTemporaryCluster({
      ...(options.keep ? { keep: true } : {}),
      ...(log ? { log: () => undefined } : {}),
    })
  }
  let code: number
  try {
    code = await runScenarioSession({
      scenario,
      target,
      ...(options.json ? { json: true } : {}),
      ...(options.loader === undefined ? {} : { loader: options.loader }),
      intro: [
        ...intro(target),
        target.kind === 'temporary'
          ? `  cluster ${target.engine.clusterIdentifier}: temporary, data in ${target.dataDir}${options.keep ? ' (kept)' : ''}`
          : `  cluster ${target.engine.clusterIdentifier} (${target.kind === 'live' ? 'live Aurora' : `local, ${target.dataDir}`})`,
      ],
    })
  } finally {
    if (target.kind === 'temporary' && options.keep && 'cluster' in target) {
      await keepRunning(target)
    }
    await target.close()
  }
  if (code !== 0) throw new CliFailure('', code)
}

/** --keep: the temporary cluster lives in this process, so it stays up until Ctrl-C. */
async function keepRunning(target: Target): Promise<void> {
  const endpoint = await target.sqlEndpoint()
  process.stderr.write(
    `\nKeeping ${target.engine.clusterIdentifier} running (Ctrl-C stops it; its data stays in ${target.dataDir}):\n` +
      `  mysql -h${endpoint.host} -P${endpoint.port} -u${endpoint.user} -p'${endpoint.password}' ${endpoint.database ?? 'mylab'}\n` +
      `  aws rds describe-db-clusters --db-cluster-identifier ${target.engine.clusterIdentifier} --endpoint-url ${target.endpointUrl}\n` +
      `  backtrack find --table sbtest1 --data-dir ${target.dataDir}\n`,
  )
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}

export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .description(
      'Run a scenario file (sql, mark, backtrack, expect ...): offline on a local cluster, or live with --live.',
    )
    .argument('<scenario.yaml>', 'the scenario file')
    .option('--var <name=value>', 'set a scenario variable (repeatable)', collectVar, {})
    .option('--keep', 'keep the temporary cluster running afterwards (until Ctrl-C)')
    .addOption(
      new Option('--loader <loader>', 'how sysbench steps load rows')
        .choices(['auto', 'sysbench', 'builtin'])
        .default('auto'),
    )
  addTargetOptions(command)
    .addHelpText('after', EXAMPLES)
    .action(async (file: string, options: RunOptions, cmd: Command) => {
      const scenario = loadScenario(file, options.var, basename(file) === file ? file : file)
      await runOnTarget(scenario, options, cmd)
    })
}
