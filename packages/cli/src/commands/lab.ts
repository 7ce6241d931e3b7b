import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError, Option, type Command } from 'commander'
import type { Loader } from '../scenario-session.js'
import type { TargetOptions } from '../target.js'
import { addTargetOptions } from '../target.js'
import { loadScenario, runOnTarget } from './run.js'

interface LabOptions extends TargetOptions {
  tableSize: number
  keep?: boolean
  loader: Loader
}

/**
 * The seed lab as a scenario: in an installed package, `scenarios/` beside `dist/` (copied there when packed); in
 * the repository, its `scenarios/` folder.
 */
const LAB_SCENARIO = ['../../scenarios/aurora-backtrack-lab.yaml', '../../../../scenarios/aurora-backtrack-lab.yaml']
  .map((path) => fileURLToPath(new URL(path, import.meta.url)))
  .find((path) => existsSync(path))!

const EXAMPLES = `
Examples:
  $ backtrack lab                         # the whole lab on a fresh temporary cluster, 1,000,000 rows
  $ backtrack lab --table-size 20000      # a quicker run
  $ backtrack lab --keep                  # leave the cluster running afterwards to explore (Ctrl-C stops it)
  $ backtrack lab --live --cluster-id labstack-cluster --region us-east-1   # on a real Aurora cluster
Each step shows what it does, the mysql/sysbench/aws command a person would type (with this cluster's endpoint,
port and --endpoint-url), and the result. Exit code 0 when every check passed, 1 otherwise.
`

function parseTableSize(value: string): number {
  const rows = Number(value.replaceAll('_', ''))
  if (!Number.isInteger(rows) || rows < 1) throw new InvalidArgumentError('expected a whole number of rows >= 1.')
  return rows
}

export function registerLab(program: Command): void {
  const command = program
    .command('lab')
    .description(
      'Run the Aurora "Backtrack a DB Cluster" lab end to end: load, drop sbtest1, re-create it, rewind past the drop and back.',
    )
    .option('--table-size <rows>', 'rows sysbench loads into sbtest1', parseTableSize, 1_000_000)
    .option('--keep', 'keep the temporary cluster running afterwards (until Ctrl-C)')
    .addOption(
      new Option('--loader <loader>', 'real sysbench or the built-in loader')
        .choices(['auto', 'sysbench', 'builtin'])
        .default('auto'),
    )
  addTargetOptions(command)
    .addHelpText('after', EXAMPLES)
    .action(async (options: LabOptions, cmd: Command) => {
      const scenario = loadScenario(
        LAB_SCENARIO,
        { table_size: String(options.tableSize) },
        'aurora-backtrack-lab.yaml',
      )
      await runOnTarget(scenario, options, cmd)
    })
}
