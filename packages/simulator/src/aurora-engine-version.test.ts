import { describe, expect, it } from 'vitest'
import { auroraEngineVersion } from './aurora-engine-version.js'

describe('auroraEngineVersion', () => {
  it('names the Aurora MySQL 3 release of a MySQL server version, in Aurora form', () => {
    expect(auroraEngineVersion('mysql', '8.0.36')).toBe('8.0.mysql_aurora.3.07.0')
    expect(auroraEngineVersion('mysql', '8.0.39-log')).toBe('8.0.mysql_aurora.3.08.0')
    expect(auroraEngineVersion('mysql', '8.0.41')).toBe('8.0.mysql_aurora.3.09.0')
    expect(auroraEngineVersion('mysql', '8.4.3')).toBe('8.0.mysql_aurora.3.10.0')
    expect(auroraEngineVersion('mysql', '8.0.20')).toBe('8.0.mysql_aurora.3.01.0')
    expect(auroraEngineVersion('mariadb', '10.11.19-MariaDB-0+deb12u1')).toBe('8.0.mysql_aurora.3.08.0')
  })
})
