// Summaries of repeated measurements: every sample kept, with median, min and max; percentiles of
// latency samples; ratios taken round by round (pair by pair), then summarised.
import { Type, type Static } from 'typebox';

export const Summary = Type.Object({
  samples: Type.Array(Type.Number()),
  median: Type.Number(),
  min: Type.Number(),
  max: Type.Number(),
});
export type Summary = Static<typeof Summary>;

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function summarize(samples: readonly number[]): Summary {
  const kept = samples.map((x) => round(x, 3));
  return { samples: kept, median: round(percentile(kept, 50), 3), min: Math.min(...kept), max: Math.max(...kept) };
}

/** a[i] / b[i] for the rounds both have (the same round's pair), summarised. */
export function pairRatios(a: readonly number[], b: readonly number[]): Summary | null {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && Number.isFinite(x / y)) ratios.push(x / y);
  }
  return ratios.length > 0 ? summarize(ratios) : null;
}
