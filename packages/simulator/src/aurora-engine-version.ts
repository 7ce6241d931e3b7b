/** Aurora MySQL 3 releases and the MySQL 8.0 version each is compatible with (Aurora MySQL release notes). */
const RELEASES: readonly [aurora: string, mysql: string][] = [
  ['3.01.0', '8.0.23'],
  ['3.02.0', '8.0.26'],
  ['3.04.0', '8.0.28'],
  ['3.05.0', '8.0.32'],
  ['3.06.0', '8.0.34'],
  ['3.07.0', '8.0.36'],
  ['3.08.0', '8.0.39'],
  ['3.09.0', '8.0.40'],
  ['3.10.0', '8.0.42'],
]

/** What MariaDB (which has no Aurora counterpart) is described as. */
const MARIADB_AURORA = '3.08.0'

function compare(a: string, b: string): number {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/**
 * The `EngineVersion` a simulated cluster describes itself with, in Aurora's form (`8.0.mysql_aurora.3.07.0`): the
 * newest Aurora MySQL 3 release whose MySQL version is not newer than the server's (`8.0.36` gives 3.07.0).
 */
export function auroraEngineVersion(flavor: 'mysql' | 'mariadb', serverVersion: string): string {
  if (flavor === 'mariadb') return `8.0.mysql_aurora.${MARIADB_AURORA}`
  const mysql = /^(\d+\.\d+\.\d+)/.exec(serverVersion)?.[1] ?? '8.0.0'
  let aurora = RELEASES[0]![0]
  for (const [release, compatible] of RELEASES) if (compare(compatible, mysql) <= 0) aurora = release
  return `8.0.mysql_aurora.${aurora}`
}
