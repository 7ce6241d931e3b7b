import { createConnection, createServer, type Server, type Socket } from 'node:net'
import type { ConnectionGate } from '../simulator-engine.js'
import { ReadOnlyFilter } from './read-only-protocol.js'

export interface SqlProxyOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string
  /** Port to listen on; 0 or unset picks a free one. */
  port?: number
  /** Where connections are forwarded: the server underneath the cluster. */
  target: { host: string; port: number }
  /** How long a connection made during a rewind waits before it is closed. Default 10 minutes. */
  holdTimeoutMs?: number
  /** Refuse every write with MySQL's read-only error 1290, as an Aurora reader does (see `ReadOnlyFilter`). */
  readOnly?: boolean
}

/** A held connection: accepted while the cluster is paused, forwarded on `resume()`. */
interface Held {
  socket: Socket
  timer: ReturnType<typeof setTimeout>
}

const DEFAULT_HOLD_MS = 10 * 60_000

/**
 * The cluster's SQL endpoint: a TCP proxy in front of the server. While a backtrack applies it is the gate Aurora
 * has: open connections are closed (their uncommitted work is rolled back by the server) and new ones wait, not
 * refused, so a client that reconnects in a loop lands on the rewound state.
 */
export class SqlProxy implements ConnectionGate, AsyncDisposable {
  readonly #server: Server
  readonly #target: { host: string; port: number }
  readonly #holdTimeoutMs: number
  readonly #readOnly: boolean
  readonly #pairs = new Set<{ client: Socket; upstream: Socket }>()
  readonly #held = new Set<Held>()
  #paused = false
  #closed = false

  private constructor(server: Server, options: SqlProxyOptions) {
    this.#server = server
    this.#target = options.target
    this.#holdTimeoutMs = options.holdTimeoutMs ?? DEFAULT_HOLD_MS
    this.#readOnly = options.readOnly ?? false
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(options: SqlProxyOptions): Promise<SqlProxy> {
    const server = createServer({ noDelay: true })
    const proxy = new SqlProxy(server, options)
    server.on('connection', (socket) => proxy.#accept(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, exclusive: true }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return proxy
  }

  /** Where clients connect. */
  get address(): { host: string; port: number } {
    const address = this.#server.address()
    if (address === null || typeof address === 'string') throw new Error('the SQL proxy is not listening')
    return { host: address.address, port: address.port }
  }

  /** Client connections currently forwarded. */
  get openConnections(): number {
    return this.#pairs.size
  }

  /** Client connections waiting for a rewind to finish. */
  get heldConnections(): number {
    return this.#held.size
  }

  get paused(): boolean {
    return this.#paused
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true)
    socket.on('error', () => socket.destroy())
    if (this.#closed) {
      socket.destroy()
      return
    }
    if (this.#paused) {
      const held: Held = {
        socket,
        timer: setTimeout(() => {
          this.#held.delete(held)
          socket.destroy()
        }, this.#holdTimeoutMs),
      }
      held.timer.unref()
      // A client that gives up while held is forgotten; nothing was forwarded yet.
      socket.once('close', () => {
        clearTimeout(held.timer)
        this.#held.delete(held)
      })
      this.#held.add(held)
      return
    }
    this.#forward(socket)
  }

  #forward(client: Socket): void {
    // MySQL's server speaks first (the handshake): nothing the client sent while held is lost, it has sent nothing.
    const upstream = createConnection({ host: this.#target.host, port: this.#target.port, noDelay: true })
    const pair = { client, upstream }
    this.#pairs.add(pair)
    const drop = () => {
      this.#pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    upstream.on('error', drop)
    client.on('error', drop)
    upstream.on('close', drop)
    client.on('close', drop)
    if (!this.#readOnly) {
      client.pipe(upstream)
      upstream.pipe(client)
      return
    }
    // Backpressure as pipe() has it: a side that cannot take more pauses the other until it drains.
    const send = (to: Socket, from: Socket, bytes: Buffer) => {
      if (!to.write(bytes) && !from.isPaused()) {
        from.pause()
        to.once('drain', () => from.resume())
      }
    }
    const filter = new ReadOnlyFilter({
      toServer: (bytes) => send(upstream, client, bytes),
      toClient: (bytes) => send(client, upstream, bytes),
      refuse: drop,
    })
    client.on('data', (chunk: Buffer) => filter.fromClient(chunk))
    upstream.on('data', (chunk: Buffer) => filter.fromServer(chunk))
  }

  /** Closes every client connection and holds new ones until {@link resume}. */
  async pause(): Promise<void> {
    this.#paused = true
    const closing = [...this.#pairs].map(
      ({ client, upstream }) =>
        new Promise<void>((resolve) => {
          if (upstream.destroyed) return resolve()
          upstream.once('close', () => resolve())
          client.destroy()
          upstream.destroy()
        }),
    )
    await Promise.all(closing)
  }

  /** Forwards the held connections and lets new ones through. */
  resume(): void {
    this.#paused = false
    for (const held of this.#held) {
      clearTimeout(held.timer)
      this.#held.delete(held)
      if (!held.socket.destroyed) this.#forward(held.socket)
    }
  }

  /** Stops listening and closes every connection, held or forwarded. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const held of this.#held) {
      clearTimeout(held.timer)
      held.socket.destroy()
    }
    this.#held.clear()
    for (const { client, upstream } of this.#pairs) {
      client.destroy()
      upstream.destroy()
    }
    this.#pairs.clear()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
