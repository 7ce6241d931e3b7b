/**
 * Splits SQL text into statements at semicolons outside quotes, backticks and comments, as the `mysql` client does
 * (no DELIMITER support). Empty statements are dropped.
 */
export function splitStatements(text: string): string[] {
  const statements: string[] = []
  let start = 0
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quote !== undefined) {
      if (ch === '\\' && quote !== '`') i++
      else if (ch === quote) quote = undefined
      continue
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch
    else if (ch === '#' || (ch === '-' && text[i + 1] === '-' && /\s/.test(text[i + 2] ?? ' '))) {
      const end = text.indexOf('\n', i)
      i = end === -1 ? text.length : end
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end === -1 ? text.length : end + 1
    } else if (ch === ';') {
      statements.push(text.slice(start, i))
      start = i + 1
    }
  }
  statements.push(text.slice(start))
  return statements.map((statement) => statement.trim()).filter((statement) => statement !== '')
}
