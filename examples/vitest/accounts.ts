// The application under test: a tiny bank on a mysql2 pool.
import type { Pool, RowDataPacket } from 'mysql2/promise'

export async function balance(pool: Pool, id: number): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT balance FROM accounts WHERE id = ?', [id])
  if (rows.length === 0) throw new Error(`no account ${id}`)
  return Number(rows[0]!.balance)
}

export async function transfer(pool: Pool, from: number, to: number, amount: number): Promise<void> {
  const connection = await pool.getConnection()
  try {
    await connection.beginTransaction()
    const [rows] = await connection.query<RowDataPacket[]>('SELECT balance FROM accounts WHERE id = ? FOR UPDATE', [
      from,
    ])
    if (rows.length === 0 || Number(rows[0]!.balance) < amount) throw new Error('insufficient funds')
    await connection.query('UPDATE accounts SET balance = balance - ? WHERE id = ?', [amount, from])
    await connection.query('UPDATE accounts SET balance = balance + ? WHERE id = ?', [amount, to])
    await connection.query('INSERT INTO ledger (from_id, to_id, amount) VALUES (?, ?, ?)', [from, to, amount])
    await connection.commit()
  } catch (error) {
    await connection.rollback()
    throw error
  } finally {
    connection.release()
  }
}
