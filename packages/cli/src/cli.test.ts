import { describe, expect, it } from 'vitest'
import { runCli } from './cli.js'

describe('runCli', () => {
  it('exits 0 for --version and 2 for an unknown option', async () => {
    expect(await runCli(['--version'])).toBe(0)
    expect(await runCli(['--no-such-option'])).toBe(2)
  })
})
