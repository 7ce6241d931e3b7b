import { describe, expect, it } from 'vitest'
import { classifySql, READ_ONLY_ERROR, ReadOnlyFilter, readOnlyErrorPacket } from './read-only-protocol.js'

function packet(sequence: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4)
  header.writeUIntLE(payload.length, 0, 3)
  header[3] = sequence
  return Buffer.concat([header, payload])
}

function query(sql: string, sequence = 0): Buffer {
  return packet(sequence, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, 'utf8')]))
}

/** A HandshakeV10 greeting offering TLS, compression and query attributes. */
function greeting(): Buffer {
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from('11.0.0-MariaDB\0', 'latin1'),
    Buffer.alloc(4, 1), // connection id
    Buffer.alloc(8, 2), // auth data part 1
    Buffer.from([0]),
    Buffer.from([0xff, 0xff]), // lower capability flags: all
    Buffer.from([33]), // charset
    Buffer.from([2, 0]), // status
    Buffer.from([0xff, 0xff]), // upper capability flags: all
    Buffer.alloc(11),
  ])
  return packet(0, payload)
}

function harness() {
  const toServer: Buffer[] = []
  const toClient: Buffer[] = []
  const refused: string[] = []
  const filter = new ReadOnlyFilter({
    toServer: (bytes) => toServer.push(bytes),
    toClient: (bytes) => toClient.push(bytes),
    refuse: (reason) => refused.push(reason),
  })
  // The handshake: greeting, then the client's answer (no TLS).
  filter.fromServer(greeting())
  const handshakeResponse = Buffer.alloc(32)
  handshakeResponse.writeUInt32LE(0x000fa685 & ~0x800, 0)
  filter.fromClient(packet(1, handshakeResponse))
  toServer.length = 0
  return { filter, toServer, toClient, refused }
}

describe('classifySql', () => {
  it.each([
    'SELECT * FROM t WHERE c = "DELETE"',
    '  /* hint */ select 1',
    '(SELECT 1) UNION (SELECT 2)',
    'WITH x AS (SELECT 1) SELECT * FROM x',
    'SHOW TABLES',
    'show create table `update`',
    'DESCRIBE t',
    'EXPLAIN SELECT * FROM t',
    'USE mylab',
    "SET NAMES utf8mb4; SET SESSION sql_mode = 'ANSI'",
    'SET autocommit = 0',
    'BEGIN',
    'START TRANSACTION READ ONLY',
    'COMMIT',
    'ROLLBACK',
    'SELECT * FROM t FOR UPDATE',
    'SELECT c INTO @x FROM t LIMIT 1',
    'CHECKSUM TABLE t',
    'LOCK TABLES t READ',
    'UNLOCK TABLES',
    "PREPARE s FROM 'SELECT ?'",
    'EXECUTE s',
    'DO SLEEP(0)',
    'KILL QUERY 12',
    '',
    ';',
  ])('%s reads', (sql) => expect(classifySql(sql)).toBe('read'))

  it.each([
    'INSERT INTO t VALUES (1)',
    'update t set c = 1',
    'DELETE FROM t',
    'REPLACE INTO t VALUES (1)',
    'CREATE TABLE t2 (id INT)',
    'DROP TABLE t',
    'TRUNCATE t',
    'ALTER TABLE t ADD c2 INT',
    'RENAME TABLE t TO t2',
    'LOAD DATA LOCAL INFILE "x" INTO TABLE t',
    'SELECT 1; DELETE FROM t',
    '/*!40000 DELETE FROM t */',
    'SELECT * FROM t INTO OUTFILE "/tmp/x"',
    'WITH x AS (SELECT 1) DELETE FROM t',
    'EXPLAIN ANALYZE DELETE FROM t',
    "SET PASSWORD = 'x'",
    'SET GLOBAL read_only = OFF',
    'SET @@global.read_only = OFF',
    'LOCK TABLES t WRITE',
    "PREPARE s FROM 'DELETE FROM t'",
    'PREPARE s FROM @sql',
    'CALL p()',
    'GRANT ALL ON *.* TO x',
    'FLUSH TABLES',
    'START SLAVE',
    'OPTIMIZE TABLE t',
  ])('%s writes', (sql) => expect(classifySql(sql)).toBe('write'))
})

describe('ReadOnlyFilter', () => {
  it('stops offering TLS, compression and query attributes in the greeting', () => {
    const toClient: Buffer[] = []
    const filter = new ReadOnlyFilter({ toServer: () => {}, toClient: (b) => toClient.push(b), refuse: () => {} })
    // Split across chunks, as TCP may deliver it.
    const bytes = greeting()
    filter.fromServer(bytes.subarray(0, 7))
    expect(toClient).toEqual([])
    filter.fromServer(bytes.subarray(7))
    const sent = Buffer.concat(toClient)
    expect(sent.length).toBe(bytes.length)
    const lowerAt = 4 + 1 + '11.0.0-MariaDB\0'.length + 4 + 8 + 1
    const lower = sent.readUInt16LE(lowerAt)
    expect(lower & 0x800).toBe(0)
    expect(lower & 0x20).toBe(0)
    expect(lower | 0x820).toBe(0xffff)
    expect(sent.readUInt16LE(lowerAt + 5) & 0x800).toBe(0)
  })

  it('forwards reads and answers writes with error 1290 as the next packet of the exchange', () => {
    const { filter, toServer, toClient } = harness()
    filter.fromClient(query('SELECT 1'))
    expect(toServer).toEqual([query('SELECT 1')])
    filter.fromClient(query('DELETE FROM t'))
    expect(toServer).toHaveLength(1)
    expect(toClient.at(-1)).toEqual(readOnlyErrorPacket(1))
    const error = toClient.at(-1)!
    expect(error[4]).toBe(0xff)
    expect(error.readUInt16LE(5)).toBe(1290)
    expect(error.subarray(7, 13).toString('latin1')).toBe('#HY000')
    expect(error.subarray(13).toString('utf8')).toBe(READ_ONLY_ERROR.message)
  })

  it('refuses a prepared write and passes packets that are not commands', () => {
    const { filter, toServer, toClient } = harness()
    const prepare = packet(0, Buffer.concat([Buffer.from([0x16]), Buffer.from('UPDATE t SET c = ?')]))
    filter.fromClient(prepare)
    expect(toServer).toEqual([])
    expect(toClient.at(-1)?.readUInt16LE(5)).toBe(1290)
    const authData = packet(3, Buffer.from('scramble'))
    filter.fromClient(authData)
    expect(toServer).toEqual([authData])
  })

  it('collects a command larger than one packet before deciding', () => {
    const { filter, toServer, toClient } = harness()
    // The statement's words come after the first packet's 16 MiB of blanks.
    const blanks = ' '.repeat(0xffffff)
    const read = Buffer.concat([Buffer.from([0x03]), Buffer.from(blanks + 'SELECT 1')])
    const first = packet(0, read.subarray(0, 0xffffff))
    const second = packet(1, read.subarray(0xffffff))
    filter.fromClient(first)
    expect(toServer.length).toBe(0)
    filter.fromClient(second)
    expect(toServer.length).toBe(2)
    expect(Buffer.compare(Buffer.concat(toServer), Buffer.concat([first, second]))).toBe(0)

    const write = Buffer.concat([Buffer.from([0x03]), Buffer.from(blanks + 'DELETE FROM t')])
    filter.fromClient(packet(0, write.subarray(0, 0xffffff)))
    filter.fromClient(packet(1, write.subarray(0xffffff)))
    expect(toServer.length).toBe(2)
    expect(Buffer.compare(toClient.at(-1)!, readOnlyErrorPacket(2))).toBe(0)
  })

  it('closes a connection whose client asks for TLS', () => {
    const refused: string[] = []
    const toServer: Buffer[] = []
    const filter = new ReadOnlyFilter({
      toServer: (b) => toServer.push(b),
      toClient: () => {},
      refuse: (r) => refused.push(r),
    })
    filter.fromServer(greeting())
    const sslRequest = Buffer.alloc(32)
    sslRequest.writeUInt32LE(0x800 | 0x200, 0)
    filter.fromClient(packet(1, sslRequest))
    expect(refused).toHaveLength(1)
    expect(toServer).toEqual([])
  })
})
