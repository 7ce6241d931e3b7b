import { FakeEngine } from './fake-engine.js'
import { runEngineConformance } from './engine-conformance.js'

// Tests above the contract are only as good as this double: hold it to the suite every engine meets.
// It has no SQL side, so the tests that need data are skipped; `phaseMs` moves its backtracks on by themselves.
runEngineConformance(
  'FakeEngine (test double of the contract)',
  async () => ({
    engine: new FakeEngine({ identifier: 'conformance', createdAt: new Date(Date.now() - 3_600_000), phaseMs: 5 }),
  }),
  {
    disposable: true,
    lacks: {
      sql: 'FakeEngine is API-only: it has no SQL side',
      otherCluster: 'FakeEngine holds one cluster and cannot name another',
    },
  },
)
