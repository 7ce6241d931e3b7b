import { randomUUID } from 'node:crypto'
import { appendFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { BacktrackError, type ErrorCode } from '@backtrack/core'
import fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify'
import {
  CLOUDWATCH_ACTIONS,
  CLOUDWATCH_API_VERSION,
  CLOUDWATCH_TARGET_PREFIX,
} from './cloudwatch/cloudwatch-actions.js'
import {
  CBOR_CONTENT_TYPE,
  decodeDocument,
  documentOperation,
  JSON_CONTENT_TYPE,
  renderError,
  renderResult,
  type CloudWatchProtocol,
  type WireResponse,
} from './cloudwatch/cloudwatch-protocols.js'
import { DocumentInput, queryToDocument } from './cloudwatch/document-input.js'
import { refuseForeignBrowserRequest } from './browser-guard.js'
import type { ClusterRegistry } from './cluster-registry.js'
import { QueryParams } from './query-params.js'
import { RDS_ACTIONS } from './rds-actions.js'
import { verifySignature, type AccessKey } from './sigv4.js'
import { el, renderXml, rootElement } from './xml.js'

/** The RDS API version the endpoint speaks. */
const RDS_API_VERSION = '2014-10-31'
/** The XML namespace of every RDS response. */
export const RDS_XMLNS = `http://rds.amazonaws.com/doc/${RDS_API_VERSION}/`
/** Largest request body the endpoint reads (1 MiB); larger ones get `RequestEntityTooLarge`. */
const RDS_BODY_LIMIT = 1024 * 1024

export interface RdsEndpointOptions {
  /** The clusters the endpoint serves. */
  registry: ClusterRegistry
  /** fastify's `logger` option, or a ready logger (pino or compatible). Off by default. */
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger
  /** Check SigV4 signatures against these keys; by default any credentials are accepted. */
  verifySignatures?: { credentials: AccessKey[] }
  /** The region the endpoint pretends to be in (ARNs, availability zones, signature scope). Default `us-east-1`. */
  region?: string
  /** The clock `DescribeEvents` measures `Duration` from. Default: the system clock. */
  now?: () => Date
  /**
   * Appends every response (operation, status, headers, body) to `<dir>/responses-<pid>.jsonl`, for the test suite's
   * check against AWS's service models. Default: `$BACKTRACK_RECORD_RESPONSES` (unset: nothing is recorded).
   */
  recordResponsesTo?: string
}

/** One response as the recorder writes it. */
export interface RecordedResponse {
  service: 'rds' | 'cloudwatch'
  protocol: 'query' | 'json' | 'cbor'
  /** The operation asked for; empty when the request named none. */
  operation: string
  status: number
  headers: Record<string, string>
  /** The body: text, or base64 for CBOR. */
  body: string
}

function isLoggerInstance(logger: RdsEndpointOptions['logger']): logger is FastifyBaseLogger {
  return typeof logger === 'object' && logger !== null && typeof (logger as FastifyBaseLogger).child === 'function'
}

/** The raw query string of a request URL (`/?a=b` → `a=b`). */
function queryString(url: string): string {
  const start = url.indexOf('?')
  return start === -1 ? '' : url.slice(start + 1)
}

function sendXml(reply: FastifyReply, status: number, xml: string): FastifyReply {
  return reply.code(status).header('content-type', 'text/xml').send(xml)
}

function errorXml(error: BacktrackError, requestId: string): string {
  return renderXml(
    rootElement('ErrorResponse', RDS_XMLNS, [
      el('Error', [el('Type', error.fault), el('Code', error.code), el('Message', error.message)]),
      el('RequestId', requestId),
    ]),
  )
}

// Codes of the simulator's own faults, as the RDS fault a client of the API knows what to do with.
const WIRE_CODES: Partial<Record<ErrorCode, ErrorCode>> = {
  ServerStartFault: 'InsufficientStorageClusterCapacity',
  ServerConfigurationFault: 'InvalidParameterValue',
  CaptureFault: 'InvalidDBClusterStateFault',
  LiveBacktrackNotConfirmed: 'InvalidParameterCombination',
  UnsupportedOperation: 'InvalidParameterCombination',
}

/** Turns anything thrown while serving a request into the `BacktrackError` the client sees. */
function toBacktrackError(error: unknown, request: FastifyRequest): BacktrackError {
  if (error instanceof BacktrackError) {
    const wire = WIRE_CODES[error.code]
    return wire === undefined ? error : new BacktrackError(wire, error.message, { cause: error })
  }
  const fastifyError = error as Partial<FastifyError>
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fastifyError.statusCode === 413) {
    return new BacktrackError(
      'RequestEntityTooLarge',
      `Request body is larger than the ${RDS_BODY_LIMIT} bytes this endpoint accepts.`,
      { cause: error },
    )
  }
  if (fastifyError.code?.startsWith('FST_ERR_CTP_') === true) {
    return new BacktrackError(
      'MalformedQueryString',
      'The request body must be application/x-www-form-urlencoded (the AWS Query protocol).',
      { cause: error },
    )
  }
  request.log.error({ err: error, requestId: request.id }, 'RDS endpoint: unexpected error')
  return new BacktrackError('InternalFailure', `An internal error occurred (request ${request.id}).`, {
    cause: error,
  })
}

/** Which API and wire protocol a request speaks: its errors are answered the same way. */
type Api = { api: 'rds'; action: string } | { api: 'cloudwatch'; protocol: CloudWatchProtocol; operation: string }

/** The SigV4 service name each API signs with. */
const SIGNING_NAMES = { rds: 'rds', cloudwatch: 'monitoring' } as const

/**
 * Builds the RDS-compatible HTTP endpoint over a cluster registry: RDS (AWS Query protocol, version 2014-10-31) and
 * CloudWatch's metric reads (version 2010-08-01, in the Query, JSON 1.0 and Smithy RPC v2 CBOR protocols), at one
 * URL, as `--endpoint-url` wants it. The caller decides where it listens; tests use `app.inject()`.
 *
 * @example
 * const app = buildRdsEndpoint({ registry })
 * await app.listen({ host: '127.0.0.1', port: 0 })
 * // aws rds describe-db-clusters --endpoint-url http://127.0.0.1:<port>
 */
export function buildRdsEndpoint(options: RdsEndpointOptions): FastifyInstance {
  const region = options.region ?? 'us-east-1'
  const now = options.now ?? (() => new Date())
  const context = { registry: options.registry, region, now }
  const apis = new WeakMap<FastifyRequest, Api>()
  const app = fastify({
    ...(isLoggerInstance(options.logger) ? { loggerInstance: options.logger } : { logger: options.logger ?? false }),
    bodyLimit: RDS_BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Requests fastify rejects before routing (e.g. a malformed URL) still get the Query-protocol envelope.
    frameworkErrors: (error, request, reply) => {
      const backtrackError = new BacktrackError(
        'MalformedQueryString',
        `The request URL is malformed: ${error.message}`,
      )
      void sendXml(
        reply.header('x-amzn-RequestId', request.id),
        backtrackError.httpStatus,
        errorXml(backtrackError, request.id),
      )
    },
  })

  app.removeAllContentTypeParsers()
  // Kept as bytes: a SigV4 signature covers the body exactly as sent, and CBOR is binary.
  for (const type of ['application/x-www-form-urlencoded', JSON_CONTENT_TYPE, CBOR_CONTENT_TYPE]) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  }
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    // Unknown routes get their own answer (InvalidAction) from the not-found handler; a JSON or CBOR request with
    // an unusual content type is still recognised by its target or path.
    if (request.is404 || documentOperation(request.url.split('?')[0]!, request.headers) !== undefined) {
      return done(null, body)
    }
    done(
      new BacktrackError(
        'MalformedQueryString',
        'The request body must be application/x-www-form-urlencoded (the AWS Query protocol).',
      ),
    )
  })

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-amzn-RequestId', request.id)
  })
  // Every route of the app (the API, and whatever the caller mounts on it): no other web page may drive it.
  app.addHook('onRequest', async (request) => refuseForeignBrowserRequest(request.headers))

  const recordDir = options.recordResponsesTo ?? process.env['BACKTRACK_RECORD_RESPONSES']
  if (recordDir !== undefined && recordDir !== '') {
    const file = join(recordDir, `responses-${process.pid}.jsonl`)
    app.addHook('onSend', async (request, reply, payload) => {
      // Only the API's answers: control routes and others have their own tests.
      const path = request.url.split('?')[0]!
      if (path !== '/' && !path.startsWith('/service/')) return payload
      const api = apis.get(request)
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined) headers[name.toLowerCase()] = String(value)
      }
      const body = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : '')
      const record: RecordedResponse = {
        service: api?.api ?? 'rds',
        protocol: api?.api === 'cloudwatch' ? api.protocol : 'query',
        operation: api === undefined ? '' : api.api === 'rds' ? api.action : api.operation,
        status: reply.statusCode,
        headers,
        body: api?.api === 'cloudwatch' && api.protocol === 'cbor' ? body.toString('base64') : body.toString('utf8'),
      }
      try {
        mkdirSync(recordDir, { recursive: true })
        appendFileSync(file, JSON.stringify(record) + '\n')
      } catch {
        // recording is for the test suite; it never fails a request
      }
      return payload
    })
  }

  const send = (reply: FastifyReply, wire: WireResponse) =>
    reply.code(wire.status).headers(wire.headers).send(wire.body)

  app.setErrorHandler((error, request, reply) => {
    const backtrackError = toBacktrackError(error, request)
    const api = apis.get(request)
    if (api?.api === 'cloudwatch') return send(reply, renderError(api.protocol, backtrackError, request.id))
    return sendXml(reply, backtrackError.httpStatus, errorXml(backtrackError, request.id))
  })

  app.setNotFoundHandler((request, reply) => {
    const error = new BacktrackError(
      'InvalidAction',
      `This endpoint serves the AWS Query protocol on POST / (form-encoded) and GET /?Action=…, and CloudWatch's JSON and CBOR protocols; not ${request.method} ${request.url.split('?')[0]}.`,
    )
    return sendXml(reply, error.httpStatus, errorXml(error, request.id))
  })

  const verify = (request: FastifyRequest, body: Buffer, api: keyof typeof SIGNING_NAMES) => {
    if (options.verifySignatures === undefined) return
    verifySignature(
      { method: request.method, url: request.url, headers: request.headers, body },
      options.verifySignatures.credentials,
      region,
      { service: SIGNING_NAMES[api] },
    )
  }

  const serveCloudWatch = async (
    request: FastifyRequest,
    reply: FastifyReply,
    protocol: CloudWatchProtocol,
    operation: string,
    input: () => unknown,
  ) => {
    apis.set(request, { api: 'cloudwatch', protocol, operation })
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    verify(request, body, 'cloudwatch')
    const action = Object.hasOwn(CLOUDWATCH_ACTIONS, operation) ? CLOUDWATCH_ACTIONS[operation] : undefined
    if (action === undefined) {
      throw new BacktrackError(
        'InvalidAction',
        `Could not find operation ${operation} for CloudWatch version ${CLOUDWATCH_API_VERSION}. Supported: ${Object.keys(CLOUDWATCH_ACTIONS).join(', ')}.`,
      )
    }
    const result = action(new DocumentInput(input()), options.registry.metrics, now())
    return send(reply, renderResult(protocol, operation, result, request.id))
  }

  app.route({
    method: ['GET', 'POST'],
    url: '/',
    handler: async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const document = request.method === 'POST' ? documentOperation('/', request.headers) : undefined
      if (document !== undefined) {
        return serveCloudWatch(request, reply, document.protocol, document.operation, () =>
          decodeDocument(document.protocol, body),
        )
      }
      const params = QueryParams.fromForm(body.toString('utf8'), queryString(request.url))
      apis.set(request, { api: 'rds', action: params.optionalString('Action') ?? '' })
      if (!params.has('Action') || params.optionalString('Action') === '') {
        throw new BacktrackError('MissingAction', 'The request must contain the parameter Action.')
      }
      const action = params.requiredString('Action')
      const version = params.requiredString('Version')
      if (version === CLOUDWATCH_API_VERSION) {
        return serveCloudWatch(request, reply, 'query', action, () =>
          queryToDocument(params.names().map((name) => [name, params.optionalString(name)!] as [string, string])),
        )
      }
      apis.set(request, { api: 'rds', action })
      verify(request, body, 'rds')
      const handler =
        version === RDS_API_VERSION && Object.hasOwn(RDS_ACTIONS, action) ? RDS_ACTIONS[action] : undefined
      if (handler === undefined) {
        throw new BacktrackError(
          'InvalidAction',
          `Could not find operation ${action} for version ${version}. Supported actions (version ${RDS_API_VERSION}): ${Object.keys(RDS_ACTIONS).join(', ')}; CloudWatch (version ${CLOUDWATCH_API_VERSION}): ${Object.keys(CLOUDWATCH_ACTIONS).join(', ')}.`,
        )
      }
      const members = await handler(params, context)
      const xml = renderXml(
        rootElement(`${action}Response`, RDS_XMLNS, [
          // An action without output (AddTagsToResource) has no Result element at all.
          ...(members === undefined ? [] : [el(`${action}Result`, members)]),
          el('ResponseMetadata', [el('RequestId', request.id)]),
        ]),
      )
      return sendXml(reply, 200, xml)
    },
  })

  // Smithy RPC v2 CBOR: the operation is in the path.
  app.post('/service/:service/operation/:operation', async (request, reply) => {
    const document = documentOperation(request.url.split('?')[0]!, request.headers)
    if (document === undefined) {
      const error = new BacktrackError(
        'InvalidAction',
        `No such service here: ${request.url.split('?')[0]}. This endpoint serves CloudWatch (${CLOUDWATCH_TARGET_PREFIX}).`,
      )
      return sendXml(reply, error.httpStatus, errorXml(error, request.id))
    }
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    return serveCloudWatch(request, reply, document.protocol, document.operation, () =>
      decodeDocument(document.protocol, body),
    )
  })

  return app
}
