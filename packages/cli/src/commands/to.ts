import type { Command } from 'commander'
import {
  BacktrackError,
  formatRdsTime,
  parseTimeExpression,
  resolveTimeExpression,
  type DBClusterBacktrack,
} from '@backtrack/core'
import { previewLines, type ClusterHistory } from '@backtrack/simulator'
import { backtrackCommands } from '@backtrack/console'
import { backtrackCommand } from '../narrate.js'
import { addTargetOptions, asUsage, localHistory, openTarget, type TargetOptions } from '../target.js'
import { formatTableDiffs } from './diff.js'
import { localClient } from './local-cluster-cli.js'

interface ToOptions extends TargetOptions {
  wait?: boolean
  useEarliest?: boolean
  dryRun?: boolean
}

const EXAMPLES = `
Examples:
  $ backtrack to before-drop --wait            # a marker from \`backtrack mark before-drop\` (or a scenario)
  $ backtrack to '2026-11-24T00:10:00Z'        # ISO-8601; '2026-11-24 00:10:00' (SELECT current_timestamp()) is read as UTC
  $ backtrack to -90s --wait                   # relative to the cluster's clock: -500ms, -90s, -5m, -1h
  $ backtrack to 'after-drop + 1s' --json
  $ backtrack to before-drop --dry-run          # what it would undo, table by table; nothing changes
  $ backtrack to 2026-11-24T00:10:00Z --live --cluster-id labstack-cluster --wait
Prints the backtrack record (BacktrackIdentifier, BacktrackTo, Status); --wait follows it until completed.
--dry-run reads the local cluster's page log (simulator-only) and prints what the console's preview shows.
`

export function recordJson(record: DBClusterBacktrack): Record<string, string> {
  return {
    DBClusterIdentifier: record.DBClusterIdentifier,
    BacktrackIdentifier: record.BacktrackIdentifier,
    BacktrackTo: formatRdsTime(record.BacktrackTo),
    ...(record.BacktrackedFrom === undefined ? {} : { BacktrackedFrom: formatRdsTime(record.BacktrackedFrom) }),
    BacktrackRequestCreationTime: formatRdsTime(record.BacktrackRequestCreationTime),
    Status: record.Status,
  }
}

export function registerTo(program: Command): void {
  const command = program
    .command('to')
    .description('Backtrack the cluster to a time: ISO-8601, a marker name, or relative (-90s, -5m).')
    .argument('<time>', 'when to rewind to')
    .option('--wait', 'wait until the backtrack completed and the cluster is available')
    .option('--use-earliest', 'rewind to the earliest backtrack time when <time> is older than the window')
    .option('--dry-run', 'print what the backtrack would undo (tables, rows, DDL) and the commands; change nothing')
  addTargetOptions(command)
    .addHelpText('after', EXAMPLES)
    .action(async (time: string, options: ToOptions) => {
      const expression = asUsage(() => parseTimeExpression(time))
      if (options.dryRun) return dryRun(time, options)
      const target = openTarget(options)
      try {
        const engine = target.engine
        let history: ClusterHistory | undefined
        if (expression.kind === 'marker') {
          const client = target.dataDir === undefined ? undefined : localClient({ dataDir: target.dataDir })
          if (client === undefined || !client.hasHistory()) {
            throw new BacktrackError(
              'UnsupportedOperation',
              `"${time}" is a marker name; markers live in the simulator's page log, so they are simulator-only. ` +
                'With --live, give an ISO-8601 time (2026-11-24T00:10:00Z) or a relative one (-90s).',
            )
          }
          history = client.history()
        }
        let at: Date
        try {
          at =
            history === undefined
              ? await asUsage(() =>
                  resolveTimeExpression(expression, { now: () => engine.now(), marker: () => undefined }),
                )
              : new Date(Math.floor((await asUsage(() => history.resolve(time, { now: () => engine.now() }))) / 1000))
        } finally {
          history?.close()
        }
        const record = await engine.backtrack({
          backtrackTo: at,
          ...(options.useEarliest ? { useEarliestTimeOnPointInTimeUnavailable: true } : {}),
        })
        if (!options.json) {
          process.stderr.write(
            `$ ${backtrackCommand(
              {
                clusterIdentifier: engine.clusterIdentifier,
                ...(target.endpointUrl === undefined ? {} : { endpointUrl: target.endpointUrl }),
              } as Parameters<typeof backtrackCommand>[0],
              at,
            )}\n`,
          )
        }
        let final = record
        if (options.wait) {
          // Resolves once the backtrack completed and the cluster is available again, at the engine's cadence.
          final = await engine.waitForBacktrack(record.BacktrackIdentifier, {
            onProgress: (progress) => {
              if (!options.json) process.stderr.write(`  backtrack ${progress.Status}\n`)
            },
          })
          const cluster = await engine.describeCluster()
          if (!options.json) process.stderr.write(`  cluster ${cluster.Status}\n`)
        }
        process.stdout.write(JSON.stringify(recordJson(final), null, options.json ? undefined : 2) + '\n')
      } finally {
        await target.close()
      }
    })
}

/** `to --dry-run`: the console's preview of a backtrack, in the terminal. */
async function dryRun(time: string, options: ToOptions): Promise<void> {
  const history = localHistory(options, 'to --dry-run')
  try {
    const client = localClient(options)
    const dataDir = client.dataDir
    const at = await asUsage(() => history.resolve(time))
    const preview = asUsage(() =>
      history.preview(at, { ...(options.useEarliest ? { useEarliest: true } : {}), limit: 3 }),
    )
    const state = client.state()
    const commands = backtrackCommands(
      {
        clusterIdentifier: state?.clusterIdentifier ?? options.clusterId ?? 'labstack-cluster',
        ...(state?.rdsEndpoint === undefined ? {} : { rdsEndpoint: state.rdsEndpoint }),
        dataDir,
      },
      preview.to,
    )
    if (options.json) {
      process.stdout.write(JSON.stringify({ ...preview, lines: previewLines(preview), commands }) + '\n')
      return
    }
    process.stdout.write(`A backtrack to ${preview.to} (from ${preview.from}) would undo (dry run, nothing changed):\n`)
    for (const line of previewLines(preview)) process.stdout.write(`  ${line}\n`)
    if (preview.tables.some((table) => table.samples.length > 0)) {
      process.stdout.write(`Changes since ${preview.to}, with sample rows:\n`)
      process.stdout.write(formatTableDiffs(preview.tables).replace(/^(?=.)/gm, '  '))
    }
    process.stdout.write(`To run it:\n  $ ${commands.backtrack}\n  $ ${commands.aws}\n`)
  } finally {
    history.close()
  }
}
