import { CATCH_UP_TIMEOUT_MS, DATABASE, type BenchPhase } from './bench-context.js'
import { rewindFigures } from './figures.js'
import { randomIds } from './measure.js'

const BIG = 'sbtest1'
const SMALL = 'bench_small'

/**
 * Figure 4: rewinds of a few changed rows in the big table and in a small copy of its first rows, interleaved;
 * the engine's applying time (the size of the table must hardly matter).
 */
export const rewindPhase: BenchPhase = {
  name: 'rewind',
  async run(context) {
    const { sizes, engine } = context
    context.log(`4. rewinds of ${sizes.changedRows} changed rows (${sizes.rewindRepeats}x per table)`)
    const app = context.sqlClient(context.server.connectionOptions('app', DATABASE))
    const [created] = await app.query(`SHOW CREATE TABLE ${BIG}`)
    const createSql = String(created!['Create Table']).replace(/^CREATE TABLE `[^`]+`/, `CREATE TABLE \`${SMALL}\``)
    await app.query(createSql)
    await app.query(`INSERT INTO ${SMALL} SELECT * FROM ${BIG} ORDER BY id LIMIT ${sizes.smallTableSize}`)
    const times: Record<string, number[]> = { [BIG]: [], [SMALL]: [] }
    const mismatches: string[] = []
    for (let i = 0; i < sizes.rewindRepeats; i++) {
      for (const [table, size] of [
        [BIG, sizes.tableSize],
        [SMALL, sizes.smallTableSize],
      ] as const) {
        const checksum = await app.checksum(table)
        const at = await context.catchUp()
        const ids = randomIds(sizes.changedRows, size)
        await app.query(`UPDATE ${table} SET k = k + 1, c = REVERSE(c) WHERE id IN (${ids.join(',')})`)
        await context.catchUp()
        const record = await engine.backtrack({ backtrackTo: at })
        await engine.waitForBacktrack(record.BacktrackIdentifier, { timeoutMs: CATCH_UP_TIMEOUT_MS, pollMs: 5 })
        const outcome = engine.lastOutcome
        if (outcome?.record.BacktrackIdentifier !== record.BacktrackIdentifier || outcome.applyMillis === undefined) {
          throw new Error(`backtrack ${record.BacktrackIdentifier} finished without an applying time`)
        }
        times[table]!.push(outcome.applyMillis)
        const after = await app.checksum(table)
        if (after !== checksum) mismatches.push(`${table} run ${i + 1}: ${after} != ${checksum}`)
      }
    }
    await app.query(`DROP TABLE ${SMALL}`)
    context.checks.push({
      id: 'checksum.rewinds',
      label: `CHECKSUM TABLE after each rewind of ${sizes.changedRows} rows`,
      ok: mismatches.length === 0,
      detail: mismatches.length === 0 ? `${2 * sizes.rewindRepeats} rewinds matched` : mismatches.join('; '),
    })
    context.figures.push(...rewindFigures(times[BIG]!, times[SMALL]!, sizes))
  },
}
