/** Options for `normalizeSnapshot`. */
export interface NormalizeOptions {
  /** Literal identifiers (cluster names...) to mask wherever they appear in free text such as error messages. */
  identifiers?: readonly string[]
}

/** Values that differ between any two runs: masked by the key that holds them. */
const MASKED_KEYS: Readonly<Record<string, string>> = {
  DBClusterIdentifier: '<cluster-id>',
  BacktrackIdentifier: '<backtrack-id>',
  DBClusterArn: '<arn>',
  Endpoint: '<hostname>',
  ReaderEndpoint: '<hostname>',
  Marker: '<marker>',
  RequestId: '<request-id>',
  DbClusterResourceId: '<resource-id>',
}

/** Enumerations and codes: their values are the behaviour under comparison, so they are kept. */
const VERBATIM_KEYS = new Set(['Status', 'Engine', 'EngineMode', 'code', 'Code', 'Type', 'Key'])

/** Free text: kept, with identifiers, ARNs, UUIDs and times masked. */
const TEXT_KEYS = new Set(['message', 'Message'])

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/
// Dots only inside, so a sentence-ending period stays.
const ARN_IN_TEXT = /arn:aws[a-z-]*:[\w:/+=@!*-]+(?:\.[\w:/+=@!*-]+)*/g
const UUID_IN_TEXT = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi
const TIME_IN_TEXT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?/g

function maskText(text: string, identifiers: readonly string[]): string {
  let masked = text.replace(ARN_IN_TEXT, '<arn>').replace(UUID_IN_TEXT, '<uuid>').replace(TIME_IN_TEXT, '<timestamp>')
  // Longest first, so `lab-cluster-2` is not half-masked by `lab-cluster`.
  for (const id of [...identifiers].sort((a, b) => b.length - a.length)) {
    if (id !== '') masked = masked.split(id).join('<cluster-id>')
  }
  return masked
}

function normalizeValue(value: unknown, key: string | undefined, identifiers: readonly string[]): unknown {
  if (value === null) return null
  if (value instanceof Date) return '<timestamp>'
  if (Array.isArray(value)) {
    // Lists vary in length with history; what is compared is the set of element shapes.
    const seen = new Map<string, unknown>()
    for (const item of value) {
      const normalized = normalizeValue(item, key, identifiers)
      seen.set(JSON.stringify(normalized), normalized)
    }
    return [...seen.values()]
  }
  if (typeof value === 'object') return normalizeObject(value as Record<string, unknown>, identifiers)
  if (key !== undefined && MASKED_KEYS[key] !== undefined) return MASKED_KEYS[key]
  if (typeof value === 'string') {
    if (ISO_TIME.test(value)) return '<timestamp>'
    if (key !== undefined && VERBATIM_KEYS.has(key)) return value
    if (key !== undefined && TEXT_KEYS.has(key)) return maskText(value, identifiers)
    return '<string>'
  }
  if (typeof value === 'number' || typeof value === 'bigint') return '<number>'
  if (typeof value === 'boolean') return '<boolean>'
  return `<${typeof value}>`
}

function normalizeObject(value: Record<string, unknown>, identifiers: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) {
    // `$metadata` is the SDK's, not the service's.
    if (key === '$metadata' || value[key] === undefined) continue
    out[key] = normalizeValue(value[key], key, identifiers)
  }
  return out
}

/**
 * Turns a response (an SDK output, a `DBCluster`, a `DBClusterBacktrack`, an error's `{ code, message }`) into a
 * stable snapshot: keys sorted, ids, ARNs, host names and times masked, numbers and booleans reduced to their
 * type, enumerations (`Status`, `Engine`, codes) kept verbatim, lists reduced to their distinct element shapes.
 * Two runs against the same service give the same snapshot; a change of shape, key set or casing shows.
 */
export function normalizeSnapshot(value: unknown, options: NormalizeOptions = {}): unknown {
  return normalizeValue(value, undefined, options.identifiers ?? [])
}

function show(value: unknown): string {
  return JSON.stringify(value)
}

/** Lists where two snapshots differ, one line per difference, with a JSON-path-like location. */
export function diffSnapshots(expected: unknown, actual: unknown, path = '$'): string[] {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length === 1 && actual.length === 1) return diffSnapshots(expected[0], actual[0], `${path}[]`)
    const actualShapes = new Set(actual.map(show))
    const expectedShapes = new Set(expected.map(show))
    return [
      ...expected.filter((item) => !actualShapes.has(show(item))).map((item) => `${path}[]: missing ${show(item)}`),
      ...actual.filter((item) => !expectedShapes.has(show(item))).map((item) => `${path}[]: unexpected ${show(item)}`),
    ]
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
  if (isObject(expected) && isObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort()
    return keys.flatMap((key) => {
      const at = `${path}.${key}`
      if (!(key in actual)) return [`${at}: missing in response (expected ${show(expected[key])})`]
      if (!(key in expected)) return [`${at}: not in snapshot (got ${show(actual[key])})`]
      return diffSnapshots(expected[key], actual[key], at)
    })
  }
  return show(expected) === show(actual) ? [] : [`${path}: expected ${show(expected)}, got ${show(actual)}`]
}
