import { createHash } from 'node:crypto'
import type { Connection, RowDataPacket } from 'mysql2/promise'
import { rewriteDatabases } from '../ddl/parse-ddl.js'
import { qualifiedName, quoteIdent } from '../ddl/sql-tokens.js'
import type { TableSchema } from '../page-log/page-log.js'
import { readTableSchema } from './schema-reader.js'

/** The shadow database that mirrors `db`'s definitions (never its rows); `tag` keeps two captures apart. */
function shadowName(db: string, tag: string): string {
  const prefix = `__bt_${tag}_`
  const name = prefix + db
  return name.length <= 64 ? name : prefix + createHash('sha1').update(db).digest('hex').slice(0, 40)
}

/**
 * A private copy of every captured database's table definitions on the same server, kept in step by replaying
 * each DDL statement from the binlog into it. It answers "what exactly did this table look like right after that
 * DDL" even when the capture runs behind later DDL on the real tables. Its writes never reach the binlog.
 */
export class ShadowSchema {
  readonly #connection: Connection
  readonly #databases = new Map<string, string>()
  readonly #tag: string

  constructor(connection: Connection, tag: string) {
    this.#connection = connection
    this.#tag = tag
  }

  /** Prepares the session (call once). */
  async open(): Promise<void> {
    await this.#connection.query('SET SESSION sql_log_bin = 0, SESSION foreign_key_checks = 0')
  }

  #toShadow = (db: string) => this.#databases.get(db)
  #fromShadow = (db: string) => [...this.#databases].find(([, shadow]) => shadow === db)?.[0]

  has(db: string): boolean {
    return this.#databases.has(db)
  }

  async createDatabase(db: string): Promise<void> {
    this.#databases.set(db, shadowName(db, this.#tag))
    await this.#connection.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(shadowName(db, this.#tag))}`)
  }

  async dropDatabase(db: string): Promise<void> {
    await this.#connection.query(`DROP DATABASE IF EXISTS ${quoteIdent(shadowName(db, this.#tag))}`)
    this.#databases.delete(db)
  }

  /** Creates a table in the shadow from `SHOW CREATE TABLE` text. */
  async createTable(db: string, createSql: string): Promise<void> {
    await this.#connection.query(`USE ${quoteIdent(shadowName(db, this.#tag))}`)
    await this.#connection.query(rewriteDatabases(createSql, this.#toShadow))
  }

  async dropTable(db: string, table: string): Promise<void> {
    await this.#connection.query(`DROP TABLE IF EXISTS ${this.qualified(db, table)}`)
  }

  /** Replays a DDL statement from the binlog; `schema` is the statement's default database. */
  async replay(sql: string, schema: string): Promise<void> {
    const shadow = this.#databases.get(schema)
    await this.#connection.query(shadow === undefined ? 'USE mysql' : `USE ${quoteIdent(shadow)}`)
    await this.#connection.query(rewriteDatabases(sql, this.#toShadow))
  }

  async tableExists(db: string, table: string): Promise<boolean> {
    const [rows] = await this.#connection.query<RowDataPacket[]>(
      'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [shadowName(db, this.#tag), table],
    )
    return rows.length > 0
  }

  /** A table's definition as the shadow has it, with database names mapped back to the real ones. */
  async describe(db: string, table: string): Promise<TableSchema> {
    const schema = await readTableSchema(this.#connection, shadowName(db, this.#tag), table)
    return {
      ...schema,
      createSql: rewriteDatabases(schema.createSql, this.#fromShadow),
      foreignKeys: schema.foreignKeys.map((fk) => ({
        ...fk,
        parentDatabase: this.#fromShadow(fk.parentDatabase) ?? fk.parentDatabase,
      })),
    }
  }

  /** Rebuilds the shadow from scratch: one entry per database, each with its tables' CREATE text. */
  async reset(databases: Map<string, { table: string; createSql: string }[]>): Promise<void> {
    const [rows] = await this.#connection.query<RowDataPacket[]>(
      `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '__bt\\_${this.#tag}\\_%'`,
    )
    for (const row of rows) await this.#connection.query(`DROP DATABASE ${quoteIdent(String(row.name))}`)
    this.#databases.clear()
    for (const db of databases.keys()) await this.createDatabase(db)
    for (const [db, tables] of databases) {
      for (const { createSql } of tables) await this.createTable(db, createSql)
    }
  }

  /** Qualified name of a table's shadow copy. */
  qualified(db: string, table: string): string {
    return qualifiedName(shadowName(db, this.#tag), table)
  }
}
