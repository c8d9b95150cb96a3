// fortio as the load generator: several fortio processes in the client pod at once, each its share of
// the connections and of the offered rate, their latency histograms merged into one.
import { once } from 'node:events';
import { Type, type Static } from 'typebox';
import { spawnIn } from '../harness/exec.js';

/** The part of fortio's JSON result (`-json -`) the benchmark reads; times in seconds. */
interface FortioResult {
  ActualQPS: number;
  ActualDuration: number;
  DurationHistogram: { Count: number; Data: { Start: number; End: number; Count: number }[] | null };
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

/** The latency (seconds) below which `p` percent of the merged buckets' requests completed. */
function percentileOf(buckets: { Start: number; End: number; Count: number }[], p: number): number {
  const sorted = [...buckets].sort((a, b) => a.Start - b.Start);
  const total = sorted.reduce((s, b) => s + b.Count, 0);
  let below = 0;
  for (const b of sorted) {
    if (below + b.Count >= (p / 100) * total) return b.Start + ((b.End - b.Start) * ((p / 100) * total - below)) / Math.max(1, b.Count);
    below += b.Count;
  }
  return sorted[sorted.length - 1]?.End ?? NaN;
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
      const [code] = (await once(child, 'exit')) as [number | null];
      const why = `fortio ${args.join(' ')} exited ${String(code)}: ${err.trim().split('\n').slice(-3).join(' | ')}`;
      if (code !== 0 || out.trim() === '') throw new Error(why);
      return JSON.parse(out) as FortioResult;
    }),
  );
  return { figures: mergeResults(results), commands };
}
