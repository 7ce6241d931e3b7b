import { setTimeout as sleep } from 'node:timers/promises'
import {
  isProcessAlive,
  type Credentials,
  type ServerConnectionOptions,
  type ServerFlavor,
  type ServerLogger,
  type ServerSource,
  type StartedMysqlServer,
} from '@backtrack/mysql-server'

export interface SupervisedServerOptions {
  /** Starts the server again on the same data directory and port (called after its process died). */
  restart: () => Promise<StartedMysqlServer>
  logger: ServerLogger
  /** Told when the process was found dead, and when it runs again (or could not be started). */
  onEvent: (message: string) => void
  /** How often the process is looked at. Default 250 ms. */
  checkEveryMs?: number
}

const RETRY_MS = [1_000, 2_000, 5_000]

/**
 * A private server that is started again when its process dies (kill -9, OOM killer, a crash): what a managed
 * database does for its instances. It stands in for the handle it wraps: the same address, accounts and data
 * directory, and `pid` follows the running process. Everything that talks to the server (capture, executor,
 * client sessions) reconnects by itself once it answers again.
 */
export class SupervisedServer implements StartedMysqlServer {
  #current: StartedMysqlServer
  readonly #options: SupervisedServerOptions
  readonly #timer: NodeJS.Timeout
  #restarting: Promise<void> | undefined
  #stopping = false
  #restarts = 0

  constructor(server: StartedMysqlServer, options: SupervisedServerOptions) {
    this.#current = server
    this.#options = options
    this.#timer = setInterval(() => this.#check(), options.checkEveryMs ?? 250)
    this.#timer.unref()
  }

  get source(): ServerSource {
    return this.#current.source
  }
  get flavor(): ServerFlavor {
    return this.#current.flavor
  }
  get version(): string {
    return this.#current.version
  }
  get host(): string {
    return this.#current.host
  }
  get port(): number {
    return this.#current.port
  }
  get admin(): Credentials {
    return this.#current.admin
  }
  get app(): Credentials {
    return this.#current.app
  }
  get serverId(): number {
    return this.#current.serverId
  }
  get dataDir(): string | undefined {
    return this.#current.dataDir
  }
  get pid(): number | undefined {
    return this.#current.pid
  }
  get socketPath(): string | undefined {
    return this.#current.socketPath
  }
  get adopted(): boolean | undefined {
    return this.#current.adopted
  }
  /** How many times the server was started again. */
  get restarts(): number {
    return this.#restarts
  }

  connectionOptions(account: 'admin' | 'app', database?: string): ServerConnectionOptions {
    return this.#current.connectionOptions(account, database)
  }

  purgeBinaryLogsBefore(file: string): Promise<void> {
    return this.#current.purgeBinaryLogsBefore(file)
  }

  #check(): void {
    const pid = this.#current.pid
    if (this.#stopping || this.#restarting !== undefined || pid === undefined || isProcessAlive(pid)) return
    this.#restarting = this.#restart(pid).finally(() => (this.#restarting = undefined))
  }

  async #restart(deadPid: number): Promise<void> {
    const { logger, onEvent } = this.#options
    const message = `The DB cluster's server (pid ${deadPid}) stopped unexpectedly; restarting it.`
    logger.warn(message)
    onEvent(message)
    const began = Date.now()
    for (let attempt = 0; !this.#stopping; attempt++) {
      try {
        this.#current = await this.#options.restart()
        this.#restarts++
        const done = `The DB cluster's server was restarted (pid ${this.#current.pid}) in ${Date.now() - began} ms.`
        logger.info(done)
        onEvent(done)
        return
      } catch (error) {
        const failed = `The DB cluster's server could not be restarted: ${(error as Error).message}`
        logger.warn(failed)
        if (attempt === 0) onEvent(failed)
        await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)])
      }
    }
  }

  /** Stops watching, waits for a restart in progress, and stops the server. */
  async stop(): Promise<void> {
    this.#stopping = true
    clearInterval(this.#timer)
    await this.#restarting
    await this.#current.stop()
  }

  /** Stops watching and leaves the server running (as a killed cluster process would). */
  detach(): void {
    this.#stopping = true
    clearInterval(this.#timer)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
