import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import type { ServerConnectionOptions } from '@backtrack/mysql-server'

/**
 * A test's SQL session that reconnects when a backtrack closed it (Aurora closes every connection too), so a test
 * reads like a person at the `mysql` prompt.
 */
export class SqlClient {
  readonly #options: ServerConnectionOptions
  #connection: Connection | undefined

  constructor(options: ServerConnectionOptions) {
    this.#options = options
  }

  async query(statement: string, params?: unknown[]): Promise<RowDataPacket[]> {
    for (let attempt = 0; ; attempt++) {
      this.#connection ??= await mysql.createConnection({ ...this.#options, multipleStatements: false })
      try {
        const [rows] = await this.#connection.query<RowDataPacket[]>(statement, params)
        return rows
      } catch (error) {
        const lost = /closed state|ECONNRESET|Connection lost|EPIPE|killed|server has gone away/i.test(String(error))
        await this.#connection.end().catch(() => undefined)
        this.#connection = undefined
        if (!lost || attempt > 0) throw error
      }
    }
  }

  async checksum(table: string): Promise<string> {
    const [row] = await this.query(`CHECKSUM TABLE ${table}`)
    return String(row!.Checksum)
  }

  async tables(database: string): Promise<string[]> {
    const rows = await this.query(
      'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
      [database],
    )
    return rows.map((row) => String(row.name))
  }

  async end(): Promise<void> {
    await this.#connection?.end().catch(() => undefined)
    this.#connection = undefined
  }
}
