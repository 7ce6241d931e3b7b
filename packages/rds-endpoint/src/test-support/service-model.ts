import { existsSync, readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { parseXml, type XmlNode } from './xml-tree.js'

// Test support: AWS's own service models (botocore's `service-2.json`, as Debian's python3-botocore and awscli ship
// them) and a check of any response the endpoint sends against them, member by member.

interface ShapeRef {
  shape: string
  locationName?: string
}

interface Shape {
  type: string
  members?: Record<string, ShapeRef>
  required?: string[]
  member?: ShapeRef
  key?: ShapeRef
  value?: ShapeRef
  enum?: string[]
  flattened?: boolean
  error?: { code?: string; httpStatusCode?: number; senderFault?: boolean }
  exception?: boolean
}

interface Operation {
  name: string
  input?: ShapeRef
  output?: ShapeRef & { resultWrapper?: string }
  errors?: ShapeRef[]
}

export interface BotocoreModel {
  metadata: { apiVersion: string; protocol: string; xmlNamespace?: string; targetPrefix?: string; uid?: string }
  operations: Record<string, Operation>
  shapes: Record<string, Shape>
}

/** Where Debian puts botocore's data: python3-botocore first, then the copy inside awscli (the CLI v2). */
const BOTOCORE_DATA_DIRS = [
  '/usr/lib/python3/dist-packages/botocore/data',
  '/usr/lib/python3/dist-packages/awscli/botocore/data',
]

/** The model of `service` (`rds`, `cloudwatch`) at `version`, with where it came from; undefined when none is installed. */
export function loadServiceModel(
  service: string,
  version: string,
  dirs: readonly string[] = BOTOCORE_DATA_DIRS,
): { model: BotocoreModel; path: string } | undefined {
  for (const dir of dirs) {
    for (const file of ['service-2.json', 'service-2.json.gz']) {
      const path = `${dir}/${service}/${version}/${file}`
      if (!existsSync(path)) continue
      const raw = readFileSync(path)
      const text = file.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8')
      return { model: JSON.parse(text) as BotocoreModel, path }
    }
  }
  return undefined
}

/**
 * The errors every AWS Query API may answer, with their HTTP statuses, from the APIs' "Common Errors" page, plus those
 * AWS is seen to send although that page does not list them (SigV4 failures, throttling, a too-large body).
 */
const COMMON_ERRORS: Readonly<Record<string, number>> = {
  AccessDeniedException: 400,
  IncompleteSignature: 400,
  InternalFailure: 500,
  InvalidAction: 400,
  InvalidClientTokenId: 403,
  InvalidParameterCombination: 400,
  InvalidParameterValue: 400,
  InvalidQueryParameter: 400,
  MalformedQueryString: 404,
  MissingAction: 400,
  MissingAuthenticationToken: 403,
  MissingParameter: 400,
  NotAuthorized: 400,
  OptInRequired: 403,
  RequestExpired: 400,
  ServiceUnavailable: 503,
  ThrottlingException: 400,
  ValidationError: 400,
  // Seen from AWS, not on the common list.
  SignatureDoesNotMatch: 403,
  Throttling: 400,
  AccessDenied: 403,
  RequestEntityTooLarge: 413,
  // What AWS's JSON (and CBOR) protocols answer a body they cannot read.
  SerializationException: 400,
}

/** What was checked, for "covers every action". */
export interface CheckedResponse {
  operation: string
  status: number
  /** The error code, for an error response. */
  error?: string
  problems: string[]
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/

/** Checks responses against one service model; `problems` name the path and what is wrong. */
export class ModelChecker {
  readonly model: BotocoreModel
  readonly checked: CheckedResponse[] = []

  constructor(model: BotocoreModel) {
    this.model = model
  }

  /** The operation's error shapes by wire code (the shape's `error.code`, else its name). */
  errorCodes(operation: string): Map<string, { shape: string; status: number }> {
    const codes = new Map<string, { shape: string; status: number }>()
    for (const ref of this.model.operations[operation]?.errors ?? []) {
      const shape = this.model.shapes[ref.shape]
      codes.set(shape?.error?.code ?? ref.shape, { shape: ref.shape, status: shape?.error?.httpStatusCode ?? 400 })
    }
    return codes
  }

  #errorProblems(operation: string, code: string, status: number): string[] {
    const own = this.errorCodes(operation).get(code)
    const expected = own?.status ?? COMMON_ERRORS[code]
    if (expected === undefined) {
      return [`${operation}: error code ${code} is neither one of the operation's errors nor a common error`]
    }
    return status === expected
      ? []
      : [`${operation}: error ${code} sent with HTTP ${status}, the model says ${expected}`]
  }

  /** Checks an AWS Query (XML) response to `operation`. */
  checkQueryResponse(operation: string, status: number, body: string): CheckedResponse {
    const problems: string[] = []
    const record = (result: Omit<CheckedResponse, 'operation' | 'status'>) => {
      const checked = { operation, status, ...result }
      this.checked.push(checked)
      return checked
    }
    const op = this.model.operations[operation]
    let root: XmlNode
    try {
      root = parseXml(body)
    } catch (error) {
      return record({ problems: [`${operation}: ${(error as Error).message}`] })
    }
    const namespace = this.model.metadata.xmlNamespace
    if (status >= 300) {
      if (root.name !== 'ErrorResponse') problems.push(`${operation}: an error response's root is <${root.name}>`)
      const error = root.children.find((child) => child.name === 'Error')
      const field = (name: string) => error?.children.find((child) => child.name === name)?.text
      const code = field('Code') ?? ''
      if (error === undefined || code === '') problems.push(`${operation}: an error response without <Error><Code>`)
      if (!['Sender', 'Receiver'].includes(field('Type') ?? ''))
        problems.push(`${operation}: <Type> is not Sender/Receiver`)
      if (field('Message') === undefined) problems.push(`${operation}: an error without <Message>`)
      if (!root.children.some((child) => child.name === 'RequestId')) problems.push(`${operation}: no <RequestId>`)
      problems.push(...this.#errorProblems(operation, code, status))
      return record({ error: code, problems })
    }
    if (op === undefined)
      return record({ problems: [`${operation} is not an operation of ${this.model.metadata.uid}`] })
    if (root.name !== `${operation}Response`) problems.push(`${operation}: root is <${root.name}>`)
    if (namespace !== undefined && root.attributes['xmlns'] !== namespace) {
      problems.push(`${operation}: namespace ${root.attributes['xmlns']}, the model says ${namespace}`)
    }
    const metadata = root.children.find((child) => child.name === 'ResponseMetadata')
    if (metadata?.children.find((child) => child.name === 'RequestId')?.text === undefined) {
      problems.push(`${operation}: no <ResponseMetadata><RequestId>`)
    }
    const others = root.children.filter((child) => child.name !== 'ResponseMetadata')
    if (op.output === undefined) {
      if (others.length > 0) problems.push(`${operation}: has no output, but the response has <${others[0]!.name}>`)
    } else {
      const wrapper = op.output.resultWrapper ?? `${operation}Result`
      const result = others.find((child) => child.name === wrapper)
      if (result === undefined || others.length !== 1) {
        problems.push(
          `${operation}: expected one <${wrapper}>, got ${others.map((child) => `<${child.name}>`).join('')}`,
        )
      } else {
        this.#checkXml(result, op.output.shape, `${operation}.${wrapper}`, problems)
      }
    }
    return record({ problems })
  }

  #checkXml(node: XmlNode, shapeName: string, path: string, problems: string[]): void {
    const shape = this.model.shapes[shapeName]
    if (shape === undefined) return void problems.push(`${path}: the model has no shape ${shapeName}`)
    const leaf = () => {
      if (node.children.length > 0) problems.push(`${path}: a ${shape.type} with child elements`)
      return node.text
    }
    switch (shape.type) {
      case 'structure': {
        if (node.text.trim() !== '') problems.push(`${path}: text inside a structure`)
        const byWireName = new Map(
          Object.entries(shape.members ?? {}).map(([name, ref]) => [ref.locationName ?? name, { name, ref }]),
        )
        const seen = new Set<string>()
        for (const child of node.children) {
          const member = byWireName.get(child.name)
          if (member === undefined) {
            problems.push(`${path}: <${child.name}> is not a member of ${shapeName}`)
            continue
          }
          if (seen.has(child.name)) problems.push(`${path}: <${child.name}> appears twice`)
          seen.add(child.name)
          this.#checkXml(child, member.ref.shape, `${path}.${child.name}`, problems)
        }
        for (const required of shape.required ?? []) {
          const wire = shape.members?.[required]?.locationName ?? required
          if (!seen.has(wire)) problems.push(`${path}: required member ${required} is missing`)
        }
        return
      }
      case 'list': {
        if (node.text.trim() !== '') problems.push(`${path}: text inside a list`)
        const itemName = shape.member?.locationName ?? 'member'
        node.children.forEach((child, index) => {
          if (child.name !== itemName) problems.push(`${path}: list item <${child.name}>, the model says <${itemName}>`)
          else this.#checkXml(child, shape.member!.shape, `${path}[${index}]`, problems)
        })
        return
      }
      case 'map': {
        for (const entry of node.children) {
          if (entry.name !== 'entry') problems.push(`${path}: map item <${entry.name}>, expected <entry>`)
        }
        return
      }
      case 'string': {
        const text = leaf()
        if (shape.enum !== undefined && !shape.enum.includes(text)) {
          problems.push(`${path}: "${text}" is not one of ${shapeName}'s values (${shape.enum.join(', ')})`)
        }
        return
      }
      case 'integer':
      case 'long':
        if (!/^-?\d+$/.test(leaf())) problems.push(`${path}: "${node.text}" is not an integer`)
        return
      case 'double':
      case 'float':
        if (!Number.isFinite(Number(leaf())) || node.text.trim() === '') {
          problems.push(`${path}: "${node.text}" is not a number`)
        }
        return
      case 'boolean':
        if (!['true', 'false'].includes(leaf())) problems.push(`${path}: "${node.text}" is not true/false`)
        return
      case 'timestamp':
        if (!ISO_TIME.test(leaf())) problems.push(`${path}: "${node.text}" is not an ISO 8601 time`)
        return
      case 'blob':
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(leaf())) problems.push(`${path}: not base64`)
        return
      default:
        problems.push(`${path}: unchecked shape type ${shape.type}`)
    }
  }

  /**
   * Checks a JSON 1.0 or Smithy RPC v2 CBOR response (already decoded) to `operation`. Errors carry `__type` and, for
   * services that were Query before (CloudWatch), the `x-amzn-query-error` header with the Query code.
   */
  checkDocumentResponse(
    operation: string,
    status: number,
    headers: Record<string, string | string[] | number | undefined>,
    body: unknown,
    format: 'json' | 'cbor',
  ): CheckedResponse {
    const problems: string[] = []
    const op = this.model.operations[operation]
    if (status >= 300) {
      const type = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['__type'] : undefined
      const shapeName = typeof type === 'string' ? type.slice(type.indexOf('#') + 1) : ''
      const shape = this.model.shapes[shapeName]
      const queryError = String(headers['x-amzn-query-error'] ?? '')
      const [code = '', fault = ''] = queryError.split(';')
      // A common error (InvalidAction, MissingAuthenticationToken, ...) has no shape: its __type is its code.
      if (shape?.exception !== true && shape?.error === undefined && !(shapeName === code && code in COMMON_ERRORS)) {
        problems.push(`${operation}: __type ${String(type)} is not an error shape of the model`)
      }
      if (code === '') problems.push(`${operation}: no x-amzn-query-error header`)
      else if (shape?.error?.code !== undefined && shape.error.code !== code) {
        problems.push(`${operation}: x-amzn-query-error says ${code}, ${shapeName} has code ${shape.error.code}`)
      }
      if (!['Sender', 'Receiver'].includes(fault)) problems.push(`${operation}: x-amzn-query-error fault "${fault}"`)
      const listed = (op?.errors ?? []).some((ref) => ref.shape === shapeName)
      const expected = shape !== undefined ? (shape.error?.httpStatusCode ?? 400) : COMMON_ERRORS[code]
      if (!listed && COMMON_ERRORS[code] === undefined) {
        problems.push(`${operation}: error ${shapeName || code} is neither one of the operation's errors nor common`)
      }
      if (expected !== undefined && expected !== status) {
        problems.push(`${operation}: error ${code} sent with HTTP ${status}, the model says ${expected}`)
      }
      const checked = { operation, status, error: code, problems }
      this.checked.push(checked)
      return checked
    }
    if (op?.output === undefined) {
      problems.push(`${operation}: not an operation with output in ${this.model.metadata.uid}`)
    } else {
      this.#checkDocument(body, op.output.shape, operation, format, problems)
    }
    const checked = { operation, status, problems }
    this.checked.push(checked)
    return checked
  }

  #checkDocument(value: unknown, shapeName: string, path: string, format: 'json' | 'cbor', problems: string[]): void {
    const shape = this.model.shapes[shapeName]
    if (shape === undefined) return void problems.push(`${path}: the model has no shape ${shapeName}`)
    const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value
    switch (shape.type) {
      case 'structure': {
        if (type !== 'object' || value instanceof Date) return void problems.push(`${path}: a ${type}, not an object`)
        const object = value as Record<string, unknown>
        for (const [name, member] of Object.entries(object)) {
          const ref = shape.members?.[name]
          if (ref === undefined) problems.push(`${path}: ${name} is not a member of ${shapeName}`)
          else if (member !== null) this.#checkDocument(member, ref.shape, `${path}.${name}`, format, problems)
        }
        for (const required of shape.required ?? []) {
          if (object[required] === undefined) problems.push(`${path}: required member ${required} is missing`)
        }
        return
      }
      case 'list':
        if (!Array.isArray(value)) return void problems.push(`${path}: a ${type}, not a list`)
        value.forEach((item, i) => this.#checkDocument(item, shape.member!.shape, `${path}[${i}]`, format, problems))
        return
      case 'map':
        if (type !== 'object') problems.push(`${path}: a ${type}, not a map`)
        return
      case 'string':
        if (typeof value !== 'string') return void problems.push(`${path}: a ${type}, not a string`)
        if (shape.enum !== undefined && !shape.enum.includes(value)) {
          problems.push(`${path}: "${value}" is not one of ${shapeName}'s values`)
        }
        return
      case 'integer':
      case 'long':
        if (!Number.isInteger(value) && typeof value !== 'bigint')
          problems.push(`${path}: ${String(value)} is not an integer`)
        return
      case 'double':
      case 'float':
        if (typeof value !== 'number') problems.push(`${path}: a ${type}, not a number`)
        return
      case 'boolean':
        if (typeof value !== 'boolean') problems.push(`${path}: a ${type}, not a boolean`)
        return
      case 'timestamp':
        // JSON 1.0 sends epoch seconds; CBOR a tag-1 epoch time, which the decoder gives back as a Date.
        if (format === 'json' ? typeof value !== 'number' : !(value instanceof Date)) {
          problems.push(
            `${path}: ${String(value)} is not a ${format === 'json' ? 'epoch-seconds number' : 'tagged time'}`,
          )
        }
        return
      default:
        problems.push(`${path}: unchecked shape type ${shape.type}`)
    }
  }
}
