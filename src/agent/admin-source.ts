// What the admin API reads from a running agent: the live maps (read back on every request, so the
// API shows the kernel's state, not the agent's belief), conntrack, stored benchmark results, and a
// test-run microbenchmark on the loaded programs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AdminSource } from '../api/server.js';
import { KernelServiceMaps, openServiceMaps } from '../dataplane/kernel-maps.js';
import { ctEntryV4, ctKeyV4, writeIPv4 } from '../dataplane/layout.js';
import { Programs } from '../dataplane/loader.js';
import { native, repoRoot, type BpfMap, type BpfObject } from '../native/bpf.js';

export const BENCH_RESULTS_DIR = path.join(repoRoot, 'bench', 'results');

/** Benchmark runs are directories of bench/results named by their start (bench/main.ts); the latest sorts last. */
function latestRun(dir: string): string | null {
  try {
    return (
      readdirSync(dir)
        .filter((name) => existsSync(path.join(dir, name, 'run.json')))
        .sort()
        .pop() ?? null
    );
  } catch {
    return null; // no results stored yet
  }
}

/** The latest stored benchmark run, by its name; none when there is none (or it is being written). */
export function readBenchResults(dir = BENCH_RESULTS_DIR): Record<string, unknown> {
  const name = latestRun(dir);
  if (name === null) return {};
  try {
    return { [name]: JSON.parse(readFileSync(path.join(dir, name, 'run.json'), 'utf8')) as unknown };
  } catch {
    return {};
  }
}

const SUITE_CHART = /^(e2e|control|datapath)$/;
const RUN_NAME = /^[\w.-]+$/;

/** A suite's chart (SVG) of a stored run, or null. */
export function readBenchChart(run: string, suite: string, dir = BENCH_RESULTS_DIR): string | null {
  if (!RUN_NAME.test(run) || !SUITE_CHART.test(suite)) return null;
  try {
    return readFileSync(path.join(dir, run, `${suite}.svg`), 'utf8');
  } catch {
    return null;
  }
}

/** An Ethernet/IPv4/TCP SYN with a valid IP header checksum: a packet no service or flow claims. */
function probeFrame(saddr: string, daddr: string): Buffer {
  const frame = Buffer.alloc(14 + 20 + 20);
  frame.writeUInt16BE(0x0800, 12);
  const ip = frame.subarray(14, 34);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(40, 2);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(6, 9);
  writeIPv4(ip, saddr, 12);
  writeIPv4(ip, daddr, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  const tcp = frame.subarray(34);
  tcp.writeUInt16BE(40000, 0);
  tcp.writeUInt16BE(9, 2);
  tcp.writeUInt8(5 << 4, 12);
  tcp.writeUInt8(0x02, 13);
  return frame;
}

/**
 * The side-effect-free paths of the loaded programs: a packet for no service (pod and outside
 * ingress) and a reply of no tracked flow. Service paths would create flows in the live conntrack.
 */
async function runDatapathBench(obj: BpfObject, repeat: number): Promise<Record<string, number>> {
  const frame = probeFrame('192.0.2.1', '192.0.2.2');
  const cases: [string, string][] = [
    ['from_pod_not_a_service', Programs.fromPod],
    ['to_pod_untracked_reply', Programs.toPod],
    ['from_world_not_a_service', Programs.fromWorld],
  ];
  const out: Record<string, number> = {};
  for (const [name, program] of cases) out[name] = (await native().testRun(obj.program(program), frame, repeat)).durationNs;
  return out;
}

export function agentAdminSource(obj: BpfObject, ct: BpfMap, base: Pick<AdminSource, 'status' | 'counters' | 'metrics' | 'services'>): AdminSource {
  const maps = new KernelServiceMaps(native(), openServiceMaps(obj));
  return {
    ...base,
    live: () => maps.dump(),
    conntrack: () => {
      const { keys, values, count } = ct.entries();
      const entries = Array.from({ length: count }, (_, i) => ({
        key: ctKeyV4.decode(keys, i * ctKeyV4.size),
        entry: ctEntryV4.decode(values, i * ctEntryV4.size),
      }));
      // bpf_ktime_get_coarse_ns and hrtime are both CLOCK_MONOTONIC.
      return { entries, nowNs: process.hrtime.bigint() };
    },
    benchResults: () => readBenchResults(),
    benchChart: (run, suite) => readBenchChart(run, suite),
    runDatapathBench: (repeat) => runDatapathBench(obj, repeat),
  };
}
