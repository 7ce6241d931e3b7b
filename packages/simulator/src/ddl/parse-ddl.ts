import { tokenize, type Token } from './sql-tokens.js'

/** A table name as written: `db` is undefined when the statement relies on its default database. */
export interface TableRef {
  db?: string
  name: string
}

/** What a statement from a QUERY event does to the schema. */
export type Ddl =
  | { kind: 'create-database'; db: string; orReplace: boolean }
  | { kind: 'drop-database'; db: string }
  | { kind: 'create-table'; table: TableRef; orReplace: boolean; temporary: boolean }
  | { kind: 'drop-table'; tables: TableRef[]; temporary: boolean }
  | { kind: 'truncate'; table: TableRef }
  | { kind: 'alter-table'; table: TableRef; renameTo?: TableRef }
  | { kind: 'rename-table'; pairs: [TableRef, TableRef][] }
  | { kind: 'index'; table: TableRef }
  /** Schema statements that do not change tables or databases (views, triggers, routines, users, grants...). */
  | { kind: 'other' }
  /** Transaction control and other statements that are not DDL (BEGIN, COMMIT, SAVEPOINT, XA ...). */
  | { kind: 'none' }

const isWord = (token: Token | undefined, ...words: string[]) =>
  token !== undefined && token.type === 'word' && words.includes(token.value.toUpperCase())

const isName = (token: Token | undefined) => token !== undefined && (token.type === 'word' || token.type === 'quoted')

class Cursor {
  i = 0
  constructor(readonly tokens: Token[]) {}
  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset]
  }
  accept(...words: string[]): boolean {
    if (isWord(this.peek(), ...words)) {
      this.i++
      return true
    }
    return false
  }
  /** Accepts the words in sequence, or none of them. */
  acceptAll(...words: string[]): boolean {
    if (!words.every((word, offset) => isWord(this.peek(offset), word))) return false
    this.i += words.length
    return true
  }
  acceptPunct(value: string): boolean {
    const token = this.peek()
    if (token?.type === 'punct' && token.value === value) {
      this.i++
      return true
    }
    return false
  }
  tableRef(): TableRef | undefined {
    const first = this.peek()
    if (!isName(first)) return undefined
    this.i++
    if (this.peek()?.value === '.' && isName(this.peek(1))) {
      const second = this.peek(1)!
      this.i += 2
      return { db: first!.value, name: second.value }
    }
    return { name: first!.value }
  }
}

/** Reads what a statement does to databases and tables. Unknown statements are `other` or `none`, never errors. */
export function parseDdl(sql: string): Ddl {
  const c = new Cursor(tokenize(sql))
  if (c.accept('CREATE')) {
    const orReplace = c.accept('OR') && c.accept('REPLACE')
    if (c.accept('DATABASE', 'SCHEMA')) {
      c.acceptAll('IF', 'NOT', 'EXISTS')
      const db = c.tableRef()
      return db === undefined ? { kind: 'other' } : { kind: 'create-database', db: db.name, orReplace }
    }
    const temporary = c.accept('TEMPORARY')
    if (c.accept('TABLE')) {
      c.acceptAll('IF', 'NOT', 'EXISTS')
      const table = c.tableRef()
      return table === undefined ? { kind: 'other' } : { kind: 'create-table', table, orReplace, temporary }
    }
    c.accept('ONLINE', 'OFFLINE')
    c.accept('UNIQUE', 'FULLTEXT', 'SPATIAL')
    if (c.accept('INDEX')) return indexOn(c)
    return { kind: 'other' }
  }
  if (c.accept('DROP')) {
    if (c.accept('DATABASE', 'SCHEMA')) {
      c.acceptAll('IF', 'EXISTS')
      const db = c.tableRef()
      return db === undefined ? { kind: 'other' } : { kind: 'drop-database', db: db.name }
    }
    const temporary = c.accept('TEMPORARY')
    if (c.accept('TABLE', 'TABLES')) {
      c.acceptAll('IF', 'EXISTS')
      const tables: TableRef[] = []
      do {
        const table = c.tableRef()
        if (table === undefined) break
        tables.push(table)
      } while (c.acceptPunct(','))
      return { kind: 'drop-table', tables, temporary }
    }
    c.accept('ONLINE', 'OFFLINE')
    if (c.accept('INDEX')) return indexOn(c)
    return { kind: 'other' }
  }
  if (c.accept('TRUNCATE')) {
    c.accept('TABLE')
    const table = c.tableRef()
    return table === undefined ? { kind: 'other' } : { kind: 'truncate', table }
  }
  if (c.accept('ALTER')) {
    c.accept('ONLINE', 'OFFLINE')
    c.accept('IGNORE')
    if (c.accept('TABLE')) {
      c.acceptAll('IF', 'EXISTS')
      const table = c.tableRef()
      if (table === undefined) return { kind: 'other' }
      let depth = 0
      let renameTo: TableRef | undefined
      while (c.peek() !== undefined) {
        const token = c.peek()!
        if (token.type === 'punct' && token.value === '(') depth++
        if (token.type === 'punct' && token.value === ')') depth--
        // RENAME [TO|AS] name at the top level renames the table; RENAME COLUMN/INDEX/KEY do not.
        if (depth === 0 && isWord(token, 'RENAME') && !isWord(c.peek(1), 'COLUMN', 'INDEX', 'KEY')) {
          c.i++
          c.accept('TO', 'AS')
          renameTo = c.tableRef()
          continue
        }
        c.i++
      }
      return renameTo === undefined ? { kind: 'alter-table', table } : { kind: 'alter-table', table, renameTo }
    }
    return { kind: 'other' }
  }
  if (c.accept('RENAME')) {
    if (!c.accept('TABLE', 'TABLES')) return { kind: 'other' }
    const pairs: [TableRef, TableRef][] = []
    do {
      const from = c.tableRef()
      if (from === undefined || !c.accept('TO')) break
      const to = c.tableRef()
      if (to === undefined) break
      pairs.push([from, to])
    } while (c.acceptPunct(','))
    return { kind: 'rename-table', pairs }
  }
  if (c.accept('BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'XA', 'START', 'SET')) return { kind: 'none' }
  return { kind: 'other' }
}

function indexOn(c: Cursor): Ddl {
  c.acceptAll('IF', 'NOT', 'EXISTS')
  c.acceptAll('IF', 'EXISTS')
  c.tableRef()
  while (c.peek() !== undefined && !isWord(c.peek(), 'ON')) c.i++
  if (!c.accept('ON')) return { kind: 'other' }
  const table = c.tableRef()
  return table === undefined ? { kind: 'other' } : { kind: 'index', table }
}

/**
 * Rewrites `db`.`name` references whose database `mapDb` maps to another name, leaving everything else byte for
 * byte (used to replay DDL into the shadow schema).
 */
export function rewriteDatabases(sql: string, mapDb: (db: string) => string | undefined): string {
  const tokens = tokenize(sql)
  let out = ''
  let last = 0
  for (let i = 0; i + 2 < tokens.length; i++) {
    const [a, dot, b] = [tokens[i]!, tokens[i + 1]!, tokens[i + 2]!]
    if (!isName(a) || dot.value !== '.' || dot.type !== 'punct' || !isName(b)) continue
    if (a.end !== dot.start || dot.end !== b.start) continue
    const previous = tokens[i - 1]
    if (previous?.type === 'punct' && previous.value === '.') continue
    const mapped = mapDb(a.value)
    if (mapped === undefined) continue
    out += sql.slice(last, a.start) + '`' + mapped.replaceAll('`', '``') + '`'
    last = a.end
  }
  return out + sql.slice(last)
}

/** A `CREATE TABLE` statement for another table name (definitions are kept once, names change with RENAME). */
export function withTableName(createSql: string, name: string): string {
  const tokens = tokenize(createSql)
  const at = tokens.findIndex((token) => isWord(token, 'TABLE'))
  let target = tokens[at + 1]
  if (isWord(target, 'IF')) target = tokens[at + 4]
  if (at === -1 || target === undefined || !isName(target)) return createSql
  // A qualified name keeps only its table part: the statement runs in the table's own database.
  const next = tokens[tokens.indexOf(target) + 1]
  const end =
    next?.type === 'punct' && next.value === '.' && isName(tokens[tokens.indexOf(target) + 2])
      ? tokens[tokens.indexOf(target) + 2]!.end
      : target.end
  return createSql.slice(0, target.start) + '`' + name.replaceAll('`', '``') + '`' + createSql.slice(end)
}
