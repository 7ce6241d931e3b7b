import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import {
  BacktrackError,
  formatRdsTime,
  parseRdsTime,
  type BacktrackEngine,
  type DBClusterBacktrack,
} from '@backtrack/core'
import {
  LocalClusterClient,
  previewLines,
  type BacktrackPreview,
  type ClusterHistory,
  type HistoryEvent,
  type LocalClusterStatus,
  type Timeline,
} from '@backtrack/simulator'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/** Where the console is served on the RDS endpoint's port. */
export const CONSOLE_PATH = '/console/'

/** The header the console page sends with a backtrack; other web pages cannot send it without a CORS preflight. */
const CONSOLE_HEADER = 'x-backtrack-console'

/** What the console needs from a running local cluster (`StartedLocalCluster` has it). */
export interface ConsoleCluster {
  readonly clusterIdentifier: string
  readonly dataDir: string
  readonly rdsEndpoint: string
  status(): Promise<LocalClusterStatus>
  /** The engine the RDS endpoint serves: the console's backtracks go through it, like `BacktrackDBCluster`. */
  readonly node: Pick<BacktrackEngine, 'backtrack' | 'now'>
}

/** `GET /console/api/cluster`: the cluster as the console's header and details show it. */
export interface ConsoleClusterView {
  clusterIdentifier: string
  status: string
  serverVersion: string
  source: string
  window: { targetSeconds: number; actualSeconds: number; earliestBacktrackTime: string | null }
  changeRecords: number
  captureLagMillis: number
  connections: LocalClusterStatus['connections']
  rdsEndpoint: string
  region: string
  dataDir: string
  endpoints: {
    role: 'writer' | 'reader'
    host: string
    port: number
    user: string
    database: string
    /** The `mysql` command that connects (it asks for the password, which the console never sends). */
    connect: string
  }[]
  commands: { describe: string; status: string }
}

/** `GET /console/api/timeline`: the history's timeline, DDL with a short label each. */
export interface ConsoleTimeline extends Timeline {
  events: (HistoryEvent & { label: string })[]
}

/** `GET /console/api/preview`: what a backtrack to a time would undo, in data and in words, and how to run it. */
export interface ConsolePreview extends BacktrackPreview {
  lines: string[]
  commands: { backtrack: string; aws: string }
}

/** The commands that run a backtrack to `to`, as the console and `backtrack to --dry-run` print them. */
export function backtrackCommands(
  cluster: { clusterIdentifier: string; rdsEndpoint?: string; dataDir: string },
  to: string,
): { backtrack: string; aws: string } {
  return {
    backtrack: `backtrack to ${to} --data-dir ${shellWord(cluster.dataDir)} --wait`,
    aws:
      `aws rds backtrack-db-cluster --db-cluster-identifier ${cluster.clusterIdentifier} --backtrack-to "${to}"` +
      (cluster.rdsEndpoint === undefined ? '' : ` --endpoint-url ${cluster.rdsEndpoint}`),
  }
}

function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
}

const DDL_HEAD =
  /^\s*(create|drop|alter|truncate|rename)\s+(?:(?:temporary|or replace|online|ignore)\s+)*(table|database|schema|index|view)\s+(?:if (?:not )?exists\s+)?([`\w.$]+)/i

/** `DROP TABLE \`sbtest1\`` → `DROP TABLE sbtest1`; the statement's head, short enough for a marker. */
export function ddlLabel(sql: string | null): string {
  if (sql === null) return 'DDL'
  const head = DDL_HEAD.exec(sql)
  if (head !== null) return `${head[1]!.toUpperCase()} ${head[2]!.toUpperCase()} ${head[3]!.replaceAll('`', '')}`
  const flat = sql.replace(/\s+/g, ' ').trim()
  return flat.length > 40 ? `${flat.slice(0, 39)}…` : flat
}

const ASSETS = new URL('../dist/page/', import.meta.url)
const ASSET_TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
}

function recordJson(record: DBClusterBacktrack): Record<string, string> {
  return {
    DBClusterIdentifier: record.DBClusterIdentifier,
    BacktrackIdentifier: record.BacktrackIdentifier,
    BacktrackTo: formatRdsTime(record.BacktrackTo),
    ...(record.BacktrackedFrom === undefined ? {} : { BacktrackedFrom: formatRdsTime(record.BacktrackedFrom) }),
    BacktrackRequestCreationTime: formatRdsTime(record.BacktrackRequestCreationTime),
    Status: record.Status,
  }
}

function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const known = BacktrackError.is(error)
  return reply
    .code(known ? error.httpStatus : 500)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ error: { code: known ? error.code : 'InternalFailure', message: (error as Error).message } })
}

/** DNS rebinding reaches a local port under a name the attacker owns; the console answers only IPs and localhost. */
function isLocalHost(request: FastifyRequest): boolean {
  const host = request.headers.host ?? ''
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')
  return isIP(name) !== 0 || name === 'localhost'
}

/**
 * Serves the console on `app` under `/console/`: the page (built into `dist/page` by `pnpm build`) and the JSON
 * routes it reads, each answering errors as `{"error": {"code", "message"}}`. Mount it before the server listens.
 *
 * @example
 * await startLocalCluster({ dataDir, mount: mountConsole }) // http://127.0.0.1:<api port>/console/
 */
export async function mountConsole(app: FastifyInstance, cluster: ConsoleCluster): Promise<void> {
  let history: ClusterHistory | undefined
  // The page log exists once the engine has started; open it on first use and keep it (a WAL reader).
  const readHistory = (): ClusterHistory => {
    history ??= new LocalClusterClient(cluster.dataDir).history()
    history.refresh()
    return history
  }
  app.addHook('onClose', async () => history?.close())
  app.get(CONSOLE_PATH.slice(0, -1), (_request, reply) => reply.redirect(CONSOLE_PATH))

  await app.register(
    async (scope) => {
      scope.setErrorHandler((error, _request, reply) => sendError(reply, error))
      scope.setNotFoundHandler((request, reply) =>
        sendError(reply, new BacktrackError('InvalidAction', `The console has no ${request.method} ${request.url}.`)),
      )
      scope.addHook('onRequest', async (request, reply) => {
        if (!isLocalHost(request)) {
          return sendError(
            reply.code(403),
            new BacktrackError(
              'AccessDenied',
              `The console answers on 127.0.0.1 or localhost, not ${request.headers.host}.`,
            ),
          )
        }
      })

      const asset = (name: string) => async (_request: FastifyRequest, reply: FastifyReply) => {
        let body: Buffer
        try {
          body = await readFile(new URL(name, ASSETS))
        } catch (error) {
          throw new BacktrackError(
            'ServiceUnavailable',
            `The console's page is not built (${new URL(name, ASSETS).pathname} is missing): run \`pnpm build\`.`,
            { cause: error },
          )
        }
        return reply.header('content-type', ASSET_TYPES[name]!).header('cache-control', 'no-cache').send(body)
      }
      scope.get('/', { prefixTrailingSlash: 'slash' }, asset('index.html'))
      scope.get('/console.js', asset('console.js'))
      scope.get('/console.css', asset('console.css'))

      scope.get('/api/cluster', async (): Promise<ConsoleClusterView> => {
        const status = await cluster.status()
        const now = Date.now()
        const earliest =
          status.earliestBacktrackTime === undefined ? undefined : Date.parse(status.earliestBacktrackTime)
        const { sql } = status
        const database = sql.database ?? 'mylab'
        const port = sql.port === 3306 ? '' : ` -P${sql.port}`
        return {
          clusterIdentifier: status.clusterIdentifier,
          status: status.status,
          serverVersion: status.serverVersion,
          source: status.source,
          window: {
            targetSeconds: status.backtrackWindow,
            // How far back a backtrack can go now: the target once the cluster is older than it.
            actualSeconds:
              earliest === undefined ? 0 : Math.min(status.backtrackWindow, Math.max(0, (now - earliest) / 1000)),
            earliestBacktrackTime: status.earliestBacktrackTime ?? null,
          },
          changeRecords: status.changeRecords,
          captureLagMillis: status.captureLagMillis,
          connections: status.connections,
          rdsEndpoint: status.rdsEndpoint,
          region: status.region,
          dataDir: status.dataDir,
          endpoints: [
            {
              role: 'writer',
              host: sql.host,
              port: sql.port,
              user: sql.user,
              database,
              connect: `mysql -h${sql.host}${port} -u${sql.user} -p ${database}`,
            },
          ],
          commands: {
            describe: `aws rds describe-db-clusters --db-cluster-identifier ${status.clusterIdentifier} --endpoint-url ${status.rdsEndpoint}`,
            status: `backtrack status --data-dir ${shellWord(status.dataDir)}`,
          },
        }
      })

      scope.get('/api/timeline', async (): Promise<ConsoleTimeline> => {
        const timeline = readHistory().timeline()
        return { ...timeline, events: timeline.events.map((event) => ({ ...event, label: ddlLabel(event.sql) })) }
      })

      scope.get('/api/preview', async (request): Promise<ConsolePreview> => {
        const { to } = request.query as { to?: string }
        if (to === undefined || to === '') {
          throw new BacktrackError('MissingParameter', 'preview needs ?to=<time> (ISO-8601, a marker name or -90s).')
        }
        const history = readHistory()
        const at = await history.resolve(to, { now: () => cluster.node.now() })
        const preview = history.preview(at, { limit: 3, nowMicros: (await cluster.node.now()).getTime() * 1000 })
        return { ...preview, lines: previewLines(preview), commands: backtrackCommands(cluster, preview.to) }
      })

      scope.post('/api/backtrack', async (request) => {
        if (request.headers[CONSOLE_HEADER] === undefined) {
          throw new BacktrackError(
            'AccessDenied',
            `A console backtrack needs the ${CONSOLE_HEADER} header (the page sends it; other web pages cannot).`,
          )
        }
        const { to } = request.query as { to?: string }
        if (to === undefined || to === '') {
          throw new BacktrackError('MissingParameter', 'backtrack needs ?to=<ISO-8601 time>.')
        }
        const record = await cluster.node.backtrack({ backtrackTo: parseRdsTime(to, 'to') })
        return recordJson(record)
      })
    },
    { prefix: CONSOLE_PATH.slice(0, -1) },
  )
}
