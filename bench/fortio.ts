// fortio as the load generator: several fortio processes in the client pod at once, each its share of
// the connections and of the offered rate, their latency histograms merged into one.
import { once } from 'node:events';
import { Type, type Static } from 'typebox';
import { spawnIn } from '../harness/exec.js';

/** The part of fortio's JSON result (`-json -`) the benchmark reads; times in seconds. */
interface FortioResult {
  ActualQPS: number;
  ActualDuration: number;
  DurationHistogram: { Count: number; Data: Bucket[] | null };
  RetCodes: Record<string, number> | null;
}

export const LoadFigures = Type.Object({
  /** Requests (or datagrams) answered per second, all processes together. */
  rate: Type.Number(),
  requests: Type.Integer(),
  errors: Type.Integer(),
  /** Latency percentiles in microseconds, from the merged histograms. */
  p50: Type.Number(),
  p99: Type.Number(),
  p999: Type.Number(),
});
export type LoadFigures = Static<typeof LoadFigures>;

export interface LoadSpec {
  /** One target per process: the same VIP for every process, or a backend each for the floor. */
  targets: string[];
  /** Connections (fortio -c) over all processes. */
  connections: number;
  /** Offered requests per second over all processes; 0 for as fast as they go (saturation). */
  qps: number;
  seconds: number;
  /** New TCP connection for every request (HTTP only). */
  newConnectionPerRequest: boolean;
}

/** The fortio command line of one process of `spec` (its share of connections and rate). */
export function fortioArgs(spec: LoadSpec, target: string): string[] {
  const n = spec.targets.length;
  const args = ['load', '-quiet', '-json', '-', '-r', '0.00001', '-p', '50,99,99.9', '-t', `${spec.seconds}s`];
  args.push('-c', String(Math.max(1, Math.round(spec.connections / n))), '-qps', spec.qps > 0 ? String(spec.qps / n) : '0');
  if (target.startsWith('http')) args.push(`-keepalive=${String(!spec.newConnectionPerRequest)}`);
  return [...args, target];
}

type Bucket = { Start: number; End: number; Count: number };

/**
 * The latency (seconds) below which `p` percent of the requests completed, over buckets of several
 * processes whose boundaries differ: each bucket's count is spread evenly over the pieces the union
 * of all boundaries cuts it into, then read off cumulatively (monotonic in p).
 */
function percentileOf(buckets: readonly Bucket[], p: number): number {
  const edges = [...new Set(buckets.flatMap((b) => [b.Start, b.End]))].sort((a, b) => a - b);
  const pieces = edges.slice(0, -1).map((start, i) => ({ start, end: edges[i + 1] ?? start, count: 0 }));
  for (const b of buckets) {
    const width = b.End - b.Start;
    if (width <= 0) {
      // A bucket of one value: all of it at that point, in the piece that starts (or ends) there.
      const at = pieces.find((x) => x.start === b.Start) ?? pieces[pieces.length - 1];
      if (at) at.count += b.Count;
      continue;
    }
    for (const piece of pieces) if (piece.start >= b.Start && piece.end <= b.End) piece.count += (b.Count * (piece.end - piece.start)) / width;
  }
  const total = pieces.reduce((s, x) => s + x.count, 0);
  let below = 0;
  for (const piece of pieces) {
    if (piece.count > 0 && below + piece.count >= (p / 100) * total)
      return piece.start + ((piece.end - piece.start) * ((p / 100) * total - below)) / piece.count;
    below += piece.count;
  }
  return edges[edges.length - 1] ?? NaN;
}

export function mergeResults(results: readonly FortioResult[]): LoadFigures {
  const buckets = results.flatMap((r) => r.DurationHistogram.Data ?? []);
  const ok = (r: FortioResult) => Object.entries(r.RetCodes ?? {}).reduce((s, [code, n]) => s + (code === '200' || code === 'OK' ? n : 0), 0);
  const requests = results.reduce((s, r) => s + r.DurationHistogram.Count, 0);
  const answered = results.reduce((s, r) => s + ok(r), 0);
  const us = (p: number) => Math.round(percentileOf(buckets, p) * 1e7) / 10;
  return {
    rate: Math.round(results.reduce((s, r) => s + (ok(r) * 1e9) / Math.max(1, r.ActualDuration), 0)),
    requests,
    // fortio counts every request in the histogram and files failures (non-200, socket errors) in RetCodes.
    errors: requests - answered,
    p50: us(50),
    p99: us(99),
    p999: us(99.9),
  };
}

/** Runs the processes of `spec` at once in namespace `ns` and merges what they measured. */
export async function runLoad(fortio: string, ns: string, spec: LoadSpec): Promise<{ figures: LoadFigures; commands: string[][] }> {
  const commands = spec.targets.map((t) => [fortio, ...fortioArgs(spec, t)]);
  const results = await Promise.all(
    commands.map(async ([cmd = fortio, ...args]) => {
      const child = spawnIn(ns, cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      // 'close', not 'exit': the exit can come before the last of stdout.
      const [code] = (await once(child, 'close')) as [number | null];
      const why = `fortio ${args.join(' ')} exited ${String(code)}: ${err.trim().split('\n').slice(-3).join(' | ')}`;
      if (code !== 0 || out.trim() === '') throw new Error(why);
      return JSON.parse(out) as FortioResult;
    }),
  );
  return { figures: mergeResults(results), commands };
}
