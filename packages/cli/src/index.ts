export { buildProgram, runCli } from './cli.js'
