import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { isDockerReachable } from './container-server.js'
import { startMysqlServer } from './start-mysql-server.js'

const docker = await isDockerReachable()

describe('startMysqlServer', () => {
  let root: string
  const messages: string[] = []
  const logger = { info: (m: string) => messages.push(m), warn: (m: string) => messages.push(`warn: ${m}`) }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'backtrack-start-'))
  })

  afterAll(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it.skipIf(docker.reachable)(
    `picks a private server when no Docker engine answers, and says why${docker.reachable ? ' (skipped: Docker is reachable here)' : ''}`,
    async () => {
      messages.length = 0
      await using server = await startMysqlServer({ dataDir: join(root, 'auto'), appPassword: 'pw-1', logger })
      expect(server).toMatchObject({ source: 'private', app: { user: 'admin', password: 'pw-1' } })
      expect(messages[0]).toMatch(/^server source: private \(no Docker socket/)

      // An explicit URL wins over everything else.
      messages.length = 0
      const url = `mysql://${server.admin.user}:${server.admin.password}@127.0.0.1:${server.port}/`
      await using viaUrl = await startMysqlServer({ url, logger })
      expect(viaUrl).toMatchObject({ source: 'url', port: server.port })
      expect(messages[0]).toBe('server source: url (a server URL was given)')
    },
  )

  it('fails with ServerStartFault and install instructions when nothing can start', async () => {
    const saved = process.env.BACKTRACK_MYSQLD
    process.env.BACKTRACK_MYSQLD = join(root, 'no-such-mysqld')
    try {
      await expect(
        startMysqlServer({ source: docker.reachable ? 'private' : 'auto', dataDir: join(root, 'none') }),
      ).rejects.toMatchObject({
        code: 'ServerStartFault',
        message: expect.stringMatching(/apt-get install mariadb-server.*brew install mariadb/),
      })
    } finally {
      if (saved === undefined) delete process.env.BACKTRACK_MYSQLD
      else process.env.BACKTRACK_MYSQLD = saved
    }
  })

  it('needs a URL for the url source', async () => {
    await expect(startMysqlServer({ source: 'url' })).rejects.toMatchObject({ code: 'InvalidParameterCombination' })
  })
})
