import { BacktrackError } from '@backtrack/core'

function invalid(path: string, value: unknown, expected: string): BacktrackError {
  const shown = typeof value === 'string' ? value : JSON.stringify(value)
  return new BacktrackError(
    'InvalidParameterValue',
    `The value ${String(shown).slice(0, 100)} for parameter ${path} is invalid: expected ${expected}.`,
  )
}

function missing(path: string): BacktrackError {
  return new BacktrackError('MissingParameter', `The parameter ${path} is required.`)
}

/**
 * The members of one request structure, whichever protocol it came in: the Query protocol's strings
 * (`Period=60`), JSON's numbers and strings, CBOR's numbers and tagged times. Every reader names the member (its
 * full path) in its error, and rejects before anything runs.
 */
export class DocumentInput {
  readonly #value: Record<string, unknown>
  readonly #path: string

  constructor(value: unknown, path = '') {
    this.#value =
      typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
    this.#path = path
  }

  #name(member: string): string {
    return this.#path === '' ? member : `${this.#path}.${member}`
  }

  #raw(member: string): unknown {
    const value = Object.hasOwn(this.#value, member) ? this.#value[member] : undefined
    return value === null ? undefined : value
  }

  string(member: string, options: { required: true; max?: number }): string
  string(member: string, options?: { required?: false; max?: number }): string | undefined
  string(member: string, options: { required?: boolean; max?: number } = {}): string | undefined {
    const value = this.#raw(member)
    if (value === undefined || value === '') {
      if (options.required) throw missing(this.#name(member))
      return undefined
    }
    if (typeof value !== 'string') throw invalid(this.#name(member), value, 'a string')
    if (options.max !== undefined && value.length > options.max) {
      throw invalid(this.#name(member), value, `at most ${options.max} characters`)
    }
    return value
  }

  integer(member: string, options: { required: true; min?: number; max?: number }): number
  integer(member: string, options?: { required?: false; min?: number; max?: number }): number | undefined
  integer(member: string, options: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    const value = this.#raw(member)
    if (value === undefined || value === '') {
      if (options.required) throw missing(this.#name(member))
      return undefined
    }
    const number = typeof value === 'string' && /^[+-]?\d{1,15}$/.test(value.trim()) ? Number(value) : value
    if (typeof number !== 'number' || !Number.isInteger(number)) {
      throw invalid(this.#name(member), value, 'an integer')
    }
    if ((options.min !== undefined && number < options.min) || (options.max !== undefined && number > options.max)) {
      throw invalid(this.#name(member), value, `an integer from ${options.min ?? '-∞'} to ${options.max ?? '∞'}`)
    }
    return number
  }

  boolean(member: string): boolean | undefined {
    const value = this.#raw(member)
    if (value === undefined || value === '') return undefined
    if (typeof value === 'boolean') return value
    if (value === 'true' || value === 'false') return value === 'true'
    throw invalid(this.#name(member), value, 'true or false')
  }

  time(member: string, options: { required: true }): Date
  time(member: string, options?: { required?: false }): Date | undefined
  time(member: string, options: { required?: boolean } = {}): Date | undefined {
    const value = this.#raw(member)
    if (value === undefined || value === '') {
      if (options.required) throw missing(this.#name(member))
      return undefined
    }
    let date: Date | undefined
    if (value instanceof Date) date = value
    // JSON sends epoch seconds; the Query protocol ISO 8601 (or epoch seconds as text).
    else if (typeof value === 'number') date = new Date(value * 1000)
    else if (typeof value === 'string') {
      date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value)
    }
    if (date === undefined || Number.isNaN(date.getTime()) || Math.abs(date.getTime()) > 8.64e15) {
      throw invalid(this.#name(member), value, 'a time (ISO 8601, e.g. 2026-11-24T00:10:00Z, or epoch seconds)')
    }
    return date
  }

  /** A nested structure (an empty one when absent). */
  struct(member: string): DocumentInput | undefined {
    const value = this.#raw(member)
    if (value === undefined) return undefined
    if (typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
      throw invalid(this.#name(member), value, 'a structure')
    }
    return new DocumentInput(value, this.#name(member))
  }

  /** A list of structures. */
  structs(member: string, max = Infinity): DocumentInput[] {
    return this.#list(member, max).map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw invalid(`${this.#name(member)}.member.${i + 1}`, item, 'a structure')
      }
      return new DocumentInput(item, `${this.#name(member)}.member.${i + 1}`)
    })
  }

  /** A list of strings. */
  strings(member: string, max = Infinity): string[] {
    return this.#list(member, max).map((item, i) => {
      if (typeof item !== 'string') throw invalid(`${this.#name(member)}.member.${i + 1}`, item, 'a string')
      return item
    })
  }

  #list(member: string, max: number): unknown[] {
    const value = this.#raw(member)
    if (value === undefined || value === '') return []
    if (!Array.isArray(value)) throw invalid(this.#name(member), value, 'a list')
    if (value.length > max) throw invalid(this.#name(member), `${value.length} items`, `at most ${max} items`)
    return value
  }
}

/**
 * Turns Query-protocol parameters into the nested document JSON would send: `A.B=1` → `{ A: { B: '1' } }`, and a
 * list's `A.member.N` → `{ A: [...] }` in index order (gaps closed, as AWS does).
 */
export function queryToDocument(params: Iterable<[string, string]>): Record<string, unknown> {
  const root: Record<string, unknown> = {}
  const lists = new Set<Record<string, unknown>>()
  for (const [name, value] of params) {
    const parts = name.split('.')
    let node = root
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      const last = i === parts.length - 1
      if (part === '__proto__' || part === 'constructor' || part === 'prototype') break
      if (part === 'member' && i > 0 && /^\d+$/.test(parts[i + 1] ?? '')) {
        // node is the list holder: keep items by index until the end.
        lists.add(node)
        const index = parts[++i]!
        const isLeaf = i === parts.length - 1
        if (isLeaf) {
          if (!Object.hasOwn(node, `#${index}`)) node[`#${index}`] = value
        } else {
          const existing = node[`#${index}`]
          const child = typeof existing === 'object' && existing !== null ? (existing as Record<string, unknown>) : {}
          node[`#${index}`] = child
          node = child
        }
        continue
      }
      if (last) {
        if (!Object.hasOwn(node, part)) node[part] = value
      } else {
        const existing = node[part]
        const child = typeof existing === 'object' && existing !== null ? (existing as Record<string, unknown>) : {}
        node[part] = child
        node = child
      }
    }
  }
  return convertLists(root, lists) as Record<string, unknown>
}

function convertLists(value: unknown, lists: Set<Record<string, unknown>>): unknown {
  if (typeof value !== 'object' || value === null) return value
  const object = value as Record<string, unknown>
  if (lists.has(object)) {
    return Object.keys(object)
      .filter((key) => key.startsWith('#'))
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
      .map((key) => convertLists(object[key], lists))
  }
  const out: Record<string, unknown> = {}
  for (const [key, child] of Object.entries(object)) out[key] = convertLists(child, lists)
  return out
}
