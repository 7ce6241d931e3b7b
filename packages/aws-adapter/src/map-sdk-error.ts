import { BacktrackError, isErrorCode, type ErrorCode } from '@backtrack/core'

// Codes AWS (or a neighbouring AWS service) uses for a failure that has one of our codes under another name.
const ALIASES: Readonly<Record<string, ErrorCode>> = {
  ThrottlingException: 'Throttling',
  TooManyRequestsException: 'Throttling',
  RequestLimitExceeded: 'Throttling',
  RequestThrottled: 'Throttling',
  RequestThrottledException: 'Throttling',
  SlowDown: 'Throttling',
  ValidationError: 'InvalidParameterValue',
  ValidationException: 'InvalidParameterValue',
  InvalidParameter: 'InvalidParameterValue',
  InvalidParameterException: 'InvalidParameterValue',
  InvalidRequestException: 'InvalidParameterValue',
  UnrecognizedClientException: 'InvalidClientTokenId',
  InvalidAccessKeyId: 'InvalidClientTokenId',
  ExpiredToken: 'InvalidClientTokenId',
  ExpiredTokenException: 'InvalidClientTokenId',
  InvalidToken: 'InvalidClientTokenId',
  IncompleteSignature: 'SignatureDoesNotMatch',
  InvalidSignatureException: 'SignatureDoesNotMatch',
  // Raised by the SDK itself when no provider in the chain (env, profile, SSO, IMDS) yields credentials.
  CredentialsProviderError: 'MissingAuthenticationToken',
  TokenProviderError: 'MissingAuthenticationToken',
  AccessDeniedException: 'AccessDenied',
  UnauthorizedOperation: 'AccessDenied',
  AuthFailure: 'AccessDenied',
  InternalError: 'InternalFailure',
  InternalServerError: 'InternalFailure',
  InternalServiceError: 'InternalFailure',
  InternalServiceErrorException: 'InternalFailure',
  ServiceUnavailableException: 'ServiceUnavailable',
  RequestTimeout: 'ServiceUnavailable',
  RequestTimeoutException: 'ServiceUnavailable',
  TimeoutError: 'ServiceUnavailable',
}

// Socket-level failures: nothing answered, so "cannot answer now" rather than "failed inside".
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
])

const CREDENTIAL_HINT =
  " Configure AWS credentials: AWS_PROFILE (or the engine's profile), `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."

interface ErrorLike {
  name?: unknown
  Code?: unknown
  code?: unknown
  message?: unknown
  errno?: unknown
  $metadata?: { httpStatusCode?: unknown }
}

function asErrorLike(error: unknown): ErrorLike {
  return typeof error === 'object' && error !== null ? error : {}
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/**
 * Turns what the AWS SDK (or the socket under it) threw into the `BacktrackError` the simulator throws for the
 * same failure: RDS fault names stay as they are, aliases of them are folded in, network failures become
 * `ServiceUnavailable`, anything else `InternalFailure` (5xx) with the AWS code kept in the message. The original
 * error is the `cause`; a `BacktrackError` passes through unchanged.
 */
export function mapSdkError(error: unknown): BacktrackError {
  if (error instanceof BacktrackError) return error
  const like = asErrorLike(error)
  // Modelled faults have `name` = code; unmodelled ones (InvalidParameterValue, Throttling...) too, plus `Code`.
  const awsCode = text(like.Code) ?? text(like.name)
  const message = text(like.message) ?? String(error)
  const status = typeof like.$metadata?.httpStatusCode === 'number' ? like.$metadata.httpStatusCode : undefined
  const socketCode = text(like.code)

  if (awsCode !== undefined && isErrorCode(awsCode)) return new BacktrackError(awsCode, message, { cause: error })
  const alias = awsCode === undefined ? undefined : ALIASES[awsCode]
  if (alias !== undefined) {
    const hint = alias === 'MissingAuthenticationToken' && awsCode === 'CredentialsProviderError' ? CREDENTIAL_HINT : ''
    return new BacktrackError(alias, hint === '' ? message : `${sentence(message)}${hint}`, { cause: error })
  }
  if (socketCode !== undefined && NETWORK_CODES.has(socketCode)) {
    return new BacktrackError('ServiceUnavailable', message, { cause: error })
  }
  if (status === 503) return new BacktrackError('ServiceUnavailable', message, { cause: error })
  if (status === 403) return new BacktrackError('AccessDenied', prefixed(awsCode, message), { cause: error })
  if (status === 429) return new BacktrackError('Throttling', message, { cause: error })
  return new BacktrackError('InternalFailure', prefixed(awsCode, message), { cause: error })
}

function sentence(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`
}

function prefixed(awsCode: string | undefined, message: string): string {
  return awsCode === undefined || awsCode === 'Error' || message.startsWith(awsCode)
    ? message
    : `${awsCode}: ${message}`
}
