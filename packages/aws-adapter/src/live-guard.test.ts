import { describe, expect, it } from 'vitest'
import { hasTestbedTag, isLoopbackEndpoint, liveBacktrackNotConfirmed } from './live-guard.js'

describe('isLoopbackEndpoint', () => {
  it.each([
    'http://127.0.0.1:4566',
    'http://127.1.2.3',
    'http://localhost:9000/',
    'http://LOCALHOST',
    'http://rds.localhost:1',
    'http://[::1]:4566',
  ])('treats %s as local', (url) => expect(isLoopbackEndpoint(url)).toBe(true))

  it.each([
    undefined,
    '',
    'https://rds.us-east-1.amazonaws.com',
    'http://10.0.0.5:4566',
    'http://127.0.0.1.example.com',
    'http://localhost.example.com',
    'not a url',
  ])('treats %s as live', (url) => expect(isLoopbackEndpoint(url)).toBe(false))
})

describe('hasTestbedTag', () => {
  it('wants exactly backtrack-testbed=true (value in any case)', () => {
    expect(hasTestbedTag([{ Key: 'backtrack-testbed', Value: 'true' }])).toBe(true)
    expect(hasTestbedTag([{ Key: 'backtrack-testbed', Value: 'TRUE' }])).toBe(true)
    expect(hasTestbedTag([{ Key: 'backtrack-testbed', Value: 'yes' }])).toBe(false)
    expect(hasTestbedTag([{ Key: 'Backtrack-Testbed', Value: 'true' }])).toBe(false)
    expect(hasTestbedTag(undefined)).toBe(false)
  })
})

describe('liveBacktrackNotConfirmed', () => {
  it('names a placeholder when the ARN is unknown', () => {
    expect(liveBacktrackNotConfirmed('lab', '').message).toContain('--resource-name <arn of lab>')
  })
})
