// Per-packet cost of the tc datapath through BPF_PROG_TEST_RUN, at 1 to 100k installed services.
//
// test-run repeats a program on the same skb, and our programs rewrite that skb (after the first DNAT
// the packet is no longer for a service), so a repeat count would mostly time the pass-through path.
// Instead every measured packet is its own test-run call with repeat 1, and the figure is the median
// of those, minus the median of the same calls on an empty tc program (the test-run's own cost).
//
// Usage: node dist/bench/datapath.js [--services 1,1000,10000,100000] [--packets 20000] [--out FILE]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { native, repoRoot, type BpfProgram } from '../src/native/bpf.js';
import { loadDatapath, Programs } from '../src/dataplane/loader.js';
import { KernelServiceMaps, openServiceMaps } from '../src/dataplane/kernel-maps.js';
import { Reconciler } from '../src/dataplane/reconciler.js';
import { buildFrame, TCP_FLAGS } from '../test/helpers/packets.js';
import { lbService } from '../test/helpers/services.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1,1000,10000,100000' },
    packets: { type: 'string', default: '20000' },
    out: { type: 'string', default: path.join(repoRoot, 'bench', 'results', 'datapath.json') },
  },
});
const serviceCounts = values.services.split(',').map(Number);
const packets = Number(values.packets);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function timeCalls(prog: BpfProgram, frames: Buffer[]): Promise<number> {
  const addon = native();
  const times: number[] = [];
  for (const frame of frames) times.push((await addon.testRun(prog, frame, 1)).durationNs);
  return median(times);
}

function vip(i: number): string {
  return `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

const CLIENT = '10.244.1.10';

async function measure(services: number, baselineNs: number): Promise<Record<string, number>> {
  const pinDir = `/sys/fs/bpf/kbp-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  mkdirSync(pinDir, { recursive: true });
  const obj = await loadDatapath({ pinDir, hairpinAddress: '169.254.42.1' });
  try {
    const reconciler = new Reconciler(new KernelServiceMaps(native(), openServiceMaps(obj)));
    const started = performance.now();
    const all = Array.from({ length: services }, (_, i) =>
      lbService(`bench/svc${i}:http`, [{ address: vip(i + 1), port: 80, protocol: 'TCP' }], [1, 2, 3].map((b) => ({ address: `10.244.${(i >> 8) & 255}.${b + 3 * (i & 63)}`, port: 8080 }))),
    );
    reconciler.sync(all);
    const programMs = performance.now() - started;
    const fromPod = obj.program(Programs.fromPod);
    const toPod = obj.program(Programs.toPod);
    const target = (k: number) => vip(1 + (k % services));

    // New flows: a fresh source port (and so a fresh 5-tuple) for every packet.
    const syns = Array.from({ length: packets }, (_, k) => buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: target(k), sport: 1024 + (k % 60000), dport: 80 }));
    const newFlow = await timeCalls(fromPod, syns);
    // Established: the same flows again, now conntrack hits.
    const acks = syns.map((_, k) => buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: target(k), sport: 1024 + (k % 60000), dport: 80, tcpFlags: TCP_FLAGS.ACK }));
    const established = await timeCalls(fromPod, acks);
    // Replies of those flows, reverse-NATed on the way back into the client pod.
    const replies: Buffer[] = [];
    for (const ack of acks.slice(0, packets)) {
      const out = (await native().testRun(fromPod, ack, 1)).data;
      const backend = `${out[30]}.${out[31]}.${out[32]}.${out[33]}`;
      replies.push(buildFrame({ proto: 'TCP', saddr: backend, daddr: CLIENT, sport: 8080, dport: ack.readUInt16BE(34), tcpFlags: TCP_FLAGS.ACK }));
    }
    const reply = await timeCalls(toPod, replies);
    const nonService = await timeCalls(fromPod, syns.slice(0, 2000).map((_, k) => buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: '10.244.2.1', sport: 2000 + k, dport: 80 })));
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      services,
      program_ms: Math.round(programMs),
      new_flow_ns: round(newFlow - baselineNs),
      established_ns: round(established - baselineNs),
      reply_revnat_ns: round(reply - baselineNs),
      not_a_service_ns: round(nonService - baselineNs),
    };
  } finally {
    obj.close();
    rmSync(pinDir, { recursive: true, force: true });
  }
}

const baselineDir = `/sys/fs/bpf/kbp-bench-base-${process.pid}`;
mkdirSync(baselineDir, { recursive: true });
const baselineObj = await native().load(path.join(repoRoot, 'bpf', 'build', 'baseline.bpf.o'), { pinRoot: baselineDir });
const probe = buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: '10.96.0.1', sport: 1, dport: 80 });
const baselineNs = await timeCalls(baselineObj.program('kbp_baseline'), Array.from({ length: packets }, () => probe));
baselineObj.close();
rmSync(baselineDir, { recursive: true, force: true });

const rows = [];
for (const n of serviceCounts) {
  const row = await measure(n, baselineNs);
  console.error(JSON.stringify(row));
  rows.push(row);
}
const result = {
  benchmark: 'datapath-test-run',
  date: new Date().toISOString(),
  kernel: (await import('node:os')).release(),
  method: 'median of single BPF_PROG_TEST_RUN calls, minus the median for an empty tc program',
  packets_per_case: packets,
  baseline_ns: baselineNs,
  rows,
};
mkdirSync(path.dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify(result, null, 2));
console.log(JSON.stringify(result, null, 2));
