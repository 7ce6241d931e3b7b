import { createReadStream, createWriteStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import mysql, { type Connection, type ResultSetHeader } from 'mysql2/promise'
import { loadDataColumns, loadDataLines } from '../load-data.js'
import { readTableRows, readTableSchema } from '../capture/schema-reader.js'
import { qualifiedName } from '../ddl/sql-tokens.js'
import type { StartedMysqlServer } from '@backtrack/mysql-server'

const COPY = '__bench_load_copy'

/**
 * The baseline of undoing a dropped table: `LOAD DATA LOCAL INFILE` of its rows. `dump()` writes the table as
 * LOAD DATA text (the exact bytes the executor streams) to a file once; `time()` loads that file into an empty
 * `CREATE TABLE ... LIKE` copy with the executor's session settings (`sql_log_bin=0`, no FK/unique checks).
 */
export class LoadDataBaseline {
  readonly #server: StartedMysqlServer
  readonly #admin: Connection
  readonly #database: string
  readonly #table: string
  readonly #file: string

  constructor(server: StartedMysqlServer, admin: Connection, database: string, table: string, file: string) {
    this.#server = server
    this.#admin = admin
    this.#database = database
    this.#table = table
    this.#file = file
  }

  async dump(): Promise<void> {
    const schema = await readTableSchema(this.#admin, this.#database, this.#table)
    const dump = await mysql.createConnection(this.#server.connectionOptions('admin'))
    try {
      await dump.query("SET SESSION time_zone = '+00:00'")
      await pipeline(
        Readable.from(loadDataLines(readTableRows(dump, this.#database, this.#table, schema), schema.columns.length)),
        createWriteStream(this.#file),
      )
    } finally {
      await dump.end().catch(() => dump.destroy())
    }
  }

  /** Loads the dumped rows into an empty copy; resolves with the milliseconds of the LOAD DATA statement. */
  async time(): Promise<{ millis: number; rows: number }> {
    const admin = this.#admin
    const schema = await readTableSchema(admin, this.#database, this.#table)
    const copy = qualifiedName(this.#database, COPY)
    await admin.query(
      "SET SESSION sql_log_bin = 0, SESSION foreign_key_checks = 0, SESSION unique_checks = 0, SESSION time_zone = '+00:00', SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
    )
    try {
      await admin.query(`DROP TABLE IF EXISTS ${copy}`)
      await admin.query(`CREATE TABLE ${copy} LIKE ${qualifiedName(this.#database, this.#table)}`)
      const { list, set } = loadDataColumns(schema.columns)
      const started = performance.now()
      const [result] = await admin.query<ResultSetHeader>({
        sql:
          `LOAD DATA LOCAL INFILE 'bench-rows' INTO TABLE ${copy} CHARACTER SET binary ` +
          `FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' STARTING BY '' ` +
          `(${list})${set}`,
        infileStreamFactory: () => createReadStream(this.#file, { highWaterMark: 64 * 1024 }),
      })
      return { millis: performance.now() - started, rows: result.affectedRows }
    } finally {
      await admin.query(`DROP TABLE IF EXISTS ${copy}`)
      await admin.query('SET SESSION sql_log_bin = 1, SESSION foreign_key_checks = 1, SESSION unique_checks = 1')
    }
  }
}
