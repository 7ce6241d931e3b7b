export {
  runEngineConformance,
  type ConformanceContext,
  type ConformanceLacks,
  type ConformanceOptions,
} from './engine-conformance.js'
export { FakeEngine, type FakeEngineOptions } from './fake-engine.js'
export { seededRandom } from './seeded-random.js'
