import { describe, expect, it } from 'vitest'

import { ALL, globalPrivileges, hasAnyPrivilege } from './grants.js'
import { compareVersions, parseServerVersion } from './server-binaries.js'
import { parseServerUrl } from './url-server.js'

describe('globalPrivileges', () => {
  it('reads MariaDB grants, ignoring database-level ones and the password hash', () => {
    const privileges = globalPrivileges([
      "GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cap`@`%` IDENTIFIED BY PASSWORD '*A0N'",
      'GRANT ALL PRIVILEGES ON `lab`.* TO `cap`@`%`',
    ])
    expect([...privileges].sort()).toEqual(['BINLOG MONITOR', 'RELOAD', 'REPLICATION SLAVE', 'SELECT'])
    expect(hasAnyPrivilege(privileges, ['INSERT'])).toBe(false)
  })

  it('reads MySQL 8 static and dynamic grants', () => {
    const privileges = globalPrivileges([
      'GRANT SELECT, INSERT, REPLICATION CLIENT ON *.* TO `u`@`%`',
      'GRANT BINLOG_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `u`@`%`',
      'GRANT `reader`@`%` TO `u`@`%`',
      'GRANT SELECT (`a`, `b`), UPDATE (`a`) ON `lab`.`t` TO `u`@`%`',
    ])
    expect(privileges).toEqual(
      new Set(['SELECT', 'INSERT', 'REPLICATION CLIENT', 'BINLOG_ADMIN', 'SYSTEM_VARIABLES_ADMIN']),
    )
  })

  it('treats ALL PRIVILEGES ON *.* as every privilege', () => {
    const privileges = globalPrivileges(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION'])
    expect(privileges).toEqual(new Set([ALL]))
    expect(hasAnyPrivilege(privileges, ['REPLICATION SLAVE'])).toBe(true)
  })
})

describe('parseServerUrl', () => {
  it('decodes user, password, host and port', () => {
    expect(parseServerUrl('mysql://cap%40x:p%2Fw@db.example:3307/')).toEqual({
      host: 'db.example',
      port: 3307,
      user: 'cap@x',
      password: 'p/w',
    })
  })

  it('defaults the port to 3306 and keeps a database', () => {
    expect(parseServerUrl('mariadb://root@127.0.0.1/lab')).toMatchObject({ port: 3306, password: '', database: 'lab' })
  })

  it('rejects other schemes and URLs without a user, without echoing the password', () => {
    expect(() => parseServerUrl('postgres://u:secret@h/')).toThrow(/unsupported URL scheme postgres:.*u:\*\*\*@/)
    expect(() => parseServerUrl('mysql://h:3306/')).toThrow(
      expect.objectContaining({ code: 'ServerConfigurationFault' }),
    )
  })
})

describe('parseServerVersion', () => {
  it('tells MariaDB from MySQL', () => {
    expect(parseServerVersion('mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64')).toEqual({
      flavor: 'mariadb',
      version: '10.11.19',
    })
    expect(
      parseServerVersion('/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)'),
    ).toEqual({
      flavor: 'mysql',
      version: '8.0.36',
    })
    expect(compareVersions('10.4.33', '10.5.0')).toBeLessThan(0)
    expect(compareVersions('8.0.36', '8.0.1')).toBeGreaterThan(0)
  })
})
