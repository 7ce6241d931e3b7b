// node:test, plain JavaScript: one cluster for the file, a rewind to the seeded state after each test.
import assert from 'node:assert/strict'
import { after, afterEach, before, test } from 'node:test'
import { startLocalCluster } from '@backtrack/simulator'
import mysql from 'mysql2/promise'

let cluster
let pool
let seeded

before(async () => {
  cluster = await startLocalCluster()
  pool = mysql.createPool({ ...cluster.info().sql, connectionLimit: 3 })
  await pool.query('CREATE TABLE items (sku VARCHAR(20) PRIMARY KEY, stock INT NOT NULL)')
  await pool.query("INSERT INTO items VALUES ('apple', 10), ('pear', 5)")
  seeded = await cluster.mark()
})

afterEach(async () => {
  const record = await cluster.rewind(seeded)
  assert.equal(record.Status, 'completed')
})

after(async () => {
  await pool?.end()
  await cluster?.stop()
})

const stock = async (sku) => {
  const [rows] = await pool.query('SELECT stock FROM items WHERE sku = ?', [sku])
  return rows[0]?.stock
}

test('selling an apple lowers its stock', async () => {
  await pool.query("UPDATE items SET stock = stock - 1 WHERE sku = 'apple'")
  assert.equal(await stock('apple'), 9)
})

test('the next test sees the seeded stock again', async () => {
  assert.equal(await stock('apple'), 10)
})

test('deleting everything is undone too', async () => {
  await pool.query('DELETE FROM items')
  await pool.query('DROP TABLE items')
})

test('items is back with its rows', async () => {
  assert.equal(await stock('pear'), 5)
})

test('a transaction left open by a test is closed by the rewind, and the pool moves on', async () => {
  const connection = await pool.getConnection()
  await connection.beginTransaction()
  await connection.query("UPDATE items SET stock = 0 WHERE sku = 'pear'")
  await cluster.rewind(seeded)
  await assert.rejects(connection.query('COMMIT'), /Connection lost|closed/)
  connection.release()
  assert.equal(await stock('pear'), 5)
})
