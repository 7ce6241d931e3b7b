import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { BacktrackError } from '@backtrack/core'

/** An access key the endpoint accepts when it verifies signatures. */
export interface AccessKey {
  accessKeyId: string
  secretAccessKey: string
}

/** The parts of a request a SigV4 signature covers. */
export interface SignedRequest {
  method: string
  /** Path and query string as received (`/?a=b`). */
  url: string
  /** Header names in lower case, as node delivers them. */
  headers: Readonly<Record<string, string | string[] | undefined>>
  body: Buffer
}

const ALGORITHM = 'AWS4-HMAC-SHA256'
// AWS refuses signatures more than 15 minutes away from its own clock.
const MAX_CLOCK_SKEW_MS = 15 * 60_000

/** RFC 3986 percent-encoding, as SigV4 wants it (`encodeURIComponent` leaves `!'()*` alone). */
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, '%20'))
  } catch {
    return text
  }
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}

function headerValue(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ')
}

/** The canonical request of SigV4 (non-S3 flavour: each path segment encoded once more). */
export function canonicalRequest(request: SignedRequest, signedHeaders: readonly string[]): string {
  const queryStart = request.url.indexOf('?')
  const path = queryStart === -1 ? request.url : request.url.slice(0, queryStart)
  const query = queryStart === -1 ? '' : request.url.slice(queryStart + 1)
  const canonicalPath = (path === '' ? '/' : path).split('/').map(encodeRfc3986).join('/')
  const canonicalQuery = query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const name = eq === -1 ? pair : pair.slice(0, eq)
      const value = eq === -1 ? '' : pair.slice(eq + 1)
      return [encodeRfc3986(safeDecode(name)), encodeRfc3986(safeDecode(value))] as const
    })
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : av > bv ? 1 : 0) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&')
  const canonicalHeaders = signedHeaders.map((name) => `${name}:${headerValue(request.headers[name]) ?? ''}\n`).join('')
  const payloadHash = headerValue(request.headers['x-amz-content-sha256']) ?? sha256Hex(request.body)
  return [
    request.method.toUpperCase(),
    canonicalPath,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n')
}

/** The hex signature of a canonical request with a secret key, a date and a credential scope. */
export function computeSignature(canonical: string, secretAccessKey: string, amzDate: string, scope: string): string {
  const [date = '', region = '', service = '', terminator = ''] = scope.split('/')
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n')
  let key = hmac(`AWS4${secretAccessKey}`, date)
  for (const part of [region, service, terminator]) key = hmac(key, part)
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex')
}

interface ParsedAuthorization {
  accessKeyId: string
  scope: string
  scopeDate: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
}

function parseAuthorization(header: string): ParsedAuthorization {
  const incomplete = (what: string) =>
    new BacktrackError(
      'SignatureDoesNotMatch',
      `Authorization header requires '${what}' parameter. Authorization=${header.slice(0, 200)}`,
    )
  if (!header.startsWith(`${ALGORITHM} `)) {
    throw new BacktrackError(
      'SignatureDoesNotMatch',
      `Unsupported authorization type: only ${ALGORITHM} (SigV4) signatures are accepted.`,
    )
  }
  const fields = new Map<string, string>()
  for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=')
    if (eq !== -1) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
  }
  const credential = fields.get('Credential')
  const signedHeaders = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (credential === undefined) throw incomplete('Credential')
  if (signedHeaders === undefined) throw incomplete('SignedHeaders')
  if (signature === undefined) throw incomplete('Signature')
  const [accessKeyId = '', scopeDate = '', region = '', service = '', terminator = ''] = credential.split('/')
  if (credential.split('/').length !== 5 || terminator !== 'aws4_request') {
    throw new BacktrackError(
      'SignatureDoesNotMatch',
      `Credential should be scoped to a valid region and service: "${credential}" is not <key>/<date>/<region>/<service>/aws4_request.`,
    )
  }
  return {
    accessKeyId,
    scope: credential.slice(accessKeyId.length + 1),
    scopeDate,
    region,
    service,
    signedHeaders: signedHeaders.split(';').map((name) => name.trim().toLowerCase()),
    signature: signature.toLowerCase(),
  }
}

/**
 * Checks a request's SigV4 `Authorization` header against `keys`, answering as AWS does: no header
 * `MissingAuthenticationToken`, an unknown key `InvalidClientTokenId`, a wrong signature `SignatureDoesNotMatch`
 * (all 403), as is a signature more than 15 minutes away from `now`. Presigned query-string signatures are not
 * supported.
 */
export function verifySignature(
  request: SignedRequest,
  keys: readonly AccessKey[],
  region: string,
  options: { service?: string; now?: Date } = {},
): void {
  const service = options.service ?? 'rds'
  const now = options.now ?? new Date()
  const header = headerValue(request.headers.authorization)
  if (header === undefined || header === '') {
    throw new BacktrackError('MissingAuthenticationToken', 'Request is missing Authentication Token')
  }
  const auth = parseAuthorization(header)
  const key = keys.find((candidate) => candidate.accessKeyId === auth.accessKeyId)
  if (key === undefined) {
    throw new BacktrackError('InvalidClientTokenId', 'The security token included in the request is invalid.')
  }
  if (auth.service !== service) {
    throw new BacktrackError('SignatureDoesNotMatch', `Credential should be scoped to correct service: '${service}'. `)
  }
  if (auth.region !== region) {
    throw new BacktrackError(
      'SignatureDoesNotMatch',
      `Credential should be scoped to a valid region, not '${auth.region}'. This endpoint serves '${region}'.`,
    )
  }
  if (!auth.signedHeaders.includes('host')) {
    throw new BacktrackError('SignatureDoesNotMatch', "'Host' must be a 'SignedHeader' in the AWS Authorization.")
  }
  const amzDate = headerValue(request.headers['x-amz-date'])
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    throw new BacktrackError(
      'SignatureDoesNotMatch',
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    )
  }
  if (!amzDate.startsWith(auth.scopeDate)) {
    throw new BacktrackError(
      'SignatureDoesNotMatch',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${amzDate.slice(0, 8)}'`,
    )
  }
  const signedAt = Date.parse(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  )
  if (Number.isNaN(signedAt) || Math.abs(now.getTime() - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw new BacktrackError(
      'SignatureDoesNotMatch',
      `Signature expired: ${amzDate} is not within 15 minutes of the endpoint's time ${now.toISOString()}. Check your clock.`,
    )
  }
  const expected = computeSignature(
    canonicalRequest(request, auth.signedHeaders),
    key.secretAccessKey,
    amzDate,
    auth.scope,
  )
  const given = Buffer.from(auth.signature, 'utf8')
  if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected, 'utf8'))) {
    throw new BacktrackError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    )
  }
}

/**
 * Signs a request with SigV4 (what an AWS SDK does): returns the `x-amz-date`, `x-amz-content-sha256` and
 * `authorization` headers to add. `headers` must hold `host`; every header given is signed.
 */
export function signRequest(
  request: SignedRequest,
  key: AccessKey,
  region: string,
  service: string,
  now: Date = new Date(),
): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')
  const payloadHash = sha256Hex(request.body)
  const headers: Record<string, string | string[] | undefined> = {
    ...Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value])),
    'x-amz-date': amzDate,
    'x-amz-content-sha256': payloadHash,
  }
  const signedHeaders = Object.keys(headers)
    .filter((name) => headers[name] !== undefined)
    .sort()
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`
  const signature = computeSignature(
    canonicalRequest({ ...request, headers }, signedHeaders),
    key.secretAccessKey,
    amzDate,
    scope,
  )
  return {
    'x-amz-date': amzDate,
    'x-amz-content-sha256': payloadHash,
    authorization: `${ALGORITHM} Credential=${key.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`,
  }
}
