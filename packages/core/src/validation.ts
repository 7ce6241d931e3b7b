import { BacktrackError } from './errors.js'
import {
  BACKTRACK_FILTER_NAMES,
  BACKTRACK_STATUSES,
  MAX_BACKTRACK_WINDOW_SECONDS,
  type BacktrackFilter,
  type BacktrackPage,
  type DBClusterBacktrack,
  type DescribeBacktracksInput,
} from './types.js'

const CLUSTER_ID = /^[a-z](?!.*--)[a-z0-9-]{0,62}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Lower-cases a cluster identifier and checks RDS's rules for it (1-63 letters, digits, hyphens). */
export function normalizeClusterIdentifier(id: string): string {
  const lower = id.toLowerCase()
  if (!CLUSTER_ID.test(lower) || lower.endsWith('-')) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `The parameter DBClusterIdentifier is not a valid identifier: "${id}". Identifiers must begin with a letter; ` +
        'must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.',
    )
  }
  return lower
}

/** Checks a backtrack window in seconds: a whole number from 0 to 259200. */
export function validateBacktrackWindow(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_BACKTRACK_WINDOW_SECONDS) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `The specified value (${seconds}) is not a valid Backtrack Window. Allowed values are within the range of 0 to ${MAX_BACKTRACK_WINDOW_SECONDS}`,
    )
  }
  return seconds
}

/** Checks that a backtrack identifier is a UUID, as RDS requires. */
export function validateBacktrackIdentifier(id: string): string {
  if (!UUID.test(id)) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `The parameter BacktrackIdentifier is not a valid UUID: "${id}". Use the BacktrackIdentifier returned by BacktrackDBCluster.`,
    )
  }
  return id.toLowerCase()
}

/** Checks `MaxRecords` (20..100) and returns the page size to use. */
export function validateMaxRecords(maxRecords: number | undefined): number {
  if (maxRecords === undefined) return 100
  if (!Number.isInteger(maxRecords) || maxRecords < 20 || maxRecords > 100) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `Invalid value ${maxRecords} for MaxRecords. Must be between 20 and 100`,
    )
  }
  return maxRecords
}

/**
 * Checks a request's filters against the names an action supports (the RDS `Filters.Filter.N` rules): each name
 * known, each with at least one value.
 */
export function validateFilters(
  filters: readonly { name: string; values: readonly string[] }[],
  supported: readonly string[],
): void {
  for (const filter of filters) {
    if (!supported.includes(filter.name)) {
      throw new BacktrackError(
        'InvalidParameterValue',
        `Unrecognized filter name: ${filter.name}. Supported filters: ${supported.join(', ')}.`,
      )
    }
    if (filter.values.length === 0) {
      throw new BacktrackError('InvalidParameterValue', `Filter ${filter.name} needs at least one value.`)
    }
  }
}

function validateStatusFilter(filter: BacktrackFilter): void {
  if (filter.name !== 'db-cluster-backtrack-status') return
  for (const value of filter.values) {
    if (!(BACKTRACK_STATUSES as readonly string[]).includes(value.toLowerCase())) {
      throw new BacktrackError(
        'InvalidParameterValue',
        `Unrecognized backtrack status: ${value}. Valid values: ${BACKTRACK_STATUSES.join(', ')}.`,
      )
    }
  }
}

/**
 * One page of `items` for `MaxRecords`/`Marker` (the page size already checked): the marker is opaque to callers,
 * the offset of the next page in base64url, and a marker that is not one of ours is `InvalidParameterValue`.
 */
export function pageItems<T>(
  items: readonly T[],
  pageSize: number,
  marker: string | undefined,
): { page: T[]; marker?: string } {
  let start = 0
  if (marker !== undefined) {
    const decoded = Buffer.from(marker, 'base64url').toString('utf8')
    start = /^\d{1,9}$/.test(decoded) ? Number(decoded) : -1
    if (start < 0 || start > items.length) {
      throw new BacktrackError(
        'InvalidParameterValue',
        `The marker "${marker}" is not valid. Use the Marker of the previous page.`,
      )
    }
  }
  const next = start + pageSize
  const page = items.slice(start, next)
  return next < items.length ? { page, marker: Buffer.from(String(next), 'utf8').toString('base64url') } : { page }
}

/**
 * Applies `DescribeDBClusterBacktracks` semantics to a list of records (newest first): id, filters (status
 * matched in any case), and `MaxRecords`/`Marker` pagination. Engines that keep records themselves use this.
 */
export function pageBacktracks(all: readonly DBClusterBacktrack[], input: DescribeBacktracksInput = {}): BacktrackPage {
  const pageSize = validateMaxRecords(input.maxRecords)
  validateFilters(input.filters ?? [], BACKTRACK_FILTER_NAMES)
  for (const filter of input.filters ?? []) validateStatusFilter(filter)
  const wantedId =
    input.backtrackIdentifier === undefined ? undefined : validateBacktrackIdentifier(input.backtrackIdentifier)
  let records = all.filter((record) => wantedId === undefined || record.BacktrackIdentifier === wantedId)
  for (const filter of input.filters ?? []) {
    const values = new Set(filter.values.map((value) => value.toLowerCase()))
    records = records.filter((record) =>
      values.has(
        filter.name === 'db-cluster-backtrack-id'
          ? record.BacktrackIdentifier.toLowerCase()
          : record.Status.toLowerCase(),
      ),
    )
  }
  const { page, marker } = pageItems(records, pageSize, input.marker)
  return marker === undefined ? { backtracks: page } : { backtracks: page, marker }
}
