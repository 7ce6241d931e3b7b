import type { Command } from 'commander'
import { formatRdsTime, type DBClusterBacktrack } from '@backtrack/core'
import { addTargetOptions, openTarget, type TargetOptions } from '../target.js'
import { recordJson } from './to.js'

const EXAMPLES = `
Examples:
  $ backtrack list
  $ backtrack list --json | jq -r '.[0].Status'
  $ backtrack list --live --cluster-id labstack-cluster --region us-east-1
`

export function registerList(program: Command): void {
  const command = program.command('list').description("List the cluster's backtracks, newest first.")
  addTargetOptions(command)
    .addHelpText('after', EXAMPLES)
    .action(async (options: TargetOptions) => {
      const target = openTarget(options)
      try {
        const all: DBClusterBacktrack[] = []
        let marker: string | undefined
        do {
          const page = await target.engine.describeBacktracks(marker === undefined ? {} : { marker })
          all.push(...page.backtracks)
          marker = page.marker
        } while (marker !== undefined)
        if (options.json) {
          process.stdout.write(JSON.stringify(all.map(recordJson)) + '\n')
          return
        }
        if (all.length === 0) {
          process.stdout.write(
            `No backtracks yet on ${target.engine.clusterIdentifier}: start one with \`backtrack to <time>\`.\n`,
          )
          return
        }
        const rows = all.map((b) => [
          b.BacktrackIdentifier,
          b.Status,
          formatRdsTime(b.BacktrackTo),
          b.BacktrackedFrom === undefined ? '-' : formatRdsTime(b.BacktrackedFrom),
          formatRdsTime(b.BacktrackRequestCreationTime),
        ])
        const head = ['BACKTRACK ID', 'STATUS', 'BACKTRACK TO', 'BACKTRACKED FROM', 'REQUESTED']
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
        for (const row of [head, ...rows]) {
          process.stdout.write(
            row
              .map((cell, i) => cell.padEnd(widths[i]!))
              .join('  ')
              .trimEnd() + '\n',
          )
        }
      } finally {
        await target.close()
      }
    })
}
