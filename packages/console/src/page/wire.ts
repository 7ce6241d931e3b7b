// The JSON the console's routes answer (packages/console/src/mount-console.ts), as the page reads it.

export interface ClusterView {
  clusterIdentifier: string
  status: string
  serverVersion: string
  source: string
  window: { targetSeconds: number; actualSeconds: number; earliestBacktrackTime: string | null }
  changeRecords: number
  captureLagMillis: number
  connections: { open: number }
  rdsEndpoint: string
  region: string
  dataDir: string
  endpoints: {
    role: string
    host: string
    port: number
    user: string
    database: string
    connect: string
  }[]
  commands: { describe: string; status: string }
}

interface TimelineEvent {
  lsn: number
  kind: 'ddl' | 'backtrack'
  micros: number
  time: string
  sql: string | null
  undone: boolean
  safeTo: string | null
  label: string
}

interface BacktrackArc {
  id: string
  status: string
  fromMicros: number
  toMicros: number
  requestedMicros: number
}

export interface Timeline {
  nowMicros: number
  earliestMicros: number
  windowSeconds: number
  changeRecords: number
  intervalMicros: number
  rate: [number, number][]
  events: TimelineEvent[]
  marks: { name: string; micros: number }[]
  /** Oldest first. */
  backtracks: BacktrackArc[]
}

export interface Preview {
  to: string
  from: string
  lines: string[]
  commands: { backtrack: string; aws: string }
}

export interface BacktrackRecord {
  BacktrackIdentifier: string
  BacktrackTo: string
  Status: string
}

/** GET or POST a console route; a route's `{"error": {...}}` becomes an Error with its message. */
export async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, init)
  const body = (await response.json().catch(() => ({}))) as T & { error?: { message: string } }
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status} from ${path}`)
  return body
}

/** Milliseconds → `HH:MM:SS.mmm` (UTC, like the cluster's clock). */
export function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23)
}

/** Milliseconds → ISO-8601 as RDS prints it (`…:05Z`, or `…:05.120Z`). */
export function rdsTime(ms: number): string {
  const iso = new Date(ms).toISOString()
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso
}

/** Seconds → `24 h`, `3 min 5 s`, `12 s`. */
export function duration(seconds: number): string {
  const s = Math.round(seconds)
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${s} s`
}
