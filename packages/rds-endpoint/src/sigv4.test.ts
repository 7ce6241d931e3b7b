import { BacktrackError } from '@backtrack/core'
import { describe, expect, it } from 'vitest'
import { canonicalRequest, computeSignature, verifySignature, type SignedRequest } from './sigv4.js'

// Cases from the AWS Signature Version 4 test suite (AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1/service).
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
const AMZ_DATE = '20150830T123600Z'
const SCOPE = '20150830/us-east-1/service/aws4_request'
const HOST = 'example.amazonaws.com'

describe('SigV4 against the AWS test suite', () => {
  it('post-x-www-form-urlencoded', () => {
    const request: SignedRequest = {
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded', host: HOST, 'x-amz-date': AMZ_DATE },
      body: Buffer.from('Param1=value1'),
    }
    const canonical = canonicalRequest(request, ['content-type', 'host', 'x-amz-date'])
    expect(canonical).toBe(
      'POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n' +
        'content-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e',
    )
    expect(computeSignature(canonical, SECRET, AMZ_DATE, SCOPE)).toBe(
      'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a',
    )
  })

  it('post-vanilla-query (a query string is part of the canonical request)', () => {
    const request: SignedRequest = {
      method: 'POST',
      url: '/?Param1=value1',
      headers: { host: HOST, 'x-amz-date': AMZ_DATE },
      body: Buffer.alloc(0),
    }
    const canonical = canonicalRequest(request, ['host', 'x-amz-date'])
    expect(computeSignature(canonical, SECRET, AMZ_DATE, SCOPE)).toBe(
      '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11',
    )
  })
})

describe('verifySignature', () => {
  const keys = [{ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET }]
  const body = Buffer.from('Action=DescribeDBClusters&Version=2014-10-31')

  function signed(overrides: { secret?: string; keyId?: string; scope?: string } = {}): SignedRequest {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      host: '127.0.0.1:8080',
      'x-amz-date': AMZ_DATE,
    }
    const names = ['content-type', 'host', 'x-amz-date']
    const scope = overrides.scope ?? '20150830/us-east-1/rds/aws4_request'
    const request: SignedRequest = { method: 'POST', url: '/', headers, body }
    const signature = computeSignature(canonicalRequest(request, names), overrides.secret ?? SECRET, AMZ_DATE, scope)
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${overrides.keyId ?? 'AKIDEXAMPLE'}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`
    return request
  }

  function codeOf(request: SignedRequest, now = new Date('2015-08-30T12:40:00Z')): string | undefined {
    try {
      verifySignature(request, keys, 'us-east-1', { now })
      return undefined
    } catch (error) {
      if (error instanceof BacktrackError) return error.code
      throw error
    }
  }

  it('accepts a correctly signed request', () => {
    expect(codeOf(signed())).toBeUndefined()
  })

  it('answers each failure with the AWS code', () => {
    expect(codeOf({ ...signed(), headers: { host: 'x' } })).toBe('MissingAuthenticationToken')
    expect(codeOf(signed({ keyId: 'AKIDOTHER' }))).toBe('InvalidClientTokenId')
    expect(codeOf(signed({ secret: 'wrong' }))).toBe('SignatureDoesNotMatch')
    expect(codeOf(signed({ scope: '20150830/eu-west-1/rds/aws4_request' }))).toBe('SignatureDoesNotMatch')
    expect(codeOf(signed({ scope: '20150830/us-east-1/ec2/aws4_request' }))).toBe('SignatureDoesNotMatch')
    const tampered = signed()
    expect(codeOf({ ...tampered, body: Buffer.from('Action=DeleteDBCluster&Version=2014-10-31') })).toBe(
      'SignatureDoesNotMatch',
    )
    expect(codeOf({ ...tampered, headers: { ...tampered.headers, authorization: 'Basic dGVzdDp0ZXN0' } })).toBe(
      'SignatureDoesNotMatch',
    )
    expect(codeOf(signed(), new Date('2015-08-30T12:52:00Z'))).toBe('SignatureDoesNotMatch')
    expect(codeOf(signed(), new Date('2015-08-30T12:50:00Z'))).toBeUndefined()
  })
})
