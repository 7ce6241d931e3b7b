import { pathToFileURL } from 'node:url'
import { parseBenchArgs, USAGE } from './options.js'
import { exitCode, formatReport, reportJson } from './report.js'
import { runBench } from './run-bench.js'

export interface MainIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
}

const processIo: MainIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}

/** `pnpm bench [--quick] [--json] [--only ...]`: runs the benchmark and returns the exit code. */
export async function main(argv: readonly string[], io: MainIo = processIo): Promise<number> {
  let cli
  try {
    cli = parseBenchArgs(argv)
  } catch (error) {
    io.stderr(`${(error as Error).message}\n\n${USAGE}\n`)
    return 2
  }
  if (cli.help) {
    io.stdout(`${USAGE}\n`)
    return 0
  }
  const cleanups: (() => Promise<void>)[] = []
  const onSignal = (signal: NodeJS.Signals) => {
    io.stderr(`\n${signal}: stopping the benchmark's server\n`)
    void Promise.allSettled(cleanups.map((cleanup) => cleanup())).then(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const report = await runBench({
      sizes: cli.sizes,
      mode: cli.quick ? 'quick' : 'full',
      ...(cli.only === undefined ? {} : { only: cli.only }),
      ...(cli.workDir === undefined ? {} : { workDir: cli.workDir }),
      log: (message) => io.stderr(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`),
      onCleanup: (cleanup) => cleanups.push(cleanup),
    })
    io.stdout(cli.json ? `${JSON.stringify(reportJson(report))}\n` : `${formatReport(report)}\n`)
    const code = exitCode(report)
    if (code !== 0) io.stderr('bench: a correctness check FAILED (see above)\n')
    return code
  } catch (error) {
    io.stderr(`bench failed: ${(error as Error).stack ?? String(error)}\n`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2))
}
