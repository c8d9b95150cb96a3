// The one catalog of the agent's error codes. Tests assert on `err.code`, never on messages.
export const ErrorCode = {
  /** A manifest file could not be read or parsed as YAML. */
  InvalidManifest: 'KBP_INVALID_MANIFEST',
  /** The native addon has not been built. */
  AddonMissing: 'KBP_ADDON_MISSING',
  /** A Maglev table cannot be built (more backends than the largest table has slots). */
  MaglevTooManyBackends: 'KBP_MAGLEV_TOO_MANY_BACKENDS',
  /** A flag or option names something that is not there (e.g. a node interface without an address). */
  InvalidConfig: 'KBP_INVALID_CONFIG',
  /** A pinned map of an earlier version holds state in a layout this version cannot take over. */
  IncompatiblePins: 'KBP_INCOMPATIBLE_PINS',
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
