/**
 * The command the user typed to start the CLI, for the commands it suggests: `backtrack` when it is on the PATH
 * (npm's bin, `npx`), or the package manager running a checkout's script named `backtrack` (`pnpm backtrack`).
 */
export function invokedAs(env: NodeJS.ProcessEnv): string {
  if (env['npm_lifecycle_event'] !== 'backtrack') return 'backtrack'
  const manager = /^(pnpm|yarn|npm)\//.exec(env['npm_config_user_agent'] ?? '')?.[1] ?? 'pnpm'
  // npm passes options on to a script only after `--`.
  return manager === 'npm' ? 'npm run backtrack --' : `${manager} backtrack`
}

// A command shown to be typed: in backticks, after a `$ ` prompt (and any VAR=value before it), or in a usage line;
// or inside `$(…)`, whose output a shell reads, where a package manager must be silent (-s).
const SHOWN_COMMAND = /(`|\$ (?:[A-Z_]+=\S* )*|Usage: |\$\()backtrack\b/g

/** `text` with every command it shows as `backtrack …` written as the user invoked the CLI. */
export function asInvoked(text: string, name: string): string {
  if (name === 'backtrack') return text
  return text.replace(SHOWN_COMMAND, (_match, before: string) =>
    before === '$(' ? `$(${name.replace(/^(pnpm|yarn|npm run) /, '$1 -s ')}` : `${before}${name}`,
  )
}
