// The benchmark's one entry point: kube-bpf-proxy beside the real kube-proxy (iptables, nftables,
// ipvs where the kernel has it) and the no-proxy floor, on the same topology against the same API
// server, modes interleaved round by round (A B C A B C ...), each on a fresh node namespace.
//
//   npm run bench -- --suite e2e|control|datapath|all [--scale 1000,10000,30000] [--rounds 3] [--quick]
//
// Writes one JSON file per run (bench/schema.ts) and an SVG chart per suite into --out (default
// bench/results/<date>); exits non-zero when any mode failed, lost requests or errored.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Check, Errors } from 'typebox/value';
import { createBenchCluster, type BenchCluster } from '../harness/bench-bed.js';
import { startIpcChild } from '../harness/processes.js';
import { startProxy, type ProxyMode } from '../harness/proxies.js';
import { readCounters } from '../src/dataplane/stats.js';
import { native, repoRoot } from '../src/native/bpf.js';
import { machineFacts } from './machine.js';
import type { ProbeReply, ProbeRequest } from './prober-protocol.js';
import { writeCharts } from './report.js';
import { BenchRun, MODES, RUN_SCHEMA_VERSION, SUITES, type Failure, type ModeRun, type ScaleRun } from './schema.js';
import { pairRatios, summarize } from './stats.js';
import { coldStart, endpointChanges, nowMs, summarizeControl, type ControlRound, type Prober } from './suites/control.js';
import { DEFAULT_SERVICES, QUICK_SERVICES, runDatapathSuite } from './suites/datapath.js';
import { LOADS, runE2e } from './suites/e2e.js';

const { values } = parseArgs({
  options: {
    suite: { type: 'string', default: 'all' },
    scale: { type: 'string', default: '1000,10000,30000' },
    rounds: { type: 'string', default: '3' },
    modes: { type: 'string', default: MODES.join(',') },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    changes: { type: 'string', default: '52' },
    burst: { type: 'string', default: '100' },
    'datapath-services': { type: 'string', default: DEFAULT_SERVICES.join(',') },
    'cold-timeout-minutes': { type: 'string', default: '15' },
    // kube-proxy's iptables mode on this machine's default iptables (nft) did not finish its first
    // sync at 10,000 services in 20 CPU-minutes; the legacy backend did in 17 s, as the kube-proxy
    // image's iptables-wrapper would pick on a node that uses it.
    iptables: { type: 'string', default: 'legacy' },
  },
});

const quick = values.quick;
const suites = values.suite === 'all' ? [...SUITES] : values.suite.split(',');
for (const s of suites) if (!(SUITES as readonly string[]).includes(s)) throw new Error(`--suite: unknown suite "${s}" (${SUITES.join(', ')}, all)`);
const modes = values.modes.split(',') as ProxyMode[];
for (const m of modes) if (!(MODES as readonly string[]).includes(m)) throw new Error(`--modes: unknown mode "${m}"`);
// Quick: the smallest scale, one round, a few seconds per load: proves the harness, asserts no figure.
const numbers = (s: string) => s.split(',').map(Number);
const options = {
  suites,
  scales: quick ? [Math.min(100, ...numbers(values.scale))] : numbers(values.scale),
  rounds: quick ? 1 : Number(values.rounds),
  quick,
  seconds: quick ? 2 : Number(values.seconds),
  rate: Number(values.rate),
  changes: quick ? 4 : Number(values.changes),
  burst: quick ? 10 : Number(values.burst),
  iptables: values.iptables === 'default' ? ('default' as const) : ('legacy' as const),
};
const coldTimeoutMs = (quick ? 2 : Number(values['cold-timeout-minutes'])) * 60_000;
const startedAt = new Date();
const outDir = values.out ?? path.join(repoRoot, 'bench', 'results', startedAt.toISOString().slice(0, 16).replace(/:/g, '-'));

const fortio = process.env.KBP_FORTIO ?? execFileSync('bash', [path.join(repoRoot, 'scripts', 'fortio-build')], { encoding: 'utf8' }).trim();
const k8sBin = process.env.KBP_K8S_BIN ?? execFileSync('bash', [path.join(repoRoot, 'scripts', 'k8s-build')], { encoding: 'utf8' }).trim();
process.env.KBP_FORTIO = fortio;
process.env.KBP_K8S_BIN = k8sBin;
const version = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? '';

const failures: Failure[] = [];

// Ctrl-C or a kill tears down what is up (proxy, node, cluster) before the process goes.
const teardown = new Set<() => Promise<void>>();
const onSignal = (signal: NodeJS.Signals): void => {
  log(`${signal}: tearing down`);
  void Promise.allSettled([...teardown].reverse().map((f) => f())).then(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
const proberScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prober.js');

/** One mode on a fresh node: start it, wait for every service by traffic, then the suites. */
async function runMode(cluster: BenchCluster, mode: ProxyMode, round: number, record: ModeRun): Promise<void> {
  const fail = (suite: string, reason: string) => {
    failures.push({ suite, services: cluster.serviceIPs.length, mode, round, reason });
    log(`FAILED ${mode} round ${round}: ${reason}`);
  };
  const node = await cluster.newNode();
  let prober: Prober | undefined;
  let stop: (() => Promise<void>) | undefined;
  const down = async (): Promise<void> => {
    await stop?.();
    prober?.close();
    await node.destroy();
  };
  teardown.add(down);
  try {
    prober = await startIpcChild<ProbeRequest, ProbeReply>(node.client.ns, proberScript, [], 'prober');
    const startedMs = nowMs();
    // Probing starts with the proxy: "programmed" is when the last service answers, for every mode alike.
    const cold = mode === 'none' ? Promise.resolve(null) : coldStart(prober, cluster, startedMs, coldTimeoutMs);
    const started = await startProxy(mode, node, cluster, { iptables: options.iptables, timeoutMs: coldTimeoutMs });
    if (!started.ok) {
      // The sweep ends with the prober, below: nothing will ever answer.
      record.runnable = false;
      record.reason = started.reason;
      if (mode !== 'ipvs') fail('start', started.reason);
      log(`${mode}: not runnable here: ${started.reason}`);
      return;
    }
    stop = () => started.proxy.stop();
    record.command = started.proxy.command;
    record.environment = started.proxy.environment;
    const entry: ModeRun['rounds'][number] = { round, usage: null };
    record.rounds.push(entry);
    const coldSeconds = await cold;
    if (mode !== 'none') {
      log(`${mode}: all ${cluster.serviceIPs.length} services answer after ${coldSeconds === null ? 'never' : `${coldSeconds.toFixed(2)} s`}`);
      if (coldSeconds === null) {
        fail('control', `not every service answered within ${coldTimeoutMs / 60_000} minutes`);
        return;
      }
    }
    if (suites.includes('e2e')) {
      entry.e2e = await runE2e(mode, cluster, node.client.ns, {
        fortio,
        seconds: options.seconds,
        rate: options.rate,
        processes: 5,
        connections: { fixed: 10, max: 20 },
      });
      for (const [load, r] of Object.entries(entry.e2e)) {
        log(`${mode} ${load}: ${r.figures.rate}/s p50 ${r.figures.p50} µs p99 ${r.figures.p99} µs p99.9 ${r.figures.p999} µs errors ${r.figures.errors}`);
        if (r.figures.errors > 0) fail('e2e', `${load}: ${r.figures.errors} of ${r.figures.requests} requests failed`);
        if (r.figures.requests === 0) fail('e2e', `${load}: no request completed`);
      }
    }
    if (suites.includes('control') && mode !== 'none') {
      const changes = await endpointChanges(prober, cluster, node, { changes: options.changes, burst: options.burst, timeoutMs: 60_000 });
      for (const reason of changes.failures) fail('control', reason);
      const control: ControlRound = { coldSeconds, changeMs: changes.changeMs, burstMs: changes.burstMs, burstSize: options.burst };
      entry.control = control;
      log(
        `${mode}: changes ${Object.entries(changes.changeMs)
          .map(([k, xs]) => `${k} ${xs.map((x) => x.toFixed(1)).join(',')}`)
          .join('; ')} ms; burst ${String(changes.burstMs)} ms`,
      );
    }
    entry.usage = started.proxy.usage();
    if (mode === 'kube-bpf-proxy') {
      entry.datapathCounters = datapathCounters(node.pinDir);
      log(
        `${mode}: datapath ${Object.entries(entry.datapathCounters)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
      );
    }
  } catch (err) {
    fail('run', err instanceof Error ? err.message : String(err));
  } finally {
    teardown.delete(down);
    await down();
  }
}

/** Our datapath's counters (non-zero reasons) as the node's pinned stats map holds them: why a packet was dropped shows here. */
function datapathCounters(pinDir: string): Record<string, number> {
  const stats = native().openPinnedMap(path.join(pinDir, 'stats'));
  try {
    return Object.fromEntries(
      Object.entries(readCounters(stats, native().possibleCpus())).flatMap(([reason, c]) => (c.packets > 0 ? [[reason, c.packets]] : [])),
    );
  } finally {
    stats.close();
  }
}

/** Every round's value of one figure of a mode, in round order (NaN where the round has none). */
function series(record: ModeRun, pick: (r: ModeRun['rounds'][number]) => number | undefined): number[] {
  return record.rounds.map((r) => pick(r) ?? NaN);
}

function summarizeScale(scale: ScaleRun): void {
  const floor = scale.modes.find((m) => m.mode === 'none');
  const figure = (load: string, key: 'rate' | 'p50' | 'p99' | 'p999') => (r: ModeRun['rounds'][number]) => r.e2e?.[load]?.figures[key];
  for (const m of scale.modes) {
    const e2e: Record<string, Record<string, ReturnType<typeof summarize>>> = {};
    for (const load of LOADS) {
      const byKey: Record<string, ReturnType<typeof summarize>> = {};
      for (const key of ['rate', 'p50', 'p99', 'p999'] as const) {
        const xs = series(m, figure(load, key)).filter(Number.isFinite);
        if (xs.length) byKey[key] = summarize(xs);
        // Added latency over the floor, round by round.
        if (floor && key !== 'rate' && m !== floor) {
          const added = series(m, figure(load, key))
            .map((x, i) => x - (series(floor, figure(load, key))[i] ?? NaN))
            .filter(Number.isFinite);
          if (added.length) byKey[`added_${key}`] = summarize(added);
        }
      }
      if (Object.keys(byKey).length) e2e[load] = byKey;
    }
    if (Object.keys(e2e).length) m.summary.e2e = e2e;
    const control = m.rounds.flatMap((r) => (r.control ? [r.control] : []));
    if (control.length) m.summary.control = summarizeControl(control);
    const cpu = m.rounds.flatMap((r) => (r.usage ? [r.usage.cpuSeconds] : []));
    const rss = m.rounds.flatMap((r) => (r.usage ? [r.usage.peakRssMiB] : []));
    if (cpu.length) m.summary.cpuSeconds = summarize(cpu);
    if (rss.length) m.summary.peakRssMiB = summarize(rss);
  }
  // Ratios pair by pair: kube-bpf-proxy against every other mode, round by round.
  const ours = scale.modes.find((m) => m.mode === 'kube-bpf-proxy');
  if (!ours) return;
  for (const other of scale.modes.filter((m) => m !== ours && m.runnable)) {
    for (const load of LOADS) {
      const rate = pairRatios(series(ours, figure(load, 'rate')), series(other, figure(load, 'rate')));
      if (rate) scale.ratios.push({ metric: `${load} rate`, of: ours.mode, to: other.mode, ratio: rate });
      if (floor && other !== floor) {
        const added = (m: ModeRun) => series(m, figure(load, 'p99')).map((x, i) => x - (series(floor, figure(load, 'p99'))[i] ?? NaN));
        const r = pairRatios(added(ours), added(other));
        if (r) scale.ratios.push({ metric: `${load} added p99`, of: ours.mode, to: other.mode, ratio: r });
      }
    }
    const cold = pairRatios(
      series(ours, (r) => r.control?.coldSeconds ?? undefined),
      series(other, (r) => r.control?.coldSeconds ?? undefined),
    );
    if (cold) scale.ratios.push({ metric: 'cold seconds', of: ours.mode, to: other.mode, ratio: cold });
  }
}

const scales: ScaleRun[] = [];
if (suites.includes('e2e') || suites.includes('control')) {
  for (const services of options.scales) {
    log(`${services} services: populating the API server`);
    const cluster = await createBenchCluster({ services });
    const down = () => cluster.destroy();
    teardown.add(down);
    const scale: ScaleRun = { services, populateSeconds: cluster.populateSeconds, modes: [], ratios: [] };
    scales.push(scale);
    try {
      for (const mode of modes) scale.modes.push({ mode, runnable: true, command: [], rounds: [], summary: {} });
      for (let round = 1; round <= options.rounds; round++) {
        for (const record of scale.modes) if (record.runnable) await runMode(cluster, record.mode, round, record);
      }
      summarizeScale(scale);
    } finally {
      teardown.delete(down);
      await down();
    }
  }
}

const run: BenchRun = {
  schema: 'kube-bpf-proxy/bench-run',
  version: RUN_SCHEMA_VERSION,
  startedAt: startedAt.toISOString(),
  finishedAt: '',
  argv: process.argv.slice(2),
  options,
  machine: machineFacts(),
  tools: { fortio: version(fortio, ['version']), 'kube-proxy': version(path.join(k8sBin, 'kube-proxy'), ['--version']) },
  scales,
  failures,
};
if (suites.includes('datapath')) {
  try {
    run.datapath = await runDatapathSuite({ services: quick ? QUICK_SERVICES : numbers(values['datapath-services']), quick, log });
  } catch (err) {
    failures.push({ suite: 'datapath', services: null, mode: null, round: null, reason: err instanceof Error ? err.message : String(err) });
  }
}
run.finishedAt = new Date().toISOString();

if (!Check(BenchRun, run))
  failures.push({
    suite: 'report',
    services: null,
    mode: null,
    round: null,
    reason: `the result does not match its schema: ${[...Errors(BenchRun, run)]
      .slice(0, 3)
      .map((e) => `${e.instancePath} ${e.message}`)
      .join('; ')}`,
  });
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'run.json'), `${JSON.stringify(run, null, 1)}\n`);
const charts = await writeCharts(run, outDir);
log(`wrote ${path.join(outDir, 'run.json')} and ${charts.join(', ')}`);
if (failures.length > 0) {
  log(
    `${failures.length} failure(s):\n${failures.map((f) => `  ${f.suite} ${f.services ?? '-'} ${f.mode ?? '-'} round ${f.round ?? '-'}: ${f.reason}`).join('\n')}`,
  );
  process.exitCode = 1;
}
