import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import {
  BacktrackError,
  formatRdsTime,
  parseTimeExpression,
  resolveTimeExpression,
  type DBClusterBacktrack,
} from '@backtrack/core'
import { backtrackCommand } from '../narrate.js'
import { PageLogReader } from '../page-log-reader.js'
import { addTargetOptions, asUsage, openTarget, type TargetOptions } from '../target.js'

interface ToOptions extends TargetOptions {
  wait?: boolean
  useEarliest?: boolean
}

const EXAMPLES = `
Examples:
  $ backtrack to before-drop --wait            # a marker from \`backtrack mark before-drop\` (or a scenario)
  $ backtrack to '2026-11-24T00:10:00Z'        # ISO-8601; '2026-11-24 00:10:00' (SELECT current_timestamp()) is read as UTC
  $ backtrack to -90s --wait                   # relative to the cluster's clock: -500ms, -90s, -5m, -1h
  $ backtrack to 'after-drop + 1s' --json
  $ backtrack to 2026-11-24T00:10:00Z --live --cluster-id labstack-cluster --wait
Prints the backtrack record (BacktrackIdentifier, BacktrackTo, Status); --wait follows it until completed.
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
  addTargetOptions(command)
    .addHelpText('after', EXAMPLES)
    .action(async (time: string, options: ToOptions) => {
      const expression = asUsage(() => parseTimeExpression(time))
      const target = openTarget(options)
      try {
        const engine = target.engine
        let reader: PageLogReader | undefined
        if (expression.kind === 'marker') {
          if (target.pageLogPath === undefined || !existsSync(target.pageLogPath)) {
            throw new BacktrackError(
              'UnsupportedOperation',
              `"${time}" is a marker name; markers live in the simulator's page log, so they are simulator-only. ` +
                'With --live, give an ISO-8601 time (2026-11-24T00:10:00Z) or a relative one (-90s).',
            )
          }
          reader = new PageLogReader(target.pageLogPath)
        }
        let at: Date
        try {
          at = await asUsage(() =>
            resolveTimeExpression(expression, {
              now: () => engine.now(),
              marker: (name) => {
                const micros = reader?.log.marker(name)
                return micros === undefined ? undefined : new Date(Math.floor(micros / 1000))
              },
              markerNames: () => reader?.log.markers().map((marker) => marker.name) ?? [],
            }),
          )
        } finally {
          reader?.close()
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
          final = await engine.waitForBacktrack(record.BacktrackIdentifier, {
            pollMs: target.kind === 'live' ? 5_000 : 100,
            onProgress: (progress) => {
              if (!options.json) process.stderr.write(`  backtrack ${progress.Status}\n`)
            },
          })
          for (let i = 0; i < 600 && (await engine.describeCluster()).Status === 'backtracking'; i++) {
            await new Promise((resolve) => setTimeout(resolve, target.kind === 'live' ? 5_000 : 100))
          }
          if (!options.json) process.stderr.write('  cluster available\n')
        }
        process.stdout.write(JSON.stringify(recordJson(final), null, options.json ? undefined : 2) + '\n')
      } finally {
        await target.close()
      }
    })
}
