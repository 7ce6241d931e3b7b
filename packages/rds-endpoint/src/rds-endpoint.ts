import { randomUUID } from 'node:crypto'
import { BacktrackError } from '@backtrack/core'
import fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify'
import type { ClusterRegistry } from './cluster-registry.js'
import { QueryParams } from './query-params.js'
import { RDS_ACTIONS } from './rds-actions.js'
import { verifySignature, type AccessKey } from './sigv4.js'
import { el, renderXml, rootElement } from './xml.js'

/** The RDS API version the endpoint speaks. */
export const RDS_API_VERSION = '2014-10-31'
/** The XML namespace of every RDS response. */
export const RDS_XMLNS = `http://rds.amazonaws.com/doc/${RDS_API_VERSION}/`
/** Largest request body the endpoint reads (1 MiB); larger ones get `RequestEntityTooLarge`. */
export const RDS_BODY_LIMIT = 1024 * 1024

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

/** Turns anything thrown while serving a request into the `BacktrackError` the client sees. */
function toBacktrackError(error: unknown, request: FastifyRequest): BacktrackError {
  if (error instanceof BacktrackError) return error
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

/**
 * Builds the RDS-compatible HTTP endpoint (AWS Query protocol, version 2014-10-31) over a cluster registry. The
 * caller decides where it listens; tests use `app.inject()`.
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
      void sendXml(reply.header('x-amzn-RequestId', request.id), 400, errorXml(backtrackError, request.id))
    },
  })

  app.removeAllContentTypeParsers()
  // Kept as bytes: a SigV4 signature covers the body exactly as sent.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body)
  })
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, _body, done) => {
    // Unknown routes get their own answer (InvalidAction) from the not-found handler.
    if (request.is404) return done(null, undefined)
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

  app.setErrorHandler((error, request, reply) => {
    const backtrackError = toBacktrackError(error, request)
    return sendXml(reply, backtrackError.httpStatus, errorXml(backtrackError, request.id))
  })

  app.setNotFoundHandler((request, reply) => {
    const error = new BacktrackError(
      'InvalidAction',
      `This endpoint serves the AWS Query protocol on POST / (form-encoded) and GET /?Action=…, not ${request.method} ${request.url.split('?')[0]}.`,
    )
    return sendXml(reply, error.httpStatus, errorXml(error, request.id))
  })

  app.route({
    method: ['GET', 'POST'],
    url: '/',
    handler: async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      if (options.verifySignatures !== undefined) {
        verifySignature(
          { method: request.method, url: request.url, headers: request.headers, body },
          options.verifySignatures.credentials,
          region,
        )
      }
      const params = QueryParams.fromForm(body.toString('utf8'), queryString(request.url))
      const action = params.requiredString('Action')
      const version = params.requiredString('Version')
      const handler =
        version === RDS_API_VERSION && Object.hasOwn(RDS_ACTIONS, action) ? RDS_ACTIONS[action] : undefined
      if (handler === undefined) {
        throw new BacktrackError(
          'InvalidAction',
          `Could not find operation ${action} for version ${version}. Supported actions (version ${RDS_API_VERSION}): ${Object.keys(RDS_ACTIONS).join(', ')}.`,
        )
      }
      const members = await handler(params, context)
      const xml = renderXml(
        rootElement(`${action}Response`, RDS_XMLNS, [
          el(`${action}Result`, members),
          el('ResponseMetadata', [el('RequestId', request.id)]),
        ]),
      )
      return sendXml(reply, 200, xml)
    },
  })

  return app
}
