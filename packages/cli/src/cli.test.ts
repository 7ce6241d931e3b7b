import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { runCli } from './cli.js'

describe('runCli', () => {
  it('exits 0 for --version and 2 for an unknown option', async () => {
    expect(await runCli(['--version'])).toBe(0)
    expect(await runCli(['--no-such-option'])).toBe(2)
  })
})

describe('the commands the CLI suggests', () => {
  const dirs: string[] = []
  afterEach(() => {
    vi.restoreAllMocks()
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  /** Runs the CLI as if started with `env`, and returns what it wrote. */
  async function run(
    argv: string[],
    env: NodeJS.ProcessEnv,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = ''
    let stderr = ''
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true))
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true))
    const code = await runCli(argv, env)
    vi.restoreAllMocks()
    return { code, stdout, stderr }
  }

  const emptyDataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'bt-cli-hint-'))
    dirs.push(dir)
    return dir
  }
  // npm's bin and npx put `backtrack` on the PATH: what they run is started with no package script.
  const installed: NodeJS.ProcessEnv = {}
  // `pnpm backtrack` in a checkout runs the root package.json's script "backtrack".
  const throughPnpm: NodeJS.ProcessEnv = {
    npm_lifecycle_event: 'backtrack',
    npm_config_user_agent: 'pnpm/10.34.8 npm/? node/v20.20.2 linux x64',
  }

  it('says `backtrack …` to a user of the installed command, in errors and in help', async () => {
    const dir = emptyDataDir()
    const status = await run(['status', '--data-dir', dir], installed)
    expect(status.code).toBe(1)
    expect(status.stderr).toContain(`\`backtrack up --data-dir ${dir}\``)
    expect(status.stderr).not.toContain('pnpm')
    const help = await run(['up', '--help'], installed)
    expect(help.stdout).toContain('$ backtrack up --detach')
    expect(help.stdout).toContain('Usage: backtrack up')
    expect(help.stdout).not.toContain('pnpm')
  })

  it('says `pnpm backtrack …` to a user who typed that in a checkout', async () => {
    const dir = emptyDataDir()
    const status = await run(['status', '--data-dir', dir], throughPnpm)
    expect(status.stderr).toContain(`\`pnpm backtrack up --data-dir ${dir}\``)
    const help = await run(['down', '--help'], throughPnpm)
    expect(help.stdout).toContain('$ pnpm backtrack down --purge')
    expect(help.stdout).toContain('Usage: pnpm backtrack down')
    // Its output is read by the shell: pnpm's own banner must not be.
    expect((await run(['up', '--help'], throughPnpm)).stdout).toContain('eval "$(pnpm -s backtrack up --detach)"')
  })
})
