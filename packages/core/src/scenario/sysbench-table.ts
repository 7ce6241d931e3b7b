import type { ScenarioSql } from './run-scenario.js'

/** `CREATE TABLE` of sysbench's oltp tables (oltp_common.lua, MySQL driver, InnoDB). */
function sysbenchCreateTableSql(table: string): string {
  return (
    `CREATE TABLE ${table} (\n` +
    '  id INTEGER NOT NULL AUTO_INCREMENT,\n' +
    "  k INTEGER DEFAULT '0' NOT NULL,\n" +
    "  c CHAR(120) DEFAULT '' NOT NULL,\n" +
    "  pad CHAR(60) DEFAULT '' NOT NULL,\n" +
    '  PRIMARY KEY (id)\n' +
    ') ENGINE = InnoDB'
  )
}

function digitGroups(groups: number, random: () => number): string {
  let out = ''
  for (let g = 0; g < groups; g++) {
    if (g > 0) out += '-'
    for (let i = 0; i < 11; i++) out += String(Math.floor(random() * 10))
  }
  return out
}

/**
 * sysbench's default `special` distribution over [1, max]: 75% of the values fall in the first 1% of the range
 * (`--rand-spec-res=75 --rand-spec-pct=1`), the rest uniformly over the remainder.
 */
function specialRandom(max: number, random: () => number): number {
  const hot = Math.max(1, Math.floor(max * 0.01))
  if (max <= hot || random() < 0.75) return 1 + Math.floor(random() * hot)
  return 1 + hot + Math.floor(random() * (max - hot))
}

export interface SysbenchPrepareOptions {
  table: string
  rows: number
  /** Rows per INSERT statement (default 1000). */
  batch?: number
  random?: () => number
  onProgress?: (rowsLoaded: number) => void
}

/**
 * Does what `sysbench oltp_write_only --tables=1 --table-size=N prepare` does, over any SQL connection: creates the
 * table, inserts N rows with sysbench's value shapes (k from the `special` distribution, c: ten groups of eleven
 * digits, pad: five), then adds the secondary index `k_1`. For machines without sysbench.
 */
export async function prepareSysbenchTable(sql: ScenarioSql, options: SysbenchPrepareOptions): Promise<void> {
  const { table, rows } = options
  const batch = options.batch ?? 1000
  const random = options.random ?? Math.random
  await sql.query(sysbenchCreateTableSql(table))
  for (let loaded = 0; loaded < rows;) {
    const count = Math.min(batch, rows - loaded)
    const values: string[] = []
    for (let i = 0; i < count; i++) {
      values.push(`(${specialRandom(rows, random)},'${digitGroups(10, random)}','${digitGroups(5, random)}')`)
    }
    await sql.query(`INSERT INTO ${table} (k, c, pad) VALUES ${values.join(',')}`)
    loaded += count
    options.onProgress?.(loaded)
  }
  const index = `k_${/(\d+)$/.exec(table)?.[1] ?? '1'}`
  await sql.query(`CREATE INDEX ${index} ON ${table} (k)`)
}
