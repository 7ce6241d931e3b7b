import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SqlProxy } from './sql-proxy.js'

/** A stand-in server that, like MySQL, speaks first: it greets every connection, then echoes. */
async function greetingServer(): Promise<Server> {
  const server = createServer((socket) => {
    socket.write('hello\n')
    socket.pipe(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return server
}

function connect(port: number): Socket {
  const socket = createConnection({ host: '127.0.0.1', port })
  socket.setEncoding('utf8')
  socket.on('error', () => {})
  return socket
}

async function firstData(socket: Socket, timeoutMs = 2_000): Promise<string | undefined> {
  const data = once(socket, 'data').then(([chunk]) => String(chunk))
  return Promise.race([data, sleep(timeoutMs).then(() => undefined)])
}

describe('SqlProxy', () => {
  let target: Server
  let proxy: SqlProxy

  beforeEach(async () => {
    target = await greetingServer()
    const address = target.address() as { port: number }
    proxy = await SqlProxy.start({ target: { host: '127.0.0.1', port: address.port }, holdTimeoutMs: 500 })
  })

  afterEach(async () => {
    await proxy.close()
    target.close()
  })

  it('forwards connections both ways', async () => {
    const socket = connect(proxy.address.port)
    expect(await firstData(socket)).toBe('hello\n')
    socket.write('ping')
    expect(await firstData(socket)).toBe('ping')
    expect(proxy.openConnections).toBe(1)
    socket.destroy()
  })

  it('closes open connections on pause, holds new ones and forwards them on resume', async () => {
    const open = connect(proxy.address.port)
    expect(await firstData(open)).toBe('hello\n')
    const closed = once(open, 'close')
    await proxy.pause()
    await closed
    expect(proxy.openConnections).toBe(0)

    const held = connect(proxy.address.port)
    expect(await firstData(held, 200)).toBeUndefined()
    expect(proxy.heldConnections).toBe(1)
    const greeting = firstData(held)
    proxy.resume()
    expect(await greeting).toBe('hello\n')
    expect(proxy.heldConnections).toBe(0)
    held.destroy()
  })

  it('closes a connection held longer than the hold timeout', async () => {
    await proxy.pause()
    const held = connect(proxy.address.port)
    const closed = once(held, 'close')
    await closed
    expect(proxy.heldConnections).toBe(0)
    proxy.resume()
  })
})
