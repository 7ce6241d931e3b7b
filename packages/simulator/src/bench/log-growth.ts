import type { Connection } from 'mysql2/promise'
import type { SimulatorEngine } from '../simulator-engine.js'
import type { LogGrowth } from './figures.js'
import { binlogBytesWritten } from './measure.js'

/** The page log's and the binlog's sizes at one moment. */
export interface LogState {
  pageLogBytes: number
  changeRecords: number
  binlogBytes: number
}

export async function logState(engine: SimulatorEngine, admin: Pick<Connection, 'query'>): Promise<LogState> {
  return {
    pageLogBytes: engine.pageLog.sizeBytes(),
    changeRecords: engine.pageLog.changeRecords,
    binlogBytes: await binlogBytesWritten(admin),
  }
}

/** How much both logs grew between two states. */
export function growth(workload: string, before: LogState, after: LogState): LogGrowth {
  return {
    workload,
    pageLogBytes: after.pageLogBytes - before.pageLogBytes,
    binlogBytes: after.binlogBytes - before.binlogBytes,
    changeRecords: after.changeRecords - before.changeRecords,
  }
}
