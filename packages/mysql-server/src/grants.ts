/** `ALL PRIVILEGES ON *.*` stands for every privilege. */
export const ALL = 'ALL'

/** Splits a privilege list on the commas outside column lists: `SELECT (a, b), INSERT` → 2 items. */
function splitPrivileges(list: string): string[] {
  const items: string[] = []
  let depth = 0
  let current = ''
  for (const char of list) {
    if (char === '(') depth++
    if (char === ')') depth--
    if (char === ',' && depth === 0) {
      items.push(current)
      current = ''
    } else {
      current += char
    }
  }
  items.push(current)
  return items.map((item) => item.trim().replace(/\s+/g, ' ').toUpperCase()).filter((item) => item !== '')
}

/**
 * The global (`ON *.*`) privileges in `SHOW GRANTS` output, upper-cased (`REPLICATION SLAVE`, `BINLOG MONITOR`,
 * MySQL's dynamic ones such as `SYSTEM_VARIABLES_ADMIN`); `ALL PRIVILEGES` becomes {@link ALL}. Database, table and
 * column grants and role grants are ignored.
 */
export function globalPrivileges(grants: string[]): Set<string> {
  const privileges = new Set<string>()
  for (const grant of grants) {
    const match = /^GRANT\s+(.+?)\s+ON\s+(\S+)\s+TO\s/is.exec(grant.trim())
    if (!match?.[1] || match[2] !== '*.*') continue
    for (const privilege of splitPrivileges(match[1])) {
      if (privilege.includes('(')) continue
      privileges.add(privilege === 'ALL PRIVILEGES' ? ALL : privilege)
    }
  }
  return privileges
}

/** True when `privileges` holds any of `anyOf` (or everything). */
export function hasAnyPrivilege(privileges: Set<string>, anyOf: readonly string[]): boolean {
  return privileges.has(ALL) || anyOf.some((privilege) => privileges.has(privilege))
}
