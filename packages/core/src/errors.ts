/** Who is at fault, as the AWS Query protocol's `<Type>` says. */
export type FaultType = 'Sender' | 'Receiver'

interface ErrorSpec {
  httpStatus: number
  fault: FaultType
}

/**
 * Every error code backtrack raises. RDS fault names are used as they are, so a user sees the same code
 * offline and live; `docs/errors.md` has a row for each (a test holds the two together).
 */
export const ERROR_CODES = {
  DBClusterNotFoundFault: { httpStatus: 404, fault: 'Sender' },
  DBClusterBacktrackNotFoundFault: { httpStatus: 404, fault: 'Sender' },
  DBClusterAlreadyExistsFault: { httpStatus: 400, fault: 'Sender' },
  // Instance faults: these are the codes RDS sends (its model names the shapes DBInstanceNotFoundFault, ...).
  DBInstanceNotFound: { httpStatus: 404, fault: 'Sender' },
  DBInstanceAlreadyExists: { httpStatus: 400, fault: 'Sender' },
  InvalidDBInstanceState: { httpStatus: 400, fault: 'Sender' },
  InsufficientDBInstanceCapacity: { httpStatus: 400, fault: 'Sender' },
  InsufficientStorageClusterCapacity: { httpStatus: 400, fault: 'Sender' },
  InvalidRestoreFault: { httpStatus: 400, fault: 'Sender' },
  InvalidDBClusterStateFault: { httpStatus: 400, fault: 'Sender' },
  InvalidParameterValue: { httpStatus: 400, fault: 'Sender' },
  InvalidParameterCombination: { httpStatus: 400, fault: 'Sender' },
  MissingParameter: { httpStatus: 400, fault: 'Sender' },
  InvalidAction: { httpStatus: 400, fault: 'Sender' },
  MissingAction: { httpStatus: 400, fault: 'Sender' },
  // AWS's common errors list it as 404.
  MalformedQueryString: { httpStatus: 404, fault: 'Sender' },
  // What AWS's JSON and CBOR protocols answer a body they cannot read.
  SerializationException: { httpStatus: 400, fault: 'Sender' },
  // CloudWatch: a NextToken it did not hand out.
  InvalidNextToken: { httpStatus: 400, fault: 'Sender' },
  RequestEntityTooLarge: { httpStatus: 413, fault: 'Sender' },
  SignatureDoesNotMatch: { httpStatus: 403, fault: 'Sender' },
  InvalidClientTokenId: { httpStatus: 403, fault: 'Sender' },
  MissingAuthenticationToken: { httpStatus: 403, fault: 'Sender' },
  AccessDenied: { httpStatus: 403, fault: 'Sender' },
  Throttling: { httpStatus: 400, fault: 'Sender' },
  InternalFailure: { httpStatus: 500, fault: 'Receiver' },
  ServiceUnavailable: { httpStatus: 503, fault: 'Receiver' },
  // Not RDS faults: the local server underneath a simulated cluster.
  ServerConfigurationFault: { httpStatus: 400, fault: 'Sender' },
  ServerStartFault: { httpStatus: 500, fault: 'Receiver' },
  CaptureFault: { httpStatus: 500, fault: 'Receiver' },
  LiveBacktrackNotConfirmed: { httpStatus: 400, fault: 'Sender' },
  UnsupportedOperation: { httpStatus: 400, fault: 'Sender' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERROR_CODES

/** The one error class of backtrack: `code` is the RDS fault name wherever RDS has one. */
export class BacktrackError extends Error {
  override readonly name = 'BacktrackError'
  readonly code: ErrorCode
  readonly httpStatus: number
  readonly fault: FaultType

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.httpStatus = ERROR_CODES[code].httpStatus
    this.fault = ERROR_CODES[code].fault
  }

  static is(error: unknown, code?: ErrorCode): error is BacktrackError {
    return error instanceof BacktrackError && (code === undefined || error.code === code)
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code)
}

/** `DBCluster <id> not found.`, the message RDS sends. */
export function clusterNotFound(id: string): BacktrackError {
  return new BacktrackError('DBClusterNotFoundFault', `DBCluster ${id} not found.`)
}

/** The message RDS sends for an unknown backtrack id. */
export function backtrackNotFound(id: string): BacktrackError {
  return new BacktrackError('DBClusterBacktrackNotFoundFault', `Backtrack ${id} not found.`)
}
