import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BacktrackError, ERROR_CODES, clusterNotFound, isErrorCode } from './errors.js'

const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8')

describe('BacktrackError', () => {
  it('carries the code, HTTP status and fault type of its registry entry', () => {
    const error = new BacktrackError('DBClusterBacktrackNotFoundFault', 'Backtrack x not found.')
    expect(error).toBeInstanceOf(Error)
    expect(error.code).toBe('DBClusterBacktrackNotFoundFault')
    expect(error.httpStatus).toBe(404)
    expect(error.fault).toBe('Sender')
    expect(new BacktrackError('InternalFailure', 'boom').fault).toBe('Receiver')
  })

  it('keeps the cause when wrapping', () => {
    const cause = new Error('socket hang up')
    expect(new BacktrackError('InternalFailure', 'wrapped', { cause }).cause).toBe(cause)
  })

  it('says what RDS says for an unknown cluster', () => {
    const error = clusterNotFound('labstack-cluster')
    expect(error.message).toBe('DBCluster labstack-cluster not found.')
    expect(error.httpStatus).toBe(404)
    expect(BacktrackError.is(error, 'DBClusterNotFoundFault')).toBe(true)
    expect(BacktrackError.is(error, 'InternalFailure')).toBe(false)
  })

  it('knows its codes', () => {
    expect(isErrorCode('InvalidDBClusterStateFault')).toBe(true)
    expect(isErrorCode('toString')).toBe(false)
  })
})

describe('docs/errors.md', () => {
  const documented = new Set([...docs.matchAll(/^\| `(\w+)`\s*\|/gm)].map((match) => match[1]))

  it.each(Object.keys(ERROR_CODES))('has a row for %s', (code) => {
    expect(documented.has(code)).toBe(true)
  })

  it('documents no code that does not exist', () => {
    expect([...documented].filter((code) => code !== undefined && !isErrorCode(code))).toEqual([])
  })
})
