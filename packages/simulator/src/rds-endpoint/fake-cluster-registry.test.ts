import { runEngineConformance } from '@backtrack/core/testing'
import { FakeEngine } from './fake-cluster-registry.js'

// The endpoint's tests are only as good as this seam: hold it to the contract every engine meets.
// It has no SQL side, so the tests that need data are skipped; `phaseMs` moves its backtracks on by themselves.
runEngineConformance('FakeEngine (RDS endpoint test seam)', async () => ({
  engine: new FakeEngine({ identifier: 'conformance', createdAt: new Date(Date.now() - 3_600_000), phaseMs: 5 }),
}))
