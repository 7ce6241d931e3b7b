import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { registerDown } from './commands/down.js'
import { CliFailure } from './commands/local-cluster-cli.js'
import { registerMark } from './commands/mark.js'
import { registerStatus } from './commands/status.js'
import { registerUp } from './commands/up.js'
import { registerDiff } from './commands/diff.js'
import { registerFind } from './commands/find.js'
import { registerLab } from './commands/lab.js'
import { registerList } from './commands/list.js'
import { registerRun } from './commands/run.js'
import { registerShow } from './commands/show.js'
import { registerConsole } from './commands/console.js'
import { registerTo } from './commands/to.js'
import { registerVerify } from './commands/verify.js'
import { asInvoked, invokedAs } from './invoked-as.js'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

/** Builds the `backtrack` command tree; its help shows commands as `invoked` (`backtrack`, `backtrack`). */
function buildProgram(invoked: string): Command {
  const program = new Command('backtrack')
    .description(
      'Rewind a MySQL cluster in place to a point in time: offline against a local simulated cluster, or live against Aurora.',
    )
    .version(version)
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    // Set before the subcommands are added, which inherit it.
    .configureOutput({
      writeOut: (text) => process.stdout.write(asInvoked(text, invoked)),
      writeErr: (text) => process.stderr.write(asInvoked(text, invoked)),
    })
  registerUp(program)
  registerDown(program)
  registerStatus(program)
  registerMark(program)
  registerLab(program)
  registerTo(program)
  registerList(program)
  registerRun(program)
  registerFind(program)
  registerDiff(program)
  registerShow(program)
  registerConsole(program)
  registerVerify(program)
  return program
}

/**
 * Runs the CLI and returns its exit code: 0 ok, 1 failed, 2 usage. `env` tells how it was started, so that the
 * commands its help and errors suggest are the ones the user can type.
 */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const invoked = invokedAs(env)
  const program = buildProgram(invoked)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2
    }
    // Expected failures name the problem and the fix; a stack trace only with --debug.
    const message = (error as Error).message
    if (message !== '') process.stderr.write(`backtrack: ${asInvoked(message, invoked)}\n`)
    if (program.opts<{ debug?: boolean }>().debug === true && !(error instanceof CliFailure)) {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`)
    }
    return error instanceof CliFailure ? error.exitCode : 1
  }
}
