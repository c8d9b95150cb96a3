// Durations as kube-proxy's flags write them (Go's time.ParseDuration): "24h0m0s", "1h", "90s", "1.5m".
import { ErrorCode, KbpError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/gy;

/** Seconds; "0" alone is allowed, as in Go. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  let seconds = 0;
  PART.lastIndex = 0;
  let matched = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    seconds += Number(m[1]) * (UNIT_SECONDS[m[2] ?? ''] ?? NaN);
    matched = PART.lastIndex;
  }
  if (text === '' || matched !== text.length || !Number.isFinite(seconds)) {
    throw new KbpError(ErrorCode.InvalidConfig, `"${text}" is not a duration (like 24h0m0s, 1h or 30s)`);
  }
  return seconds;
}
