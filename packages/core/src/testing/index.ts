export { runEngineConformance, type ConformanceContext, type ConformanceOptions } from './engine-conformance.js'
