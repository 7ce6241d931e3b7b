import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { BacktrackError } from '@backtrack/core'
import { diffSnapshots, normalizeSnapshot } from './normalize-snapshot.js'

/** `packages/aws-adapter/snapshots/`, from `src/parity/` and from `dist/parity/` alike. */
export const SNAPSHOT_DIR = fileURLToPath(new URL('../../snapshots/', import.meta.url))

/** One snapshot file. */
export interface SnapshotFile {
  name: string
  /** Where the snapshot came from: a recording run against real Aurora, or the quoted real output it was seeded from. */
  source: string
  recordedAt?: string
  /** Identifiers masked in free text when `original` is normalised. */
  identifiers?: string[]
  /** For hand-seeded snapshots: the real output as quoted, so the normaliser can be checked against it. */
  original?: unknown
  snapshot: unknown
}

export interface CompareOptions {
  /** Where snapshot files live (default `SNAPSHOT_DIR`). */
  dir?: string
  /** Identifiers to mask in messages (cluster names of this run). */
  identifiers?: string[]
  /** Write the snapshot instead of comparing (default: `BACKTRACK_RECORD=1`). Only record against real Aurora. */
  record?: boolean
  /** Where a recorded snapshot comes from, kept in the file. */
  source?: string
}

export interface SnapshotComparison {
  name: string
  file: string
  recorded: boolean
  matches: boolean
  differences: string[]
}

const NAME = /^[a-z0-9][a-z0-9.-]*$/

function snapshotPath(name: string, dir: string): string {
  if (!NAME.test(name)) {
    throw new BacktrackError('InvalidParameterValue', `Snapshot name "${name}" must be lower-case kebab/dot words.`)
  }
  return join(dir, `${name}.json`)
}

export async function readSnapshot(name: string, dir = SNAPSHOT_DIR): Promise<SnapshotFile | undefined> {
  try {
    return JSON.parse(await readFile(snapshotPath(name, dir), 'utf8')) as SnapshotFile
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw error
  }
}

/** The comparable part of an error: a `BacktrackError`'s code, or the AWS SDK's error name, and the message. */
export function errorSnapshot(error: unknown): { code: string; message: string } {
  if (error instanceof BacktrackError) return { code: error.code, message: error.message }
  const like = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; message?: unknown }
  return {
    code: typeof like.name === 'string' ? like.name : 'Error',
    message: typeof like.message === 'string' ? like.message : String(error),
  }
}

/**
 * Checks a response against the snapshot `name` (see `normalizeSnapshot` for what is compared). With
 * `BACKTRACK_RECORD=1` (or `record: true`) it writes the snapshot instead: run that only against real Aurora,
 * so the snapshots stay the reference the simulator is held to.
 */
export async function compareWithSnapshot(
  name: string,
  response: unknown,
  options: CompareOptions = {},
): Promise<SnapshotComparison> {
  const dir = options.dir ?? SNAPSHOT_DIR
  const file = snapshotPath(name, dir)
  const identifiers = options.identifiers ?? []
  const actual = normalizeSnapshot(response, { identifiers })
  if (options.record ?? process.env['BACKTRACK_RECORD'] === '1') {
    const recordedAt = new Date().toISOString()
    const content: SnapshotFile = {
      name,
      source: options.source ?? `Recorded from real Aurora with BACKTRACK_RECORD=1 on ${recordedAt}.`,
      recordedAt,
      snapshot: actual,
    }
    await mkdir(dir, { recursive: true })
    await writeFile(file, `${JSON.stringify(content, null, 2)}\n`)
    return { name, file, recorded: true, matches: true, differences: [] }
  }
  const expected = await readSnapshot(name, dir)
  if (expected === undefined) {
    return {
      name,
      file,
      recorded: false,
      matches: false,
      differences: [`no snapshot ${file}: record one against real Aurora with BACKTRACK_LIVE=1 BACKTRACK_RECORD=1`],
    }
  }
  const differences = diffSnapshots(expected.snapshot, actual)
  return { name, file, recorded: false, matches: differences.length === 0, differences }
}
