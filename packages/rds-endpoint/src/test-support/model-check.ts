import { cbor } from '@smithy/core/cbor'
import { fromCborValue } from '../cloudwatch/cloudwatch-protocols.js'
import type { RecordedResponse } from '../rds-endpoint.js'
import { loadServiceModel, ModelChecker, type CheckedResponse } from './service-model.js'

/** The RDS and CloudWatch models as Debian installs them, each with a checker; undefined when one is missing. */
export interface ModelCheckers {
  rds: ModelChecker
  cloudwatch: ModelChecker
  paths: { rds: string; cloudwatch: string }
}

export function loadModelCheckers(dirs?: readonly string[]): ModelCheckers | undefined {
  const rds = loadServiceModel('rds', '2014-10-31', dirs)
  const cloudwatch = loadServiceModel('cloudwatch', '2010-08-01', dirs)
  if (rds === undefined || cloudwatch === undefined) return undefined
  return {
    rds: new ModelChecker(rds.model),
    cloudwatch: new ModelChecker(cloudwatch.model),
    paths: { rds: rds.path, cloudwatch: cloudwatch.path },
  }
}

/** Why the model checks cannot run here, for a skipped test's name. */
export const MODELS_MISSING =
  'skipped: botocore service models not installed (apt-get install python3-botocore or awscli)'

/** Checks one recorded (or injected) response against the model of its service. */
export function checkResponse(checkers: ModelCheckers, record: RecordedResponse): CheckedResponse {
  const checker = record.service === 'rds' ? checkers.rds : checkers.cloudwatch
  const operation = record.operation === '' ? '(no Action)' : record.operation
  if (record.protocol === 'query') return checker.checkQueryResponse(operation, record.status, record.body)
  let body: unknown
  try {
    body =
      record.protocol === 'json'
        ? (JSON.parse(record.body) as unknown)
        : fromCborValue(cbor.deserialize(Buffer.from(record.body, 'base64')))
  } catch (error) {
    const checked = { operation, status: record.status, problems: [`${operation}: unreadable body: ${String(error)}`] }
    checker.checked.push(checked)
    return checked
  }
  return checker.checkDocumentResponse(operation, record.status, record.headers, body, record.protocol)
}
