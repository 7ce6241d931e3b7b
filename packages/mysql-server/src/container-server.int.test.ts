import { createConnection, type RowDataPacket } from 'mysql2/promise'
import { describe, expect, it } from 'vitest'

import { isDockerReachable, startContainerServer } from './container-server.js'

const docker = await isDockerReachable()

describe.skipIf(!docker.reachable)(
  `startContainerServer${docker.reachable ? '' : ` (skipped: no Docker engine reachable: ${docker.reason})`}`,
  () => {
    it('starts MySQL 8.0 with the row binlog, UTC and the lab account', { timeout: 600_000 }, async () => {
      await using server = await startContainerServer({ appUser: 'admin', appPassword: 'lab-password' })
      expect(server).toMatchObject({ source: 'container', flavor: 'mysql', admin: { user: 'root' } })
      expect(server.version).toMatch(/^8\.0\./)

      const admin = await createConnection(server.connectionOptions('admin'))
      const [[vars]] = await admin.query<RowDataPacket[]>(
        'SELECT @@log_bin AS logBin, @@binlog_format AS format, @@binlog_row_image AS image, ' +
          '@@binlog_row_metadata AS metadata, @@time_zone AS tz, @@server_id AS serverId',
      )
      expect(vars).toEqual({ logBin: 1, format: 'ROW', image: 'FULL', metadata: 'FULL', tz: '+00:00', serverId: 1 })
      await admin.end()

      const app = await createConnection(server.connectionOptions('app'))
      await app.query('CREATE DATABASE lab')
      await app.query('CREATE TABLE lab.t (id INT PRIMARY KEY)')
      await expect(app.query('SET SESSION sql_log_bin = 0')).rejects.toThrow(/denied/i)
      await app.end()
    })
  },
)
