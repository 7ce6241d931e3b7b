import { runEngineConformance } from '@backtrack/core/testing'
import { FakeEngine } from './fake-cluster-registry.js'

// The endpoint's tests are only as good as this seam: hold it to the contract every engine meets.
runEngineConformance('FakeEngine (RDS endpoint test seam)', async () => ({
  engine: new FakeEngine({ identifier: 'conformance', createdAt: new Date(Date.now() - 3_600_000) }),
  sql: async () => {
    throw new Error('FakeEngine has no SQL side')
  },
}))
