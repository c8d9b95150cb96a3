// Per-packet cost of the tc datapath through BPF_PROG_TEST_RUN, with 1k to 100k services installed.
//
// test-run repeats a program on the same skb, and the program rewrites it: after one DNAT the packet
// is addressed to a backend. So the services are installed as a ring: each service's backends are the
// frontends (VIP:80) of the next three services. Every repetition then translates the packet again:
// on the first pass each step is a new flow (conntrack miss, Maglev, two conntrack entries created);
// the same walk again is all established flows (conntrack hits); the walk back, all replies (reverse
// NAT). Each figure is the kernel's average per repetition minus that of an empty tc program.
// The XDP path for outside traffic is measured the same way: node-port frontends in a ring whose
// backends are the next frontends, all on this node (DNAT, pass) or all on another (SNAT + DNAT +
// FIB lookup, XDP_TX), in a network namespace of the benchmark's own for the FIB.
//
// Usage: node dist/bench/datapath.js [--services 1000,10000,100000] [--walks 100] [--out FILE]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { native, repoRoot, type BpfProgram } from '../src/native/bpf.js';
import { netnsPath, run, runIn } from '../harness/exec.js';
import { loadDatapath, Programs } from '../src/dataplane/loader.js';
import { KernelServiceMaps, openServiceMaps } from '../src/dataplane/kernel-maps.js';
import { Reconciler } from '../src/dataplane/reconciler.js';
import { buildFrame, parseFrame, TCP_FLAGS } from '../harness/packets.js';
import { lbService } from '../harness/services.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000,10000,100000' },
    walks: { type: 'string', default: '100' },
    out: { type: 'string', default: path.join(repoRoot, 'bench', 'results', 'datapath.json') },
  },
});
const serviceCounts = values.services.split(',').map(Number);
const walks = Number(values.walks);
const CLIENT = '10.244.1.10';
const MAX_STEPS = 500;
const PING = '10.250.0.1';
const PONG = '10.250.0.2';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

const vip = (i: number) => `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const round = (x: number) => Math.round(x * 10) / 10;

type TestRunOptions = { netns: string; ifname: string };

async function perRepetition(prog: BpfProgram, frames: Buffer[], repeat: number, options?: TestRunOptions): Promise<{ ns: number; outputs: Buffer[] }> {
  const times: number[] = [];
  const outputs: Buffer[] = [];
  for (const frame of frames) {
    const r = await native().testRun(prog, frame, repeat, options);
    times.push(r.durationNs);
    outputs.push(r.data);
  }
  return { ns: median(times), outputs };
}

async function withPinDir<T>(label: string, fn: (pinDir: string) => Promise<T>): Promise<T> {
  const pinDir = `/sys/fs/bpf/kbp-bench-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
  mkdirSync(pinDir, { recursive: true });
  try {
    return await fn(pinDir);
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
}

/** The empty program's cost per repetition, for the same repeat count (tc, or xdp on `xdpAt`). */
async function baseline(repeat: number, xdpAt?: TestRunOptions): Promise<number> {
  return withPinDir('base', async (pinDir) => {
    const obj = await native().load(path.join(repoRoot, 'bpf', 'build', 'baseline.bpf.o'), { pinRoot: pinDir });
    try {
      const probe = buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: vip(1), sport: 1, dport: 80 });
      const prog = obj.program(xdpAt ? 'kbp_baseline_xdp' : 'kbp_baseline');
      return (
        await perRepetition(
          prog,
          Array.from({ length: walks }, () => probe),
          repeat,
          xdpAt,
        )
      ).ns;
    } finally {
      obj.close();
    }
  });
}

async function measure(services: number): Promise<Record<string, number>> {
  // A walk moves 1..3 services forward per step; it must not come round to a service it has visited.
  const steps = Math.min(MAX_STEPS, Math.floor(services / 4));
  const base = await baseline(steps);
  return withPinDir(String(services), async (pinDir) => {
    const obj = await loadDatapath({ pinDir, hairpinAddress: '169.254.42.1' });
    try {
      const ring = Array.from({ length: services }, (_, i) =>
        lbService(
          `bench/svc${i}:http`,
          [{ address: vip(i + 1), port: 80, protocol: 'TCP' }],
          [1, 2, 3].map((d) => ({ address: vip(((i + d) % services) + 1), port: 80 })),
        ),
      );
      // Two more services that send to each other: one flow bounces between them, every repetition an
      // established flow in a warm cache, the way single-flow test-run figures are usually taken.
      const pair = [
        lbService('bench/ping:http', [{ address: PING, port: 80, protocol: 'TCP' }], [{ address: PONG, port: 80 }]),
        lbService('bench/pong:http', [{ address: PONG, port: 80, protocol: 'TCP' }], [{ address: PING, port: 80 }]),
      ];
      const reconciler = new Reconciler(new KernelServiceMaps(native(), openServiceMaps(obj)));
      const started = performance.now();
      reconciler.sync([...ring, ...pair]);
      const programMs = performance.now() - started;
      const fromPod = obj.program(Programs.fromPod);
      const toPod = obj.program(Programs.toPod);

      // Each walk starts at its own service with its own source port, so no two walks share a flow.
      const starts = Array.from({ length: walks }, (_, w) => ({ sport: 10000 + w, at: (w * 7919) % services }));
      const syns = starts.map((s) => buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: vip(s.at + 1), sport: s.sport, dport: 80 }));
      const newFlow = await perRepetition(fromPod, syns, steps);
      const acks = starts.map((s) => buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: vip(s.at + 1), sport: s.sport, dport: 80, tcpFlags: TCP_FLAGS.ACK }));
      const established = await perRepetition(fromPod, acks, steps);
      // A reply from where each walk ended goes back along it, one reverse NAT per step.
      const replies = newFlow.outputs.map((out, w) => {
        const end = parseFrame(out);
        return buildFrame({ proto: 'TCP', saddr: end.daddr, daddr: CLIENT, sport: end.dport, dport: starts[w]?.sport ?? 0, tcpFlags: TCP_FLAGS.ACK });
      });
      const reply = await perRepetition(toPod, replies, steps);
      const returned = reply.outputs.filter((out, w) => parseFrame(out).saddr === vip((starts[w]?.at ?? 0) + 1)).length;
      if (returned !== walks) throw new Error(`only ${returned} of ${walks} replies came back to their first service`);
      const bounce = buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: PING, sport: 9999, dport: 80, tcpFlags: TCP_FLAGS.ACK });
      await native().testRun(fromPod, bounce, 2); // creates the two flows
      const warm = await perRepetition(
        fromPod,
        Array.from({ length: walks }, () => bounce),
        steps,
      );
      const other = buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: '10.244.2.1', sport: 2000, dport: 80 });
      const notService = await perRepetition(
        fromPod,
        Array.from({ length: walks }, () => other),
        steps,
      );
      return {
        services,
        steps_per_run: steps,
        program_ms: Math.round(programMs),
        new_flow_ns: round(newFlow.ns - base),
        established_ns: round(established.ns - base),
        established_warm_ns: round(warm.ns - base),
        reply_revnat_ns: round(reply.ns - base),
        not_a_service_ns: round(notService.ns - base),
        baseline_ns: base,
      };
    } finally {
      obj.close();
    }
  });
}

/** A namespace whose FIB sends everything in 10.0.0.0/8 to one neighbour: the "other node". */
async function withFibNamespace<T>(fn: (at: TestRunOptions) => Promise<T>): Promise<T> {
  const ns = `kbp-bench-${process.pid}-${randomBytes(2).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    await runIn(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await runIn(ns, 'ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
    await runIn(ns, 'ip', ['addr', 'add', `${NODE}/24`, 'dev', 'eth0']);
    await runIn(ns, 'ip', ['link', 'set', 'eth0', 'up']);
    await runIn(ns, 'ip', ['link', 'set', 'peer0', 'up']);
    await runIn(ns, 'ip', ['neigh', 'replace', NEXT_HOP, 'lladdr', '02:00:00:00:b0:01', 'dev', 'eth0', 'nud', 'permanent']);
    await runIn(ns, 'ip', ['route', 'add', '10.0.0.0/8', 'via', NEXT_HOP]);
    return await fn({ netns: netnsPath(ns), ifname: 'eth0' });
  } finally {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

const NODE = '192.168.0.11';
const NEXT_HOP = '192.168.0.12';
const OUTSIDE_CLIENT = '192.168.0.100';

/** Node ports in a ring through kbp_from_world: backends all local, or all on another node. */
async function measureExternal(services: number, at: TestRunOptions): Promise<Record<string, number | string>> {
  const steps = Math.min(MAX_STEPS, Math.floor(services / 4));
  const base = await baseline(steps, at);
  const row: Record<string, number | string> = { services, steps_per_run: steps };
  for (const placement of ['local', 'remote'] as const) {
    await withPinDir(`xdp-${placement}-${services}`, async (pinDir) => {
      const obj = await loadDatapath({ pinDir, hairpinAddress: '169.254.42.1', nodeAddress: NODE });
      try {
        const ring = Array.from({ length: services }, (_, i) =>
          lbService(
            `bench/np${i}:http`,
            [{ address: vip(i + 1), port: 30080, protocol: 'TCP' }],
            [1, 2, 3].map((d) => ({ address: vip(((i + d) % services) + 1), port: 30080, local: placement === 'local' })),
            { external: 'nodePort' },
          ),
        );
        // Two more node ports that send to each other: one established flow bouncing in a warm cache.
        // Local backends only: through remote ones, every source NAT would make the next hop a new flow.
        const pair =
          placement === 'remote'
            ? []
            : [
                lbService('bench/np-ping:http', [{ address: PING, port: 30080, protocol: 'TCP' }], [{ address: PONG, port: 30080 }], { external: 'nodePort' }),
                lbService('bench/np-pong:http', [{ address: PONG, port: 30080, protocol: 'TCP' }], [{ address: PING, port: 30080 }], { external: 'nodePort' }),
              ];
        new Reconciler(new KernelServiceMaps(native(), openServiceMaps(obj))).sync([...ring, ...pair]);
        const prog = obj.program(Programs.fromWorld);
        const starts = Array.from({ length: walks }, (_, w) => ({ sport: 10000 + w, at: (w * 7919) % services }));
        const syn = starts.map((s) => buildFrame({ proto: 'TCP', saddr: OUTSIDE_CLIENT, daddr: vip(s.at + 1), sport: s.sport, dport: 30080 }));
        const ack = starts.map((s) =>
          buildFrame({ proto: 'TCP', saddr: OUTSIDE_CLIENT, daddr: vip(s.at + 1), sport: s.sport, dport: 30080, tcpFlags: TCP_FLAGS.ACK }),
        );
        row[`nodeport_${placement}_new_flow_ns`] = round((await perRepetition(prog, syn, steps, at)).ns - base);
        row[`nodeport_${placement}_established_ns`] = round((await perRepetition(prog, ack, steps, at)).ns - base);
        if (placement === 'local') {
          const bounce = buildFrame({ proto: 'TCP', saddr: OUTSIDE_CLIENT, daddr: PING, sport: 9999, dport: 30080, tcpFlags: TCP_FLAGS.ACK });
          await native().testRun(prog, bounce, 2, at); // creates the flows
          row.nodeport_local_warm_ns = round(
            (
              await perRepetition(
                prog,
                Array.from({ length: walks }, () => bounce),
                steps,
                at,
              )
            ).ns - base,
          );
        }
      } finally {
        obj.close();
      }
    });
  }
  row.baseline_ns = base;
  return row;
}

const rows = [];
for (const n of serviceCounts) {
  const row = await measure(n);
  console.error(JSON.stringify(row));
  rows.push(row);
}
const externalRows = await withFibNamespace(async (at) => {
  const out = [];
  for (const n of serviceCounts) {
    const row = await measureExternal(n, at);
    console.error(JSON.stringify(row));
    out.push(row);
  }
  return out;
});
const result = {
  benchmark: 'datapath-test-run',
  date: new Date().toISOString(),
  kernel: release(),
  command: `node dist/bench/datapath.js --services ${values.services} --walks ${walks}`,
  method: "services in a ring (backends = next services' VIPs); kernel average per repetition, median over walks, minus an empty tc program",
  rows,
  xdp_method:
    'node ports in a ring (backends = next node ports), all on this node or all on another; kernel average per repetition, median over walks, minus an empty xdp program',
  xdp_rows: externalRows,
};
mkdirSync(path.dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
