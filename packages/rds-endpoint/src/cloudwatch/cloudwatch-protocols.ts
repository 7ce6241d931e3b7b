import { cbor, dateToTag } from '@smithy/core/cbor'
import { BacktrackError } from '@backtrack/core'
import { el, renderXml, rootElement, type XmlElement } from '../xml.js'
import {
  CLOUDWATCH_TARGET_PREFIX,
  CLOUDWATCH_XMLNS,
  type CloudWatchDocument,
  type CloudWatchValue,
} from './cloudwatch-actions.js'

/**
 * The three ways CloudWatch clients talk, all served at the endpoint's one URL (found by capturing each client):
 * - `query`: a form body `Action=ListMetrics&Version=2010-08-01` (Debian's AWS CLI v2 2.9, boto3 1.26, the JS SDK
 *   up to 3.948);
 * - `json`: AWS JSON 1.0, `X-Amz-Target: GraniteServiceVersion20100801.ListMetrics` (botocore 1.43 and the `aws` v1
 *   on top of it; the JS SDK from 3.952, which adds `x-amzn-query-mode: true`);
 * - `cbor`: Smithy RPC v2 CBOR, `POST /service/GraniteServiceVersion20100801/operation/ListMetrics` with
 *   `smithy-protocol: rpc-v2-cbor` (first in the newest models' list; no client here sends it by default).
 */
export type CloudWatchProtocol = 'query' | 'json' | 'cbor'

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0'
export const CBOR_CONTENT_TYPE = 'application/cbor'
const CBOR_PATH = new RegExp(`^/service/${CLOUDWATCH_TARGET_PREFIX}/operation/([A-Za-z0-9]+)$`)

/** Which operation a JSON or CBOR request asks for; undefined when it is neither. */
export function documentOperation(
  path: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): { protocol: 'json' | 'cbor'; operation: string } | undefined {
  const target = headers['x-amz-target']
  if (typeof target === 'string' && target.startsWith(`${CLOUDWATCH_TARGET_PREFIX}.`)) {
    return { protocol: 'json', operation: target.slice(CLOUDWATCH_TARGET_PREFIX.length + 1) }
  }
  const cborOperation = CBOR_PATH.exec(path)?.[1]
  if (cborOperation !== undefined) return { protocol: 'cbor', operation: cborOperation }
  return undefined
}

/** CBOR's tagged epoch times (tag 1) as `Date`s, everywhere in a decoded document. */
export function fromCborValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromCborValue)
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !(value instanceof Date)) {
    const object = value as Record<string | symbol, unknown>
    if ('tag' in object && 'value' in object && Number(object['tag']) === 1) {
      const seconds = Number(object['value'])
      return new Date(seconds * 1000)
    }
    const out: Record<string, unknown> = {}
    for (const [key, child] of Object.entries(object)) out[key] = fromCborValue(child)
    return out
  }
  return value
}

/** The request document of a JSON or CBOR body; `SerializationException` when it cannot be read. */
export function decodeDocument(protocol: 'json' | 'cbor', body: Buffer): unknown {
  if (body.length === 0) return {}
  try {
    const value =
      protocol === 'json' ? (JSON.parse(body.toString('utf8')) as unknown) : fromCborValue(cbor.deserialize(body))
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('the body is not an object')
    return value
  } catch (error) {
    throw new BacktrackError(
      'SerializationException',
      `The request body is not valid ${protocol === 'json' ? 'JSON' : 'CBOR'}: ${(error as Error).message}`,
      { cause: error },
    )
  }
}

// CloudWatch's error shapes by Query code; codes without a shape (InvalidAction, SignatureDoesNotMatch, ...) keep
// the code as their `__type`.
const ERROR_SHAPES: Readonly<Record<string, string>> = {
  InvalidParameterValue: 'InvalidParameterValueException',
  MissingParameter: 'MissingRequiredParameterException',
  InvalidParameterCombination: 'InvalidParameterCombinationException',
  InvalidNextToken: 'InvalidNextToken',
  InternalServiceError: 'InternalServiceFault',
}

/** The Query code CloudWatch uses for a backtrack error (its internal error has a name of its own). */
function cloudWatchCode(error: BacktrackError): string {
  return error.code === 'InternalFailure' ? 'InternalServiceError' : error.code
}

/** An HTTP answer, whatever the protocol. */
export interface WireResponse {
  status: number
  headers: Record<string, string>
  body: string | Buffer
}

function xmlValue(name: string, value: CloudWatchValue): XmlElement | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value)) {
    return el(
      name,
      value.map((item) => xmlValue('member', item)).filter((item): item is XmlElement => item !== undefined),
    )
  }
  if (value instanceof Map) {
    return el(
      name,
      [...value].map(([key, entry]) => el('entry', [el('key', key), el('value', entry)])),
    )
  }
  if (value instanceof Date || typeof value !== 'object') return el(name, value)
  return el(name, xmlMembers(value))
}

function xmlMembers(document: CloudWatchDocument): XmlElement[] {
  return Object.entries(document)
    .map(([name, value]) => xmlValue(name, value))
    .filter((item): item is XmlElement => item !== undefined)
}

function documentValue(value: CloudWatchValue, format: 'json' | 'cbor'): unknown {
  if (value === undefined) return undefined
  if (Array.isArray(value)) return value.map((item) => documentValue(item, format))
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Date) return format === 'json' ? value.getTime() / 1000 : dateToTag(value)
  if (typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [name, child] of Object.entries(value)) {
    const rendered = documentValue(child, format)
    if (rendered !== undefined) out[name] = rendered
  }
  return out
}

/** A successful answer to `operation` in `protocol`. */
export function renderResult(
  protocol: CloudWatchProtocol,
  operation: string,
  document: CloudWatchDocument,
  requestId: string,
): WireResponse {
  if (protocol === 'query') {
    const xml = renderXml(
      rootElement(`${operation}Response`, CLOUDWATCH_XMLNS, [
        el(`${operation}Result`, xmlMembers(document)),
        el('ResponseMetadata', [el('RequestId', requestId)]),
      ]),
    )
    return { status: 200, headers: { 'content-type': 'text/xml' }, body: xml }
  }
  if (protocol === 'json') {
    return {
      status: 200,
      headers: { 'content-type': JSON_CONTENT_TYPE },
      body: JSON.stringify(documentValue(document, 'json')),
    }
  }
  return {
    status: 200,
    headers: { 'content-type': CBOR_CONTENT_TYPE, 'smithy-protocol': 'rpc-v2-cbor' },
    body: Buffer.from(cbor.serialize(documentValue(document, 'cbor'))),
  }
}

/**
 * An error answer in `protocol`. JSON and CBOR carry the error shape in `__type` and, because CloudWatch was a Query
 * service first (`awsQueryCompatible`), the Query code in `x-amzn-query-error`, which the SDKs use as the error's name.
 */
export function renderError(protocol: CloudWatchProtocol, error: BacktrackError, requestId: string): WireResponse {
  const code = cloudWatchCode(error)
  if (protocol === 'query') {
    const xml = renderXml(
      rootElement('ErrorResponse', CLOUDWATCH_XMLNS, [
        el('Error', [el('Type', error.fault), el('Code', code), el('Message', error.message)]),
        el('RequestId', requestId),
      ]),
    )
    return { status: error.httpStatus, headers: { 'content-type': 'text/xml' }, body: xml }
  }
  const shape = ERROR_SHAPES[code]
  const type = shape === undefined ? code : `com.amazonaws.cloudwatch#${shape}`
  // InternalServiceFault's member is `Message`; the others' `message`.
  const body =
    shape === 'InternalServiceFault'
      ? { __type: type, Message: error.message }
      : { __type: type, message: error.message }
  const headers = { 'x-amzn-query-error': `${code};${error.fault}` }
  if (protocol === 'json') {
    return {
      status: error.httpStatus,
      headers: { ...headers, 'content-type': JSON_CONTENT_TYPE },
      body: JSON.stringify(body),
    }
  }
  return {
    status: error.httpStatus,
    headers: { ...headers, 'content-type': CBOR_CONTENT_TYPE, 'smithy-protocol': 'rpc-v2-cbor' },
    body: Buffer.from(cbor.serialize(body)),
  }
}
