// The one catalog of the agent's error codes. Tests assert on `err.code`, never on messages.
export const ErrorCode = {
  /** A manifest file could not be read or parsed as YAML. */
  InvalidManifest: 'KBP_INVALID_MANIFEST',
  /** The native addon has not been built. */
  AddonMissing: 'KBP_ADDON_MISSING',
  /** A Maglev table cannot be built (more backends than the largest table has slots). */
  MaglevTooManyBackends: 'KBP_MAGLEV_TOO_MANY_BACKENDS',
  /** No Maglev table size is at or below the bound asked for. */
  NoTableSize: 'KBP_NO_TABLE_SIZE',
  /** Every kernel id of one kind (services, backends, reverse NAT) is in use. */
  IdSpaceExhausted: 'KBP_ID_SPACE_EXHAUSTED',
  /** An address written into a map key or value is not dotted-quad IPv4. */
  InvalidAddress: 'KBP_INVALID_ADDRESS',
  /** A flag, option or argument is malformed or names something that is not there (e.g. a node interface without an address). */
  InvalidConfig: 'KBP_INVALID_CONFIG',
  /** The pin directory is not on a BPF filesystem (and the agent may not mount one there). */
  NotBpffs: 'KBP_NOT_BPFFS',
  /** The node this agent runs for has no Node object in the cluster. */
  NodeNotFound: 'KBP_NODE_NOT_FOUND',
  /** A pinned map of an earlier version holds state in a layout this version cannot take over. */
  IncompatiblePins: 'KBP_INCOMPATIBLE_PINS',
  /** The datapath was asked for before the agent loaded it. */
  DatapathNotLoaded: 'KBP_DATAPATH_NOT_LOADED',
  /** A command run to completion (ip, tc, ...) failed; its stderr is in the message. */
  CommandFailed: 'KBP_COMMAND_FAILED',
  /** `kbproxy inspect` cannot reach the agent's admin API. */
  AgentUnreachable: 'KBP_AGENT_UNREACHABLE',
  /** The admin API answered `kbproxy inspect` with an error status. */
  ApiError: 'KBP_API_ERROR',
  /** Admin API: the request fails its schema or cannot be parsed (400, or another 4xx of the parser). */
  BadRequest: 'KBP_BAD_REQUEST',
  /** Admin API: an acting route without a valid bearer token, or with no token configured (401). */
  Unauthorized: 'KBP_UNAUTHORIZED',
  /** Admin API: no such route, or a service this agent does not serve (404). */
  NotFound: 'KBP_NOT_FOUND',
  /** Admin API: a request body over the limit (413). */
  BodyTooLarge: 'KBP_BODY_TOO_LARGE',
  /** Admin API: a failure while answering that no other code names (500). */
  Internal: 'KBP_INTERNAL',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export class KbpError extends Error {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KbpError';
    this.code = code;
  }
}
