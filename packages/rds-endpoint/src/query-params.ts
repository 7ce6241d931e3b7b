import { BacktrackError, parseRdsTime } from '@backtrack/core'

/** One `Filters.Filter.N` of a Query request. */
export interface QueryFilter {
  name: string
  values: string[]
}

/**
 * The parameters of one AWS Query request (`Action`, `Version` and the operation's members), with readers that
 * answer malformed values the way RDS does: `MissingParameter` or `InvalidParameterValue`, before anything runs.
 */
export class QueryParams {
  readonly #values: ReadonlyMap<string, string>

  constructor(values: ReadonlyMap<string, string>) {
    this.#values = values
  }

  /** Parses a form body (`a=1&b=2`); the first occurrence of a repeated name wins, as in AWS. */
  static fromForm(...forms: string[]): QueryParams {
    const values = new Map<string, string>()
    for (const form of forms) {
      const bad = /%(?![0-9A-Fa-f]{2})/.exec(form)
      if (bad !== null) {
        throw new BacktrackError(
          'MalformedQueryString',
          `The query string contains a syntax error: "${form.slice(bad.index, bad.index + 3)}" is not a percent-encoded byte.`,
        )
      }
      for (const [name, value] of new URLSearchParams(form)) if (!values.has(name)) values.set(name, value)
    }
    return new QueryParams(values)
  }

  has(name: string): boolean {
    return this.#values.has(name)
  }

  optionalString(name: string): string | undefined {
    return this.#values.get(name)
  }

  requiredString(name: string): string {
    const value = this.#values.get(name)
    if (value === undefined || value === '') {
      throw new BacktrackError('MissingParameter', `The request must contain the parameter ${name}`)
    }
    return value
  }

  optionalBoolean(name: string): boolean | undefined {
    const value = this.#values.get(name)
    if (value === undefined) return undefined
    const lower = value.toLowerCase()
    if (lower === 'true') return true
    if (lower === 'false') return false
    throw invalidValue(name, value, 'expected true or false')
  }

  optionalInteger(name: string): number | undefined {
    const value = this.#values.get(name)
    if (value === undefined) return undefined
    if (!/^[+-]?\d{1,15}$/.test(value.trim())) throw invalidValue(name, value, 'expected an integer')
    return Number.parseInt(value, 10)
  }

  optionalTime(name: string): Date | undefined {
    const value = this.#values.get(name)
    return value === undefined ? undefined : parseRdsTime(value, name)
  }

  requiredTime(name: string): Date {
    return parseRdsTime(this.requiredString(name), name)
  }

  /** `Prefix.Member.1`, `Prefix.Member.2`, … in index order (1-based, as the Query protocol numbers lists). */
  list(prefix: string, memberName: string): string[] {
    const pattern = new RegExp(`^${escapeRegExp(prefix)}\\.${escapeRegExp(memberName)}\\.(\\d+)$`)
    const items: [number, string][] = []
    for (const [name, value] of this.#values) {
      const match = pattern.exec(name)
      if (match?.[1] !== undefined) items.push([Number(match[1]), value])
    }
    return items.sort((a, b) => a[0] - b[0]).map(([, value]) => value)
  }

  /** Every parameter name, in the order received (the fuzz test and unknown-member checks read them). */
  names(): string[] {
    return [...this.#values.keys()]
  }

  /** `Prefix.Member.N.Field` for each of `fields`, in index order: `Tags.Tag.1.Key`, `Tags.Tag.1.Value`, … */
  structs<F extends string>(prefix: string, memberName: string, fields: readonly F[]): Record<F, string | undefined>[] {
    const pattern = new RegExp(`^${escapeRegExp(prefix)}\\.${escapeRegExp(memberName)}\\.(\\d+)\\.`)
    const indexes = new Set<number>()
    for (const name of this.#values.keys()) {
      const match = pattern.exec(name)
      if (match?.[1] !== undefined) indexes.add(Number(match[1]))
    }
    return [...indexes]
      .sort((a, b) => a - b)
      .map((index) => {
        const item = {} as Record<F, string | undefined>
        for (const field of fields) item[field] = this.#values.get(`${prefix}.${memberName}.${index}.${field}`)
        return item
      })
  }

  /** `Filters.Filter.N.Name` with `Filters.Filter.N.Values.Value.M`; a filter without a name is `MissingParameter`. */
  filters(): QueryFilter[] {
    const indexes = new Set<number>()
    for (const name of this.#values.keys()) {
      const match = /^Filters\.Filter\.(\d+)\./.exec(name)
      if (match?.[1] !== undefined) indexes.add(Number(match[1]))
    }
    return [...indexes]
      .sort((a, b) => a - b)
      .map((index) => ({
        name: this.requiredString(`Filters.Filter.${index}.Name`),
        values: this.list(`Filters.Filter.${index}.Values`, 'Value'),
      }))
  }
}

export function invalidValue(name: string, value: string, expected: string): BacktrackError {
  return new BacktrackError('InvalidParameterValue', `Invalid value "${value}" for ${name}: ${expected}.`)
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
