import { spawnSync } from 'node:child_process'
import mysql, { type Connection } from 'mysql2/promise'
import type { StartedMysqlServer } from '@backtrack/mysql-server'
import type { SqlClient } from '../testing/sql-client.js'
import { backtrackThroughApi } from './api-backtrack.js'
import type { BenchPhase } from './bench-context.js'
import { dmlUndoFigure, type DmlUndoRun } from './figures.js'
import { binlogPoint, flashback } from './flashback.js'
import { describePhases } from './phase-breakdown.js'
import { runSysbench, sysbenchArgs } from '@backtrack/core'

/** The DML undo's own database on both servers (its table is smaller than the lab's). */
const DML_DATABASE = 'dmllab'
const TABLE = 'sbtest1'

/** The change undone: a DELETE of every even id (half the rows), then an UPDATE of the odd ids in the first 2/3. */
export function dmlChange(tableSize: number): { statements: string[]; deleted: number; updated: number } {
  const updateUpTo = Math.floor((tableSize * 2) / 3)
  return {
    statements: [
      `DELETE FROM ${TABLE} WHERE id % 2 = 0`,
      `UPDATE ${TABLE} SET k = k + 1, c = REVERSE(c) WHERE id % 2 = 1 AND id <= ${updateUpTo}`,
    ],
    deleted: Math.floor(tableSize / 2),
    updated: Math.ceil(updateUpTo / 2),
  }
}

/** Whether `mariadb-binlog` and `mariadb` (the flashback baseline's tools) are on the PATH. */
export function hasFlashback(): boolean {
  return ['mariadb-binlog', 'mariadb'].every((tool) => spawnSync(tool, ['--version']).status === 0)
}

async function prepareTable(server: StartedMysqlServer, tableSize: number): Promise<void> {
  const admin = await mysql.createConnection(server.connectionOptions('admin'))
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${DML_DATABASE}`).finally(() => admin.end())
  await runSysbench(
    sysbenchArgs(
      { connection: server.connectionOptions('app'), database: DML_DATABASE, tables: 1, tableSize, threads: 1 },
      'prepare',
    ),
  )
}

/**
 * Figure 8: undo of a large DML change (a DELETE of half a sysbench table plus an UPDATE of a third), requested
 * through the RDS endpoint and timed until `available`, against MariaDB's own `mariadb-binlog --flashback |
 * mariadb` of the same change on the plain server (same binlog settings, an equal table); repeated, interleaved.
 * Each undo starts right after the change returns, as a user's would: the capture's catching up is part of it.
 */
export const dmlUndoPhase: BenchPhase = {
  name: 'dml',
  async run(context) {
    const { sizes } = context
    if (context.server.flavor !== 'mariadb' || !hasFlashback()) {
      context.log('8. skipped: the baseline needs a MariaDB server and mariadb-binlog on the PATH (mariadb-client)')
      return
    }
    const plain = await context.plainServer()
    const change = dmlChange(sizes.dmlTableSize)
    context.log(
      `8. undo DELETE ${change.deleted} + UPDATE ${change.updated} of ${sizes.dmlTableSize} rows vs flashback, ` +
        `${sizes.undoRepeats} times (preparing both tables)`,
    )
    await prepareTable(context.server, sizes.dmlTableSize)
    await prepareTable(plain, sizes.dmlTableSize)
    const cluster = context.sqlClient(context.endpointOptions(DML_DATABASE))
    const plainApp = context.sqlClient(plain.connectionOptions('app', DML_DATABASE))
    const plainAdmin: Connection = await mysql.createConnection(plain.connectionOptions('admin'))
    const originals = { cluster: await cluster.checksum(TABLE), plain: await plainApp.checksum(TABLE) }
    const mismatches: string[] = []
    const runs: DmlUndoRun[] = []
    const breakdowns: string[] = []
    const apply = async (client: SqlClient) => {
      for (const statement of change.statements) await client.query(statement)
    }
    try {
      for (let i = 0; i < sizes.undoRepeats; i++) {
        let flashbackMillis = 0
        const baseline = async () => {
          const from = await binlogPoint(plainAdmin)
          await apply(plainApp)
          const to = await binlogPoint(plainAdmin)
          flashbackMillis = await flashback(plain, plainAdmin, from, to)
          const after = await plainApp.checksum(TABLE)
          if (after !== originals.plain) mismatches.push(`flashback ${i + 1}: ${after} != ${originals.plain}`)
        }
        if (i % 2 === 1) await baseline()
        const mark = await context.catchUp()
        await apply(cluster)
        const undo = await backtrackThroughApi(context.rds, context.cluster.clusterIdentifier, mark, {
          pollMillis: sizes.pollMillis,
        })
        const outcome = context.engine.lastOutcome
        if (outcome?.record.BacktrackIdentifier !== undo.backtrackIdentifier) {
          throw new Error(`backtrack ${undo.backtrackIdentifier} is not the engine's last outcome`)
        }
        const after = await cluster.checksum(TABLE)
        if (after !== originals.cluster) mismatches.push(`undo ${i + 1}: ${after} != ${originals.cluster}`)
        if (i % 2 === 0) await baseline()
        runs.push({ undoMillis: undo.millis, flashbackMillis })
        breakdowns.push(describePhases(undo, outcome))
        context.log(
          `   undo ${(undo.millis / 1000).toFixed(2)} s (${breakdowns.at(-1)}), flashback ${(flashbackMillis / 1000).toFixed(2)} s`,
        )
      }
    } finally {
      await plainAdmin.end().catch(() => plainAdmin.destroy())
    }
    context.checks.push({
      id: 'checksum.dmlUndo',
      label: `CHECKSUM TABLE ${DML_DATABASE}.${TABLE} after each undo and each flashback`,
      ok: mismatches.length === 0,
      detail:
        mismatches.length === 0 ? `${runs.length} undos and ${runs.length} flashbacks matched` : mismatches.join('; '),
    })
    context.figures.push(
      dmlUndoFigure(
        runs,
        { tableSize: sizes.dmlTableSize, ...change },
        `where the time went: ${breakdowns.join(' | ')}`,
      ),
    )
  },
}
