// Global setup of the test run: every response the RDS endpoint sends while the suite runs (through app.inject, the
// SDKs, the AWS CLIs, boto3, the built `backtrack` CLI) is recorded, and checked against AWS's own service models
// (Debian's botocore) once the run ends. A response that breaks the model fails the run, naming it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RecordedResponse } from './packages/rds-endpoint/src/rds-endpoint.js'
import { checkResponse, loadModelCheckers } from './packages/rds-endpoint/src/test-support/model-check.js'

let dir: string | undefined

export function setup(): void {
  dir = mkdtempSync(join(tmpdir(), 'backtrack-responses-'))
  process.env['BACKTRACK_RECORD_RESPONSES'] = dir
}

export function teardown(): void {
  if (dir === undefined) return
  const records: RecordedResponse[] = []
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue
      try {
        records.push(JSON.parse(line) as RecordedResponse)
      } catch {
        // a line torn by a killed process
      }
    }
  }
  rmSync(dir, { recursive: true, force: true })
  const checkers = loadModelCheckers()
  if (checkers === undefined) {
    console.log(`model check: ${records.length} responses recorded, not checked (no botocore models installed)`)
    return
  }
  const problems = records.flatMap((record) => checkResponse(checkers, record).problems)
  const operations = new Set(records.map((record) => `${record.service}:${record.operation}`))
  const report = {
    responses: records.length,
    operations: [...operations].sort(),
    models: checkers.paths,
    problems: [...new Set(problems)],
  }
  writeFileSync('.model-check.json', JSON.stringify(report, null, 2) + '\n')
  console.log(
    `model check: ${records.length} responses of ${operations.size} operations checked against ${checkers.paths.rds} and ${checkers.paths.cloudwatch}: ${report.problems.length} problems`,
  )
  if (report.problems.length > 0) {
    throw new Error(`responses that break AWS's service models:\n${report.problems.slice(0, 50).join('\n')}`)
  }
}
