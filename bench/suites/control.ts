// The control-plane suite, measured by traffic for every mode alike: how long from the proxy's start
// until every service answers, how long from an EndpointSlice write until the new state serves
// (an endpoint added, removed, gone not-ready, ready again), a burst of changes, and what the proxy
// process cost in CPU and memory over the whole run.
import { Type, type Static } from 'typebox';
import type { BenchCluster, BenchNode } from '../../harness/bench-bed.js';
import type { IpcChild } from '../../harness/processes.js';
import type { ProbeReply, ProbeRequest } from '../prober-protocol.js';
import { percentile, summarize, Summary } from '../stats.js';

export type Prober = IpcChild<ProbeRequest, ProbeReply>;

export const CHANGE_KINDS = ['add', 'remove', 'not-ready', 'ready'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export const ControlRound = Type.Object({
  /** Seconds from the proxy's start to every service answering (null: not within the time allowed). */
  coldSeconds: Type.Union([Type.Number(), Type.Null()]),
  /** Milliseconds from the EndpointSlice write to the first probe the new state served, by kind of change. */
  changeMs: Type.Record(Type.String(), Type.Array(Type.Number())),
  /** Milliseconds from the first of a burst of writes to the last change serving. */
  burstMs: Type.Union([Type.Number(), Type.Null()]),
  burstSize: Type.Integer(),
});
export type ControlRound = Static<typeof ControlRound>;

export const ControlSummary = Type.Object({
  coldSeconds: Type.Union([Summary, Type.Null()]),
  /** All changes of every round together, and by kind; p50/p99 in ms. */
  changeMs: Type.Record(Type.String(), Type.Object({ p50: Type.Number(), p99: Type.Number(), samples: Type.Integer() })),
  burstMs: Type.Union([Summary, Type.Null()]),
});

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Probes every service from `startedAtMs` (the proxy's start) until all answer. */
export async function coldStart(prober: Prober, cluster: BenchCluster, startedAtMs: number, timeoutMs: number): Promise<number | null> {
  const r = await prober.request({ op: 'sweep', targets: cluster.serviceIPs, port: 80, concurrency: 512, attemptTimeoutMs: 250, timeoutMs });
  return r.allAnsweredAtMs == null ? null : (r.allAnsweredAtMs - startedAtMs) / 1000;
}

interface Endpoint {
  address: string;
  ready: boolean;
}

/** The endpoint set after each kind of change, and the endpoint whose arrival or departure shows it. */
function changeOf(kind: ChangeKind, base: readonly string[], spare: string): { endpoints: Endpoint[]; watch: string; arrives: boolean } {
  const all = (extra: string[], notReady?: string) => [...base, ...extra].map((address) => ({ address, ready: address !== notReady }));
  const first = base[0] ?? spare;
  switch (kind) {
    case 'add':
      return { endpoints: all([spare]), watch: spare, arrives: true };
    case 'remove':
      return { endpoints: all([]), watch: spare, arrives: false };
    case 'not-ready':
      return { endpoints: all([], first), watch: first, arrives: false };
    case 'ready':
      return { endpoints: all([]), watch: first, arrives: true };
  }
}

const QUIET_PROBES = 60;

/** One change: the write, then the time until the probes see it; null when they never do. */
async function measureChange(prober: Prober, cluster: BenchCluster, change: ReturnType<typeof changeOf>, timeoutMs: number): Promise<number | null> {
  const sinceMs = nowMs();
  await cluster.setMeasuredEndpoints(change.endpoints);
  const r = await prober.request(
    change.arrives
      ? { op: 'served', endpoint: change.watch, sinceMs, timeoutMs }
      : { op: 'gone', endpoint: change.watch, sinceMs, quiet: QUIET_PROBES, timeoutMs },
  );
  return r.atMs == null ? null : Math.max(0, r.atMs - sinceMs);
}

export async function endpointChanges(
  prober: Prober,
  cluster: BenchCluster,
  node: BenchNode,
  options: { changes: number; burst: number; timeoutMs: number },
): Promise<{ changeMs: Record<ChangeKind, number[]>; burstMs: number | null; failures: string[] }> {
  const base = cluster.measured.endpoints;
  const spare = node.spareEndpoint(0);
  const changeMs: Record<ChangeKind, number[]> = { add: [], remove: [], 'not-ready': [], ready: [] };
  const failures: string[] = [];
  await prober.request({ op: 'watch-start', target: cluster.measured.clusterIP, port: cluster.measured.whoamiPort, concurrency: 4 });
  try {
    for (let i = 0; i < options.changes; i++) {
      const kind = CHANGE_KINDS[i % CHANGE_KINDS.length] ?? 'add';
      const ms = await measureChange(prober, cluster, changeOf(kind, base, spare), options.timeoutMs);
      if (ms === null) failures.push(`change ${i + 1} (${kind}) not served within ${options.timeoutMs} ms`);
      else changeMs[kind].push(ms);
    }
    // A burst: writes back to back, each leaving one new endpoint alone in the slice; once the last
    // is served every probe reaches it, and no earlier state holds it.
    const added = Array.from({ length: options.burst }, (_, n) => node.spareEndpoint(n + 1));
    const sinceMs = nowMs();
    for (const address of added) await cluster.setMeasuredEndpoints([{ address, ready: true }]);
    const last = await prober.request({ op: 'served', endpoint: added[added.length - 1] ?? spare, sinceMs, timeoutMs: options.timeoutMs });
    const burstMs = last.atMs == null ? null : last.atMs - sinceMs;
    if (burstMs === null) failures.push(`the burst of ${options.burst} changes was not served within ${options.timeoutMs} ms`);
    // Back to the base set for whatever runs next.
    await cluster.setMeasuredEndpoints(base.map((address) => ({ address, ready: true })));
    return { changeMs, burstMs, failures };
  } finally {
    await prober.request({ op: 'watch-stop' });
  }
}

/** Every round's changes of a mode and scale pooled: p50/p99 by kind and over all. */
export function summarizeControl(rounds: readonly ControlRound[]): Static<typeof ControlSummary> {
  const pooled: Record<string, number[]> = { all: [] };
  for (const r of rounds) {
    for (const [kind, xs] of Object.entries(r.changeMs)) {
      (pooled[kind] ??= []).push(...xs);
      pooled.all?.push(...xs);
    }
  }
  const cold = rounds.flatMap((r) => (r.coldSeconds === null ? [] : [r.coldSeconds]));
  const bursts = rounds.flatMap((r) => (r.burstMs === null ? [] : [r.burstMs]));
  return {
    coldSeconds: cold.length ? summarize(cold) : null,
    changeMs: Object.fromEntries(
      Object.entries(pooled).map(([k, xs]) => [
        k,
        { p50: Math.round(percentile(xs, 50) * 10) / 10, p99: Math.round(percentile(xs, 99) * 10) / 10, samples: xs.length },
      ]),
    ),
    burstMs: bursts.length ? summarize(bursts) : null,
  };
}
