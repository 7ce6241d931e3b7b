import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

/** Builds the `backtrack` command tree. */
export function buildProgram(): Command {
  return new Command('backtrack')
    .description(
      'Rewind a MySQL cluster in place to a point in time: offline against a local simulated cluster, or live against Aurora.',
    )
    .version(version)
    .exitOverride()
}

/** Runs the CLI and returns its exit code: 0 ok, 1 failed, 2 usage. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2
    }
    throw error
  }
}
