import { randomUUID } from 'node:crypto'
import { createServer, Agent, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RDSClient } from '@aws-sdk/client-rds'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'

// Test support: a tiny AWS endpoint on 127.0.0.1:0 that answers with canned Query-protocol XML (RDS) or JSON
// (Secrets Manager), so the real SDK serialises and parses the wire.

const NS = 'http://rds.amazonaws.com/doc/2014-10-31/'

export interface CannedResponse {
  /** Answer only after this long (to test aborts and timeouts mid-request). */
  delayMs?: number
  status?: number
  body: string
  contentType?: string
}

interface RecordedRequest {
  /** `Action` for RDS, the `X-Amz-Target` operation for JSON services, `<METHOD> <path>` for other paths. */
  action: string
  params: Record<string, string>
  host: string
}

type Responder = (request: RecordedRequest) => CannedResponse | undefined

export interface FakeAwsEndpoint {
  url: string
  port: number
  requests: RecordedRequest[]
  /** Queues responses for an action; each request takes the next one, the last one repeats. */
  on(action: string, ...responses: (CannedResponse | Responder)[]): void
  /** A real RDS client talking to this endpoint. `as` makes it believe it talks to another host (non-loopback). */
  rdsClient(options?: { as?: string; maxAttempts?: number }): RDSClient
  secretsClient(): SecretsManagerClient
  close(): Promise<void>
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** `{ A: 'x', B: [{ C: 1 }] }` → `<A>x</A><B>...</B>`; arrays wrap each item in `itemName`. */
function toXml(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `<${key}>${valueXml(value)}</${key}>`)
    .join('')
}

function valueXml(value: unknown): string {
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object' && value !== null && 'xml' in value) return String((value as { xml: string }).xml)
  if (typeof value === 'object' && value !== null) return toXml(value as Record<string, unknown>)
  return escapeXml(String(value))
}

/** A list element: `list('DBClusterBacktrack', [...])` inside `DBClusterBacktracks`. */
export function list(itemName: string, items: Record<string, unknown>[]): { xml: string } {
  return { xml: items.map((item) => `<${itemName}>${toXml(item)}</${itemName}>`).join('') }
}

export function queryResult(action: string, result: Record<string, unknown>): CannedResponse {
  return {
    body:
      `<${action}Response xmlns="${NS}"><${action}Result>${toXml(result)}</${action}Result>` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  }
}

export function queryError(status: number, code: string, message: string, type = 'Sender'): CannedResponse {
  return {
    status,
    body:
      `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code>` +
      `<Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  }
}

export function jsonResult(value: unknown, status = 200): CannedResponse {
  return { status, body: JSON.stringify(value), contentType: 'application/x-amz-json-1.1' }
}

async function readRequest(request: IncomingMessage): Promise<RecordedRequest> {
  let body = ''
  for await (const chunk of request) body += String(chunk)
  const target = request.headers['x-amz-target']
  const host = request.headers.host ?? ''
  const url = new URL(request.url ?? '/', 'http://fake')
  if (url.pathname !== '/') {
    // Not an AWS API call (e.g. the local cluster's control routes): `POST /_backtrack/mark`, query as params.
    return { action: `${request.method ?? 'GET'} ${url.pathname}`, params: Object.fromEntries(url.searchParams), host }
  }
  if (typeof target === 'string') {
    const params = JSON.parse(body || '{}') as Record<string, string>
    return { action: target.split('.').pop() ?? target, params, host }
  }
  const params = Object.fromEntries(new URLSearchParams(body))
  return { action: params['Action'] ?? '', params, host }
}

export async function startFakeAwsEndpoint(): Promise<FakeAwsEndpoint> {
  const queues = new Map<string, (CannedResponse | Responder)[]>()
  const requests: RecordedRequest[] = []
  const clients: { destroy(): void }[] = []
  const server: Server = createServer((request, response) => {
    void readRequest(request).then((recorded) => {
      requests.push(recorded)
      const queue = queues.get(recorded.action) ?? []
      const next = queue.length > 1 ? queue.shift() : queue[0]
      const canned =
        (typeof next === 'function' ? next(recorded) : next) ??
        queryError(400, 'InvalidAction', `The fake has no response for ${recorded.action}.`)
      const send = (): void => {
        if (response.destroyed) return
        response.writeHead(canned.status ?? 200, {
          'content-type': canned.contentType ?? 'text/xml',
          'x-amzn-RequestId': randomUUID(),
        })
        response.end(canned.body)
      }
      if (canned.delayMs === undefined) send()
      else setTimeout(send, canned.delayMs).unref()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' }
  return {
    url,
    port,
    requests,
    on(action, ...responses) {
      queues.set(action, responses)
    },
    rdsClient(options = {}) {
      // Resolving every host name to 127.0.0.1 lets the SDK sign for, and the engine see, a non-loopback endpoint.
      const httpAgent =
        options.as === undefined
          ? undefined
          : new Agent({
              lookup: ((_host: string, lookupOptions: { all?: boolean }, callback: (...args: unknown[]) => void) =>
                lookupOptions.all
                  ? callback(null, [{ address: '127.0.0.1', family: 4 }])
                  : callback(null, '127.0.0.1', 4)) as never,
            })
      const client = new RDSClient({
        region: 'us-east-1',
        endpoint: options.as === undefined ? url : `http://${options.as}:${port}`,
        credentials,
        maxAttempts: options.maxAttempts ?? 3,
        ...(httpAgent === undefined ? {} : { requestHandler: { httpAgent } }),
      })
      clients.push(client)
      return client
    },
    secretsClient() {
      const client = new SecretsManagerClient({ region: 'us-east-1', endpoint: url, credentials, maxAttempts: 1 })
      clients.push(client)
      return client
    },
    async close() {
      for (const client of clients) client.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
