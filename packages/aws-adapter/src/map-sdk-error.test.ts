import { BacktrackError } from '@backtrack/core'
import { describe, expect, it } from 'vitest'
import { mapSdkError } from './map-sdk-error.js'

function sdkError(name: string, message: string, httpStatusCode?: number): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } })
}

describe('mapSdkError', () => {
  it('passes a BacktrackError through unchanged', () => {
    const error = new BacktrackError('InvalidParameterValue', 'x')
    expect(mapSdkError(error)).toBe(error)
  })

  it.each([
    ['ThrottlingException', 'Throttling'],
    ['RequestLimitExceeded', 'Throttling'],
    ['ValidationError', 'InvalidParameterValue'],
    ['UnrecognizedClientException', 'InvalidClientTokenId'],
    ['ExpiredTokenException', 'InvalidClientTokenId'],
    ['IncompleteSignature', 'SignatureDoesNotMatch'],
    ['AccessDeniedException', 'AccessDenied'],
    ['InternalError', 'InternalFailure'],
    ['TimeoutError', 'ServiceUnavailable'],
  ] as const)('folds %s into %s, keeping message and cause', (name, code) => {
    const cause = sdkError(name, 'what AWS said')
    const mapped = mapSdkError(cause)
    expect(mapped).toMatchObject({ code, message: 'what AWS said', cause })
  })

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN'])(
    'calls the network error %s ServiceUnavailable',
    (code) => {
      const cause = Object.assign(new Error(`connect ${code} rds.example:443`), { code })
      expect(mapSdkError(cause)).toMatchObject({ code: 'ServiceUnavailable', cause })
    },
  )

  it('falls back on the HTTP status for codes it does not know', () => {
    expect(mapSdkError(sdkError('Weird', 'busy', 503)).code).toBe('ServiceUnavailable')
    expect(mapSdkError(sdkError('Weird', 'slow down', 429)).code).toBe('Throttling')
    expect(mapSdkError(sdkError('Weird', 'no', 403))).toMatchObject({ code: 'AccessDenied', message: 'Weird: no' })
    expect(mapSdkError(sdkError('Weird', 'odd', 400))).toMatchObject({ code: 'InternalFailure', message: 'Weird: odd' })
  })

  it('wraps things that are not errors at all', () => {
    expect(mapSdkError('boom')).toMatchObject({ code: 'InternalFailure', message: 'boom' })
  })
})
