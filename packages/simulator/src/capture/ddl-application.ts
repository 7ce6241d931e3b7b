import type { Connection } from 'mysql2/promise'
import { loadRows } from '../load-data.js'
import { rewriteDatabases, withTableName, type Ddl, type TableRef } from '../ddl/parse-ddl.js'
import { quoteIdent } from '../ddl/sql-tokens.js'
import { expandCounts } from '../page-log/keyless-rows.js'
import type { PageLog, TableIncarnation, TableSchema } from '../page-log/page-log.js'
import { putRows } from './base-image.js'
import { tableKey, type Catalog } from './catalog.js'
import { isSystemDatabase, readTableRows } from './schema-reader.js'
import type { ShadowSchema } from './shadow-schema.js'

/** The scratch database an ALTER is replayed in: this prefix and the cluster's shadow tag. */
const SCRATCH_PREFIX = '__bt_scratch_'

/** What DDL application needs from the capture (admin connection and shadow change when it reconnects). */
export interface DdlContext {
  readonly log: PageLog
  readonly catalog: Catalog
  admin(): Connection
  shadow(): ShadowSchema
  /** The LSN of the open transaction. */
  lsn(): number
}

/** Applies one DDL statement to the log and the shadow; returns whether it touched captured tables. */
export async function applyDdl(context: DdlContext, ddl: Ddl, schema: string, sql: string): Promise<boolean> {
  const resolve = (ref: TableRef) => ({ db: ref.db ?? schema, name: ref.name })
  const log = context.log
  const shadow = context.shadow()
  switch (ddl.kind) {
    case 'other':
      return false
    case 'create-database': {
      if (isSystemDatabase(ddl.db)) return false
      const lsn = context.lsn()
      if (ddl.orReplace) dropDatabaseTables(context, ddl.db, lsn)
      await shadow.createDatabase(ddl.db)
      log.createDatabase(ddl.db, lsn, `CREATE DATABASE ${quoteIdent(ddl.db)}${databaseOptions(sql)}`)
      return true
    }
    case 'drop-database': {
      if (isSystemDatabase(ddl.db) || !shadow.has(ddl.db)) return false
      const lsn = context.lsn()
      dropDatabaseTables(context, ddl.db, lsn)
      log.dropDatabase(ddl.db, lsn)
      await shadow.dropDatabase(ddl.db)
      return true
    }
    case 'create-table': {
      const { db, name } = resolve(ddl.table)
      if (ddl.temporary || isSystemDatabase(db)) return false
      const existing = context.catalog.get(tableKey(db, name))
      if (existing !== undefined && !ddl.orReplace) return false // CREATE TABLE IF NOT EXISTS on an existing table
      const lsn = context.lsn()
      if (existing !== undefined) {
        log.dropTable(existing.id, lsn)
        context.catalog.delete(tableKey(db, name))
      }
      await shadow.replay(sql, schema)
      newIncarnation(context, db, name, await shadow.describe(db, name), lsn)
      return true
    }
    case 'drop-table': {
      if (ddl.temporary) return false
      let touched = false
      for (const ref of ddl.tables) {
        const { db, name } = resolve(ref)
        const table = context.catalog.get(tableKey(db, name))
        if (table === undefined) continue
        log.dropTable(table.id, context.lsn())
        context.catalog.delete(tableKey(db, name))
        touched = true
      }
      if (touched) await shadow.replay(sql, schema)
      return touched
    }
    case 'truncate': {
      const { db, name } = resolve(ddl.table)
      const table = context.catalog.get(tableKey(db, name))
      if (table === undefined) return false
      const lsn = context.lsn()
      log.dropTable(table.id, lsn)
      newIncarnation(context, db, name, table.schema, lsn)
      return true
    }
    case 'alter-table':
    case 'index': {
      const { db, name } = resolve(ddl.table)
      const table = context.catalog.get(tableKey(db, name))
      if (table === undefined) return false
      const target = ddl.kind === 'alter-table' && ddl.renameTo !== undefined ? resolve(ddl.renameTo) : { db, name }
      await shadow.replay(sql, schema)
      const schemaAfter = await shadow.describe(target.db, target.name)
      const lsn = context.lsn()
      if (keepsRows(table.schema, schemaAfter)) {
        // Indexes, constraints or table options only: the rows stay as they are, the definition changes.
        log.alterSchema(table.id, lsn, schemaAfter)
        if (target.db !== db || target.name !== name) log.renameTable(table.id, lsn, target.db, target.name)
        context.catalog.delete(tableKey(db, name))
        context.catalog.set(tableKey(target.db, target.name), {
          ...table,
          database: target.db,
          name: target.name,
          schema: schemaAfter,
        })
        return true
      }
      log.dropTable(table.id, lsn)
      context.catalog.delete(tableKey(db, name))
      const id = newIncarnation(context, target.db, target.name, schemaAfter, lsn)
      await rebuildRows(context, table, sql, target.name, id, schemaAfter, lsn)
      return true
    }
    case 'rename-table': {
      let touched = false
      const lsn = context.lsn()
      for (const [from, to] of ddl.pairs) {
        const source = resolve(from)
        const destination = resolve(to)
        const table = context.catalog.get(tableKey(source.db, source.name))
        if (table === undefined) continue
        log.renameTable(table.id, lsn, destination.db, destination.name)
        context.catalog.delete(tableKey(source.db, source.name))
        context.catalog.set(tableKey(destination.db, destination.name), {
          ...table,
          database: destination.db,
          name: destination.name,
        })
        touched = true
      }
      if (touched) await shadow.replay(sql, schema)
      return touched
    }
    case 'none':
      return false
  }
}

function dropDatabaseTables(context: DdlContext, db: string, lsn: number): void {
  for (const table of [...context.catalog.values()]) {
    if (table.database !== db) continue
    context.log.dropTable(table.id, lsn)
    context.catalog.delete(tableKey(db, table.name))
  }
}

function newIncarnation(context: DdlContext, db: string, name: string, schema: TableSchema, lsn: number): number {
  const id = context.log.createTable(db, name, schema, lsn)
  context.catalog.set(tableKey(db, name), { id, database: db, name, createdLsn: lsn, droppedLsn: null, schema })
  return id
}

/**
 * An ALTER rewrites every row without a row event. Replay it on a scratch copy of the table built from the
 * log (the state right before the ALTER), and record the rows it produced as the new incarnation's base.
 */
async function rebuildRows(
  context: DdlContext,
  old: TableIncarnation,
  sql: string,
  newName: string,
  id: number,
  schemaAfter: TableSchema,
  lsn: number,
): Promise<void> {
  const admin = context.admin()
  const SCRATCH_DB = SCRATCH_PREFIX + context.log.getMeta('shadow_tag')
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(SCRATCH_DB)}`)
  await admin.query(`CREATE DATABASE ${quoteIdent(SCRATCH_DB)}`)
  try {
    await admin.query(`USE ${quoteIdent(SCRATCH_DB)}`)
    await admin.query(withTableName(old.schema.createSql, old.name))
    const view = context.log.viewAt(lsn - 1)
    await loadRows(
      admin,
      { database: SCRATCH_DB, table: old.name, columns: old.schema.columns },
      expandCounts(context.log.imagesIn(old.id, view), old.schema),
    )
    await admin.query(rewriteDatabases(sql, () => SCRATCH_DB))
    await putRows(context.log, id, schemaAfter, lsn, readTableRows(admin, SCRATCH_DB, newName, schemaAfter))
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(SCRATCH_DB)}`)
    await admin.query(`USE mysql`).catch(() => undefined)
  }
}

/** Options after the database name of a CREATE DATABASE statement (character set, collation). */
function databaseOptions(sql: string): string {
  const match = /\b(DEFAULT\s+)?(CHARACTER\s+SET|CHARSET|COLLATE)\b[\s\S]*$/i.exec(sql)
  return match === null ? '' : ` ${match[0]}`
}

/** The column definitions of a `SHOW CREATE TABLE` text (its lines that start with a quoted name). */
function columnLines(createSql: string): string[] {
  return createSql.split('\n').filter((line) => /^\s+`/.test(line))
}

/** Whether an ALTER from `before` to `after` leaves every stored row unchanged. */
function keepsRows(before: TableSchema, after: TableSchema): boolean {
  const a = columnLines(before.createSql)
  const b = columnLines(after.createSql)
  return (
    a.length > 0 &&
    a.length === b.length &&
    a.every((line, i) => line.replace(/,$/, '') === b[i]!.replace(/,$/, '')) &&
    before.keyColumns.join() === after.keyColumns.join()
  )
}
