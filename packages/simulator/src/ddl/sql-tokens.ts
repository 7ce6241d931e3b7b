import type { ColumnMeta } from '../page-log/page-log.js'
/** A lexical token of MySQL SQL, enough to find and rewrite the names a DDL statement touches. */
export interface Token {
  type: 'word' | 'quoted' | 'string' | 'number' | 'punct'
  /** The identifier (unquoted) or the token's text. */
  value: string
  start: number
  end: number
}

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/

/** Splits SQL into tokens, dropping comments; executable comments (`/*!50100 … *\/`) are read as SQL. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === '#' || (c === '-' && sql[i + 1] === '-' && /\s|$/.test(sql[i + 2] ?? ''))) {
      while (i < n && sql[i] !== '\n') i++
    } else if (c === '/' && sql[i + 1] === '*') {
      const executable = /^\/\*M?!\d*/.exec(sql.slice(i, i + 12))
      if (executable !== null && sql[i + 2] !== undefined && (sql[i + 2] === '!' || sql.slice(i + 2, i + 4) === 'M!')) {
        i += executable[0].length // the body is SQL; its closing `*/` is skipped below
      } else {
        const close = sql.indexOf('*/', i + 2)
        i = close === -1 ? n : close + 2
      }
    } else if (c === '*' && sql[i + 1] === '/') {
      i += 2
    } else if (c === '`') {
      let value = ''
      let j = i + 1
      for (; j < n; j++) {
        if (sql[j] === '`') {
          if (sql[j + 1] === '`') {
            value += '`'
            j++
          } else break
        } else value += sql[j]
      }
      tokens.push({ type: 'quoted', value, start: i, end: j + 1 })
      i = j + 1
    } else if (c === "'" || c === '"') {
      let j = i + 1
      let value = ''
      for (; j < n; j++) {
        const d = sql[j]!
        if (d === '\\') {
          value += sql[j + 1] ?? ''
          j++
        } else if (d === c) {
          if (sql[j + 1] === c) {
            value += c
            j++
          } else break
        } else value += d
      }
      tokens.push({ type: 'string', value, start: i, end: j + 1 })
      i = j + 1
    } else if (WORD.test(c)) {
      let j = i
      while (j < n && WORD.test(sql[j]!)) j++
      const text = sql.slice(i, j)
      tokens.push({ type: /^\d+$/.test(text) ? 'number' : 'word', value: text, start: i, end: j })
      i = j
    } else {
      tokens.push({ type: 'punct', value: c, start: i, end: i + 1 })
      i++
    }
  }
  return tokens
}

/** Quotes an identifier with backticks. */
export function quoteIdent(name: string): string {
  return '`' + name.replaceAll('`', '``') + '`'
}

/** `db`.`table`, quoted. */
export function qualifiedName(db: string, table: string): string {
  return `${quoteIdent(db)}.${quoteIdent(table)}`
}

/**
 * The SQL expression whose value is a column's canonical bytes (what the binlog decoder writes and the page log
 * keeps): BIT/ENUM/SET as numbers, FLOAT as DOUBLE (the text protocol prints FLOAT with 6 significant digits; as
 * DOUBLE it is exact). The base image selects it; rewinds compare keys through it.
 */
export function canonicalExpression(column: Pick<ColumnMeta, 'name' | 'kind' | 'dataType'>): string {
  const name = quoteIdent(column.name)
  if (column.kind === 'bit' || column.kind === 'enum' || column.kind === 'set') return `${name} + 0`
  if (column.dataType === 'float') return `CAST(${name} AS DOUBLE)`
  return name
}
