// The one catalog of the agent's error codes. Tests assert on `err.code`, never on messages.
export const ErrorCode = {
  /** A Kubernetes object failed validation; it is rejected and the rest keeps working. */
  InvalidObject: 'KBP_INVALID_OBJECT',
  /** A manifest file could not be read or parsed as YAML. */
  InvalidManifest: 'KBP_INVALID_MANIFEST',
  /** The native addon has not been built. */
  AddonMissing: 'KBP_ADDON_MISSING',
  /** A BPF map has no room for the desired state (too many services, backends or slots). */
  MapFull: 'KBP_MAP_FULL',
  /** A pinned map exists but its layout does not match this build (refuse rather than corrupt it). */
  PinnedLayoutMismatch: 'KBP_PINNED_LAYOUT_MISMATCH',
  /** A Maglev table cannot be built (e.g. more backends than the maximum table size). */
  MaglevTooManyBackends: 'KBP_MAGLEV_TOO_MANY_BACKENDS',
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
