// Runs a parsed scenario against a target with narration: what lab and run share.
import { setTimeout as sleep } from 'node:timers/promises'
import {
  runScenario,
  runSysbench,
  sysbenchArgs,
  sysbenchInstalled,
  type Scenario,
  type ScenarioTarget,
  type SqlEndpoint,
} from '@backtrack/core'
import { narrator, resultJson, summary } from './narrate.js'
import { ReconnectingSql, type Target } from './target.js'

export type Loader = 'auto' | 'sysbench' | 'builtin'

/** Runs the real `sysbench oltp_write_only ... prepare`, reporting progress from the table's highest id. */
async function prepareWithSysbench(
  endpoint: SqlEndpoint,
  database: string,
  rows: number,
  onProgress: (rows: number) => void,
): Promise<void> {
  const prepared = runSysbench(
    sysbenchArgs({ connection: endpoint, database, tables: 1, tableSize: rows, threads: 1 }, 'prepare'),
  )
  const probe = new ReconnectingSql(async () => endpoint, database)
  let done = false
  const watch = (async () => {
    while (!done) {
      await sleep(500)
      if (done) break
      const result = await probe.query('SELECT COALESCE(MAX(id), 0) AS n FROM sbtest1').catch(() => undefined)
      if (Array.isArray(result)) onProgress(Math.min(rows, Number(result[0]?.['n'] ?? 0)))
    }
  })()
  try {
    await prepared
  } finally {
    done = true
    await watch
    await probe.close()
  }
  onProgress(rows)
}

export interface SessionOptions {
  scenario: Scenario
  target: Target
  json?: boolean
  loader?: Loader
  /** Shown before the steps: how to reach the cluster. */
  intro?: string[]
}

/** Runs the scenario, narrating it (or printing JSON), and returns the exit code: 0 passed, 1 failed. */
export async function runScenarioSession(options: SessionOptions): Promise<number> {
  const { scenario, target } = options
  const endpoint = await target.sqlEndpoint()
  const database = scenario.database ?? endpoint.database ?? 'mylab'
  const sql = new ReconnectingSql(() => target.sqlEndpoint(), database)
  const loader = options.loader ?? 'auto'
  const useSysbench = loader === 'sysbench' || (loader === 'auto' && sysbenchInstalled())
  const write = (text: string) => {
    if (!options.json) process.stdout.write(text)
  }
  const scenarioTarget: ScenarioTarget = {
    engine: target.engine,
    sql,
    mark: (name) => target.mark(name),
    ...(useSysbench
      ? {
          sysbenchPrepare: async (table, rows, onProgress) => {
            if (table !== 'sbtest1') throw new Error(`sysbench creates sbtest1..N, not ${table}: use --loader builtin`)
            await prepareWithSysbench(await target.sqlEndpoint(), database, rows, onProgress)
          },
        }
      : {}),
  }
  write(`${scenario.name}${scenario.description === undefined ? '' : ` — ${scenario.description.trim()}`}\n`)
  for (const line of options.intro ?? []) write(`${line}\n`)
  write(
    `  export DBUSER=${endpoint.user} DBPASS='${endpoint.password}'   # the lab's variables\n` +
      `  loader: ${useSysbench ? 'sysbench (installed)' : 'built-in (sysbench schema and value distribution)'}\n`,
  )
  const started = performance.now()
  let result
  try {
    result = await runScenario(scenario, scenarioTarget, {
      onEvent: narrator({
        clusterIdentifier: target.engine.clusterIdentifier,
        sql: endpoint,
        database,
        ...(target.endpointUrl === undefined ? {} : { endpointUrl: target.endpointUrl }),
        ...(target.dataDir === undefined ? {} : { dataDir: target.dataDir }),
        live: target.kind === 'live',
        total: scenario.steps.length,
        write,
        tty: process.stdout.isTTY === true && !options.json,
      }),
    })
  } finally {
    await sql.close()
  }
  const ms = performance.now() - started
  if (options.json) process.stdout.write(JSON.stringify(resultJson(scenario.name, result, ms)) + '\n')
  else write(summary(scenario.name, result, scenario.steps.length, ms))
  return result.passed ? 0 : 1
}
