/**
 * A table with every column type MariaDB offers, and rows holding each type at its limits (max, min, zeros and
 * zero dates, NULL everywhere, floats that only round-trip exactly), plus weird identifiers: the shared fixture of
 * the binlog round-trip test and the engine's value round-trip test.
 */

/** Quotes an identifier. */
export const q = (name: string) => '`' + name.replaceAll('`', '``') + '`'
/** A value inlined as SQL (mysql2 `toSqlString`). */
const raw = (sql: string) => ({ toSqlString: () => sql })

/** A column name with a backtick, a space, a dot and non-ASCII. */
export const WEIRD = 'we ird`col.ü'

/** The column definitions (`CREATE TABLE t (${COLUMNS_SQL})`); `id` is the primary key. */
export const COLUMNS_SQL = `
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d DECIMAL(65,30), d2 DECIMAL(10,2), d5 DECIMAL(5,5), d0 DECIMAL(20,0),
  f FLOAT, db DOUBLE,
  b1 BIT(1), b13 BIT(13), b64 BIT(64),
  dt DATE, tm TIME, tm3 TIME(3), tm6 TIME(6), dtm0 DATETIME, dtm6 DATETIME(6), dtm2 DATETIME(2),
  ts0 TIMESTAMP NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL, y YEAR,
  c CHAR(70), vc VARCHAR(300), tx TEXT, lt LONGTEXT, cl CHAR(10) CHARACTER SET latin1, vl VARCHAR(10) CHARACTER SET latin1,
  bn BINARY(8), vb VARBINARY(300), bl BLOB, mb MEDIUMBLOB,
  e ENUM('a','b','ü'), s SET('x','y','z','ü'),
  j JSON, g GEOMETRY, pt POINT,
  gen BIGINT AS (i + 1) VIRTUAL, gens VARCHAR(20) AS (concat(vl, '!')) STORED,
  ${q(WEIRD)} INT
`

/** The columns an INSERT gives values for (all but the generated ones), in table order. */
const NAMES = [
  'id',
  'ti',
  'tiu',
  'si',
  'siu',
  'mi',
  'miu',
  'i',
  'iu',
  'bi',
  'biu',
  'd',
  'd2',
  'd5',
  'd0',
  'f',
  'db',
  'b1',
  'b13',
  'b64',
  'dt',
  'tm',
  'tm3',
  'tm6',
  'dtm0',
  'dtm6',
  'dtm2',
  'ts0',
  'ts6',
  'y',
  'c',
  'vc',
  'tx',
  'lt',
  'cl',
  'vl',
  'bn',
  'vb',
  'bl',
  'mb',
  'e',
  's',
  'j',
  'g',
  'pt',
  WEIRD,
]

export type Row = Record<string, unknown>

export const maxRow: Row = {
  id: 1,
  ti: 127,
  tiu: 255,
  si: 32767,
  siu: 65535,
  mi: 8388607,
  miu: 16777215,
  i: 2147483647,
  iu: 4294967295,
  bi: '9223372036854775807',
  biu: '18446744073709551615',
  d: '99999999999999999999999999999999999.999999999999999999999999999999',
  d2: '99999999.99',
  d5: '0.99999',
  d0: '99999999999999999999',
  f: raw('3.40282e38'),
  db: raw('1.7976931348623157e308'),
  b1: raw("b'1'"),
  b13: raw("b'1111111111111'"),
  b64: raw('0xFFFFFFFFFFFFFFFF'),
  dt: '9999-12-31',
  tm: '838:59:59',
  tm3: '838:59:59.000',
  tm6: '838:59:59.000000',
  dtm0: '9999-12-31 23:59:59',
  dtm6: '9999-12-31 23:59:59.999999',
  dtm2: '9999-12-31 23:59:59.99',
  ts0: '2038-01-19 03:14:07',
  ts6: '2038-01-19 03:14:07.999999',
  y: 2155,
  c: '😀𝄞ünï 4-byte',
  vc: 'x'.repeat(290) + '😀',
  tx: 'tab\there\nnewline\\backslash\0zero 😀',
  lt: '{"json": "in longtext"}\r\n',
  cl: 'àéî',
  vl: 'ÿ\t\\',
  bn: Buffer.from([0, 1, 0, 9, 10, 92, 255, 0]),
  vb: Buffer.from([0, 0, 0, 13, 10, 9, 92, 78]),
  bl: Buffer.concat([Buffer.from([0, 255, 10, 9, 92]), Buffer.alloc(65_000, 0xab)]),
  mb: Buffer.concat([Buffer.from('\\N'), Buffer.alloc(70_000, 0x5c)]),
  e: 'ü',
  s: 'x,z,ü',
  j: '{"a": [1, 2.5, "x\\ty", true, null], "b": {"c": -3}, "ü": "😀"}',
  g: raw("ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))')"),
  pt: raw('POINT(1.5, -2.25)'),
  [WEIRD]: -1,
}

export const minRow: Row = {
  id: 2,
  ti: -128,
  tiu: 0,
  si: -32768,
  siu: 0,
  mi: -8388608,
  miu: 0,
  i: -2147483648,
  iu: 0,
  bi: '-9223372036854775808',
  biu: '0',
  d: '-99999999999999999999999999999999999.999999999999999999999999999999',
  d2: '-99999999.99',
  d5: '-0.00001',
  d0: '-99999999999999999999',
  f: raw('-1.17549e-38'),
  db: raw('-2.2250738585072014e-308'),
  b1: raw("b'0'"),
  b13: raw("b'0'"),
  b64: raw('0x0000000000000001'),
  dt: '1000-01-01',
  tm: '-838:59:59',
  tm3: '-00:00:00.001',
  tm6: '-838:59:58.999999',
  dtm0: '1000-01-01 00:00:00',
  dtm6: '1000-01-01 00:00:00.000001',
  dtm2: '1000-01-01 00:00:00.01',
  ts0: '1970-01-01 00:00:01',
  ts6: '1970-01-01 00:00:01.000001',
  y: 1901,
  c: '',
  vc: '',
  tx: '',
  lt: '',
  cl: '',
  vl: ' trailing  ',
  bn: Buffer.alloc(0),
  vb: Buffer.alloc(0),
  bl: Buffer.alloc(0),
  mb: Buffer.alloc(0),
  e: 'a',
  s: '',
  j: '[]',
  g: raw("ST_GeomFromText('POINT(0 0)', 4326)"),
  pt: raw('POINT(-0.0, 1e-300)'),
  [WEIRD]: 0,
}

export const zeroRow: Row = {
  id: 3,
  ti: 0,
  tiu: 1,
  si: -1,
  siu: 1,
  mi: -1,
  miu: 1,
  i: -1,
  iu: 1,
  bi: '-1',
  biu: '9223372036854775808',
  d: '-0.000000000000000000000000000001',
  d2: '0.01',
  d5: '0.00000',
  d0: '0',
  f: raw('0.1'),
  db: raw('0.1'),
  b1: raw("b'0'"),
  b13: raw("b'1000000000001'"),
  b64: raw('0x8000000000000000'),
  dt: '0000-00-00',
  tm: '00:00:00',
  tm3: '-00:00:01.5',
  tm6: '12:34:56.789012',
  dtm0: '0000-00-00 00:00:00',
  dtm6: '0000-00-00 00:00:00.000000',
  dtm2: '2024-02-29 12:00:00.5',
  ts0: '0000-00-00 00:00:00',
  ts6: '2024-02-29 23:59:59.5',
  y: 0,
  c: 'trailing spaces  ',
  vc: '\\\\N',
  tx: '\\N',
  lt: 'NULL',
  cl: '\t',
  vl: '\n',
  bn: Buffer.from('\\N'),
  vb: Buffer.from('NULL'),
  bl: Buffer.from([0]),
  mb: Buffer.from([10]),
  e: 'b',
  s: 'y',
  j: '"just a string"',
  g: raw("ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))')"),
  pt: raw('POINT(123456789.123456789, -987654321.987654321)'),
  [WEIRD]: 2147483647,
}

export const nullRow: Row = Object.fromEntries(NAMES.map((n) => [n, n === 'id' ? 4 : null]))

export const floatRows: Row[] = [
  ['1.5', '1.5'],
  ['123456.7', '123456.789'],
  ['3.14159274', '3.141592653589793'],
  ['1e-45', '5e-324'],
  ['16777217', '9007199254740993'],
  ['-0.3', '-1e300'],
  ['7.038531e-26', '0.30000000000000004'],
].map(([f, db], k) => ({ ...nullRow, id: 10 + k, f: raw(f!), db: raw(db!) }))

/** One INSERT of `rows` into `table` (already quoted). */
export function insertSql(table: string, rows: Row[]): { sql: string; values: unknown[] } {
  const values: unknown[] = []
  const tuples = rows.map((row) => {
    const cells = NAMES.map((n) => {
      values.push(row[n] ?? null)
      return '?'
    })
    return `(${cells.join(', ')})`
  })
  return { sql: `INSERT INTO ${table} (${NAMES.map(q).join(', ')}) VALUES ${tuples.join(', ')}`, values }
}

/** Every fixture row: maximum, minimum, zero, NULL and float rows (ids 1-4 and 10-16). */
export const ALL_ROWS: Row[] = [maxRow, minRow, zeroRow, nullRow, ...floatRows]

/** Inserts `rows` (default: all of them) into `table` (already quoted) with `query`. */
export async function insertRows(
  query: (sql: string, values: unknown[]) => Promise<unknown>,
  table: string,
  rows: Row[] = ALL_ROWS,
): Promise<void> {
  const { sql, values } = insertSql(table, rows)
  await query(sql, values)
}
