// The datapath suite: the per-packet cost of the loaded programs through BPF_PROG_TEST_RUN, with 1 to
// 100k services installed and the connection-tracking table at its steady state (full).
//
// test-run repeats a program on the same packet, and the programs rewrite it: after one DNAT the packet
// is addressed to a backend. So the services are installed as a ring: each service's backends are the
// frontends of the next three services. Every repetition then translates the packet again: on the first
// pass of a walk each step is a new flow (conntrack miss, Maglev, both legs created), the same walk
// again is all established flows (conntrack hits), the walk back all replies (reverse NAT). The warm
// figures bounce one flow between two services that are each other's backend: the same flows again, in
// a warm cache. Each sample is the kernel's average per repetition of one test-run call minus the median
// of an empty program's, measured between the samples at the same repeat count.
//
// Before timing, ct_v4 (an LRU hash) is filled to its capacity from user space with pod flows (both
// legs) toward the installed frontends, so every new flow's two inserts evict, as on a busy node. The
// flows a walk measures are created after the fill and checked in the table after both passes: every
// service leg of the walk must hold exactly two packets (created by the first pass, hit once by the
// second), so no "new" step hit an older flow and no "established" step found its flow evicted. Then they are deleted and replaced by as many fill flows, so the table stays
// full of the fill (see batches()). The warm flows are checked the same way (packets = repetitions).
//
// The XDP path for outside traffic (kbp_from_world) is measured the same way with node ports in a ring,
// all backends on this node (DNAT, pass) or all on another (SNAT, DNAT, next hop, XDP_TX), in a network
// namespace of the run's own for the FIB. A test-run of an XDP program with repeat > 1 adds it to the
// kernel's XDP dispatcher and removes it again afterwards unless it is already there: a rewrite of the
// dispatcher's code and RCU grace periods at every call (~26 ms of wall time each on the 2-core VM),
// after which the call's first repetitions ran ~10 us slower there, an error of 40 ns/packet at 250
// repetitions (an empty program's first repetitions are not slowed as much, so subtracting it does not
// remove it). So both XDP programs (kbp_from_world and the empty one) are attached to interfaces of
// that namespace for the run, which keeps them in the dispatcher, and the repeat counts are large.
import { mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { Check } from 'typebox/value';
import { native, repoRoot, type BpfMap, type BpfObject, type BpfProgram } from '../../src/native/bpf.js';
import { loadDatapath, Programs } from '../../src/dataplane/loader.js';
import { KernelServiceMaps, openServiceMaps, type ServiceMapHandles } from '../../src/dataplane/kernel-maps.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { CtDir, CtFlag, IPPROTO, backendV4, writeIPv4, ctEntryV4, ctKeyV4, decodeU32, svcKeyV4, svcValV4, type CtKey } from '../../src/dataplane/layout.js';
import type { LbService } from '../../src/compile/types.js';
import { netnsPath, run, runIn } from '../../harness/exec.js';
import { buildFrame, parseFrame, TCP_FLAGS } from '../../harness/packets.js';
import { lbService } from '../../harness/services.js';

// ---- The result ----

const Figure = Type.Object({
  repeat: Type.Integer({ description: 'repetitions per test-run call; each call is one sample' }),
  samplesNs: Type.Array(Type.Number(), { description: "every sample: the kernel's average per repetition minus baselineNs, ns/packet" }),
  medianNs: Type.Number(),
  minNs: Type.Number(),
  maxNs: Type.Number(),
  meanNs: Type.Number(),
  baselineNs: Type.Number({ description: 'median over the samples of the empty program at the same repeat count, measured between them' }),
});
export type Figure = Static<typeof Figure>;

const Conntrack = Type.Object({
  capacity: Type.Integer({ description: "ct_v4's max_entries" }),
  written: Type.Integer({ description: 'fill entries written from user space: to capacity first, then in place of each group of measured flows' }),
  fillMs: Type.Number({ description: 'time to fill the table to capacity (building the entries, BPF_MAP_UPDATE_BATCH, counting), ms' }),
  entries: Type.Integer({ description: 'entries when timing started' }),
  fill: Type.Number({ description: 'entries / capacity when timing started' }),
  entriesAtEnd: Type.Integer({ description: 'entries when timing ended' }),
});

const TcRow = Type.Object({
  services: Type.Integer(),
  programMs: Type.Number({ description: 'the reconciler programming all services from cold, ms' }),
  conntrack: Conntrack,
  newFlow: Figure,
  establishedWalk: Figure,
  establishedWarm: Figure,
  reply: Figure,
  notAService: Figure,
});

const XdpPlacement = Type.Object({
  conntrack: Conntrack,
  /** Cold: a new flow at every repetition (the walk's first pass). */
  newFlow: Figure,
  establishedWalk: Figure,
  /** Warm: the same two flows again and again. */
  establishedWarm: Figure,
});

const XdpRow = Type.Object({
  services: Type.Integer(),
  local: XdpPlacement,
  remote: XdpPlacement,
});

export const datapathSuite = Type.Object({
  suite: Type.Literal('datapath'),
  method: Type.String(),
  settings: Type.Object({
    services: Type.Array(Type.Integer()),
    quick: Type.Boolean(),
    samples: Type.Integer({ description: 'test-run calls per figure' }),
    tcWalkMax: Type.Integer({ description: 'most steps of a tc walk (repeat of the walk figures); a walk has min(this, services / 4), at least 1' }),
    xdpWalkMax: Type.Integer({ description: 'the same for the XDP walks' }),
    warmRepeat: Type.Integer({ description: 'repeat of the warm and not-a-service figures' }),
  }),
  tc: Type.Array(TcRow),
  xdp: Type.Array(XdpRow),
});
export type DatapathResult = Static<typeof datapathSuite>;
type TcRow = Static<typeof TcRow>;
type XdpPlacement = Static<typeof XdpPlacement>;
type Conntrack = Static<typeof Conntrack>;

export const DEFAULT_SERVICES = [1, 1000, 10000, 100000];
export const QUICK_SERVICES = [1, 1000];

interface Settings {
  samples: number;
  tcWalkMax: number;
  xdpWalkMax: number;
  warmRepeat: number;
}
// Repeat counts. A call's first repetitions are slower (caches cold after the syscall): measured on the
// warm flow, ~1 us in all for tc and for XDP held in the dispatcher, so under 1 ns/packet from 1000
// repetitions on. tc walks as before (500 steps at most). XDP walks up to 5000 steps (a walk has at most
// services / 4, so 250 at 1000 services and 1 at 1 service: there a figure includes that first-run
// cost). Warm and not-a-service figures at 100k repetitions (~25 ms a call): the per-repetition
// average has settled by 10k. 100 samples per figure, as the 100 walks before.
const FULL: Settings = { samples: 100, tcWalkMax: 500, xdpWalkMax: 5000, warmRepeat: 100_000 };
const QUICK: Settings = { samples: 10, tcWalkMax: 50, xdpWalkMax: 100, warmRepeat: 2000 };

const METHOD =
  "services in a ring (backends = the next services' frontends), so each repetition of a test-run is a translation; ct_v4 filled to capacity with pod flows before timing, so new flows evict; " +
  'walks in groups of at most capacity/8 entries (first passes, then second passes), their flows checked in ct_v4 afterwards and replaced by fill flows; sample = kernel average per repetition of one call minus the median of an empty program at the same repeat count; ' +
  'XDP: kbp_from_world and the empty program attached in the run namespace so test-runs do not re-patch the XDP dispatcher; remote warm = two hand-written source-NATed flows that feed each other';

// ---- Addresses and frames ----

const CLIENT = '10.244.1.10';
const NOT_A_SERVICE = '10.244.2.1';
const PING = '10.250.0.1';
const PONG = '10.250.0.2';
const NODE = '192.168.0.11';
const NEXT_HOP = '192.168.0.12';
const OUTSIDE_CLIENT = '192.168.0.100';
const HAIRPIN = '169.254.42.1';
const SERVICE_PORT = 80;
const NODE_PORT = 30080;
const TCP = IPPROTO.TCP;
const TC_ACT_OK = 0;
const XDP_PASS = 2;
const XDP_TX = 3;
const ESTABLISHED_LIFETIME_NS = 6n * 3600n * 1_000_000_000n;

const vip = (i: number) => `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const round = (x: number) => Math.round(x * 10) / 10;

/** Ring member i's backends: the frontends of the next three members (fewer in a ring of fewer). */
function ringBackends(i: number, n: number): string[] {
  return [...new Set([1, 2, 3].map((d) => (i + d) % n))].map((j) => vip(j + 1));
}

/** Steps of a walk: it moves 1..3 members forward per step and must not come round to one it visited. */
function walkLength(services: number, max: number): number {
  return Math.max(1, Math.min(max, Math.floor(services / 4)));
}

interface Walk {
  /** Ring member the walk starts at. */
  at: number;
  sport: number;
}

/** Each walk starts at its own member with its own source port, so no two walks share a flow. */
function walks(count: number, services: number): Walk[] {
  return Array.from({ length: count }, (_, w) => ({ sport: 10000 + w, at: (w * 7919) % services }));
}

function tcpFrame(saddr: string, daddr: string, sport: number, dport: number, flags: number): Buffer {
  return buildFrame({ proto: 'TCP', saddr, daddr, sport, dport, tcpFlags: flags });
}

function showKey(k: CtKey): string {
  return `${k.saddr}:${k.sport} -> ${k.daddr}:${k.dport} dir ${k.dir}`;
}

/** Where a translated packet goes, and from where. */
interface Endpoints {
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
}
function endOf(frame: Buffer): Endpoints {
  const f = parseFrame(frame);
  return { saddr: f.saddr, sport: f.sport, daddr: f.daddr, dport: f.dport };
}
/** A walk's second pass must end where its first did: the same translations. */
function sameEnd(now: Endpoints, before: Endpoints | undefined, what: string): void {
  const show = (e: Endpoints) => `${e.saddr}:${e.sport} -> ${e.daddr}:${e.dport}`;
  if (!before || show(now) !== show(before)) throw new Error(`${what}: it ended at ${show(now)}, its first pass at ${before ? show(before) : '?'}`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** A small seeded generator (mulberry32): the fill is the same on every run. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

// ---- Resources of the run: pin directories and one network namespace, removed also on failure ----

const created = { pins: new Set<string>(), namespaces: new Set<string>() };

/** Synchronous, for a signal: what the run created and has not removed yet. */
function removeLeftovers(): void {
  for (const pin of created.pins) rmSync(pin, { recursive: true, force: true });
  for (const ns of created.namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  created.pins.clear();
  created.namespaces.clear();
}

async function withPinDir<T>(label: string, fn: (pinDir: string) => Promise<T>): Promise<T> {
  const pinDir = `/sys/fs/bpf/kbp-bench-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
  mkdirSync(pinDir);
  created.pins.add(pinDir);
  try {
    return await fn(pinDir);
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
    created.pins.delete(pinDir);
  }
}

interface XdpAt {
  netns: string;
  /** The interface kbp_from_world is attached to and receives on. */
  ifname: string;
}

/**
 * A namespace whose FIB sends everything in 10.0.0.0/8 to one neighbour, the "other node": eth0 (this
 * node's interface, where kbp_from_world is attached) and its veth peer peer0 (where the empty program
 * is). No IPv6, so nothing arrives at either by itself.
 */
async function withFibNamespace<T>(fn: (at: XdpAt) => Promise<T>): Promise<T> {
  const ns = `kbp-bench-${process.pid}-${randomBytes(2).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  created.namespaces.add(ns);
  try {
    await runIn(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']).catch(() => undefined);
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
    created.namespaces.delete(ns);
  }
}

// ---- Timing ----

interface Timer {
  prog: BpfProgram;
  /** The empty program of the same kind. */
  base: BpfProgram;
  at?: XdpAt;
  /** The verdict every call must end with (of its last repetition). */
  verdict: number;
}

/** The samples of one figure, each with an empty program's call just before it. */
class Samples {
  private readonly raw: number[] = [];
  private readonly base: number[] = [];
  constructor(readonly repeat: number) {}

  async take(t: Timer, frame: Buffer, what: string): Promise<Buffer> {
    this.base.push((await native().testRun(t.base, frame, this.repeat, t.at)).durationNs);
    const r = await native().testRun(t.prog, frame, this.repeat, t.at);
    if (r.retval !== t.verdict) throw new Error(`${what}: ${t.prog.name} returned ${r.retval}, expected ${t.verdict}`);
    this.raw.push(r.durationNs);
    return r.data;
  }

  figure(): Figure {
    const baseline = median(this.base);
    const samples = this.raw.map((x) => x - baseline);
    return {
      repeat: this.repeat,
      samplesNs: samples,
      medianNs: median(samples),
      minNs: Math.min(...samples),
      maxNs: Math.max(...samples),
      meanNs: round(samples.reduce((a, b) => a + b, 0) / samples.length),
      baselineNs: baseline,
    };
  }
}

// ---- The maps: what the reconciler installed, the conntrack fill, the checks ----

interface Address {
  ip: string;
  port: number;
}

/** Frontends and backends as the reconciler wrote them, read back from the maps. */
class Installed {
  private readonly frontends = new Map<string, { svcId: number; revnatId: number }>();
  private readonly backendIds = new Map<string, number>();
  readonly backends = new Map<number, Address>();

  constructor(maps: ServiceMapHandles) {
    const svc = maps.svc.entries();
    for (let i = 0; i < svc.count; i++) {
      const key = svcKeyV4.decode(svc.keys, i * maps.svc.info.keySize);
      const value = svcValV4.decode(svc.values, i * maps.svc.info.valueSize);
      this.frontends.set(`${key.vip}:${key.port}`, { svcId: value.svcId, revnatId: value.revnatId });
    }
    const be = maps.backends.entries();
    for (let i = 0; i < be.count; i++) {
      const id = decodeU32(be.keys, i * maps.backends.info.keySize);
      const value = backendV4.decode(be.values, i * maps.backends.info.valueSize);
      this.backends.set(id, { ip: value.ip, port: value.port });
      this.backendIds.set(`${value.ip}:${value.port}`, id);
    }
  }

  frontend(ip: string, port: number): { svcId: number; revnatId: number } {
    const f = this.frontends.get(`${ip}:${port}`);
    if (!f) throw new Error(`frontend ${ip}:${port} is not in svc_v4`);
    return f;
  }

  backendId(ip: string, port: number): number {
    const id = this.backendIds.get(`${ip}:${port}`);
    if (id === undefined) throw new Error(`backend ${ip}:${port} is not in backends_v4`);
    return id;
  }
}

interface FillTarget {
  vip: string;
  port: number;
  svcId: number;
  revnatId: number;
  backends: (Address & { id: number })[];
}

function ringTargets(installed: Installed, services: number, port: number): FillTarget[] {
  return Array.from({ length: services }, (_, i) => ({
    vip: vip(i + 1),
    port,
    ...installed.frontend(vip(i + 1), port),
    backends: ringBackends(i, services).map((ip) => ({ ip, port, id: installed.backendId(ip, port) })),
  }));
}

function countEntries(ct: BpfMap): number {
  return ct.entries().count;
}

/** Where a member of a map struct lies (from src/dataplane/layout.ts, which the layout test holds to the BTF). */
function offsetOf(layout: { name: string; members: readonly { name: string; offset: number }[] }, member: string): number {
  const m = layout.members.find((x) => x.name === member);
  if (!m) throw new Error(`${layout.name} has no member ${member}`);
  return m.offset;
}
const KEY_SADDR = offsetOf(ctKeyV4, 'saddr');
const KEY_DADDR = offsetOf(ctKeyV4, 'daddr');
const KEY_SPORT = offsetOf(ctKeyV4, 'sport');
const KEY_DPORT = offsetOf(ctKeyV4, 'dport');
const ENTRY_CLIENT_IP = offsetOf(ctEntryV4, 'clientIp');
const ENTRY_CLIENT_PORT = offsetOf(ctEntryV4, 'clientPort');

function ipNumber(ip: string): number {
  const b = Buffer.alloc(4);
  writeIPv4(b, ip, 0);
  return b.readUInt32BE(0);
}

/** An LRU hash evicts in batches into a per-CPU free list of this many elements (kernel's LOCAL_FREE_TARGET). */
const LRU_LOCAL_FREE = 128;

/**
 * Established pod flows toward the targets, written into ct_v4 from user space, both legs (the
 * client's, keyed to the frontend, and the backend's reply): random clients in 10.244.128.0/17 (never a
 * client the walks use), random ports of Linux's ephemeral range, a random backend of the frontend's.
 * Each (frontend, backend) has one encoded entry whose client address and port are patched per flow.
 */
class ConntrackFill {
  written = 0;
  readonly capacity: number;
  private readonly random: () => number;
  private readonly serviceKey = ctKeyV4.encode({ saddr: '0.0.0.0', daddr: '0.0.0.0', sport: 0, dport: 0, proto: TCP, dir: CtDir.service });
  private readonly replyKey = ctKeyV4.encode({ saddr: '0.0.0.0', daddr: '0.0.0.0', sport: 0, dport: 0, proto: TCP, dir: CtDir.reply });
  private readonly targets: { vip: number; port: number; backends: { ip: number; port: number; service: Buffer; reply: Buffer }[] }[];

  constructor(
    private readonly ct: BpfMap,
    targets: readonly FillTarget[],
    seed: number,
  ) {
    if (ct.info.keySize !== ctKeyV4.size || ct.info.valueSize !== ctEntryV4.size) throw new Error('ct_v4 does not have the layout of src/dataplane/layout.ts');
    this.capacity = ct.info.maxEntries;
    const random = generator(seed);
    this.random = random;
    const expires = process.hrtime.bigint() + ESTABLISHED_LIFETIME_NS; // CLOCK_MONOTONIC, as bpf_ktime_get_coarse_ns
    this.targets = targets.map((t) => ({
      vip: ipNumber(t.vip),
      port: t.port,
      backends: t.backends.map((be) => {
        const packets = BigInt(2 + (random() % 1000));
        const entry = {
          expiresNs: expires,
          packets,
          bytes: packets * 100n,
          backendId: be.id,
          revnatId: t.revnatId,
          svcId: t.svcId,
          clientIp: '0.0.0.0',
          flags: CtFlag.seenReply,
          clientPort: 0,
          natPort: 0,
        };
        return {
          ip: ipNumber(be.ip),
          port: be.port,
          service: ctEntryV4.encode(entry),
          reply: ctEntryV4.encode({ ...entry, packets: packets - 1n, bytes: (packets - 1n) * 100n }),
        };
      }),
    }));
  }

  /**
   * Writes capacity entries (one BPF_MAP_UPDATE_BATCH) and tops up if random keys repeated. A full
   * LRU hash reads a little under its capacity: an insert that finds no free element evicts a batch
   * into its CPU's free list, which the next inserts there take.
   */
  toCapacity(): { fillMs: number; count: number } {
    const started = performance.now();
    this.write(Math.ceil(this.capacity / 2));
    let count = countEntries(this.ct);
    const full = this.capacity - LRU_LOCAL_FREE * native().possibleCpus();
    for (let round = 0; round < 3 && count < full; round++) {
      this.write(Math.ceil((this.capacity - count) / 2));
      count = countEntries(this.ct);
    }
    return { fillMs: Math.round(performance.now() - started), count };
  }

  /** Deletes these entries (those still there) and writes as many fill entries in their place. */
  replace(keys: readonly CtKey[]): void {
    let deleted = 0;
    for (const key of keys) if (this.ct.delete(ctKeyV4.encode(key))) deleted++;
    this.write(Math.ceil(deleted / 2));
  }

  private write(flows: number): void {
    const { random } = this;
    const keys = Buffer.alloc(2 * flows * ctKeyV4.size);
    const values = Buffer.alloc(2 * flows * ctEntryV4.size);
    for (let f = 0; f < flows; f++) {
      const target = this.targets[random() % this.targets.length];
      const be = target?.backends[random() % target.backends.length];
      if (!target || !be) throw new Error('no frontend with a backend to fill conntrack toward');
      const client = (0x0af48000 | (random() & 0x7fff)) >>> 0;
      const clientPort = 32768 + (random() % 28232);
      const k = 2 * f * ctKeyV4.size;
      const v = 2 * f * ctEntryV4.size;
      this.serviceKey.copy(keys, k);
      keys.writeUInt32BE(client, k + KEY_SADDR);
      keys.writeUInt32BE(target.vip, k + KEY_DADDR);
      keys.writeUInt16BE(clientPort, k + KEY_SPORT);
      keys.writeUInt16BE(target.port, k + KEY_DPORT);
      this.replyKey.copy(keys, k + ctKeyV4.size);
      keys.writeUInt32BE(be.ip, k + ctKeyV4.size + KEY_SADDR);
      keys.writeUInt32BE(client, k + ctKeyV4.size + KEY_DADDR);
      keys.writeUInt16BE(be.port, k + ctKeyV4.size + KEY_SPORT);
      keys.writeUInt16BE(clientPort, k + ctKeyV4.size + KEY_DPORT);
      be.service.copy(values, v);
      be.reply.copy(values, v + ctEntryV4.size);
      for (const at of [v, v + ctEntryV4.size]) {
        values.writeUInt32BE(client, at + ENTRY_CLIENT_IP);
        values.writeUInt16BE(clientPort, at + ENTRY_CLIENT_PORT);
      }
    }
    if (flows > 0) this.ct.updateBatch(keys, values, 2 * flows);
    this.written += 2 * flows;
  }
}

/**
 * Follows a walk's flows through ct_v4 from its first (the service leg as the first packet keyed it):
 * each entry's backend (and for a source-NATed walk its NAT port) gives the next step's key. Every one
 * of the `steps` must be there with exactly `packets` packets. Returns the keys of both legs of every
 * step (a reply leg keyed as the backend's reply reaches the client or, source-NATed, this node).
 */
function checkWalk(ct: BpfMap, installed: Installed, first: CtKey, steps: number, snatTo: string | null, packets: bigint, what: string): CtKey[] {
  const replyDir = first.dir === CtDir.external ? CtDir.externalReply : CtDir.reply;
  const legs: CtKey[] = [];
  let key = first;
  for (let step = 1; step <= steps; step++) {
    const raw = ct.lookup(ctKeyV4.encode(key));
    if (!raw) throw new Error(`${what}: step ${step} of ${steps}: flow ${showKey(key)} is not in ct_v4`);
    const entry = ctEntryV4.decode(raw);
    if (entry.packets !== packets) {
      throw new Error(`${what}: step ${step} of ${steps}: flow ${showKey(key)} has ${entry.packets.toString()} packets, expected ${packets.toString()}`);
    }
    const be = installed.backends.get(entry.backendId);
    if (!be) throw new Error(`${what}: step ${step}: backend ${entry.backendId} is not in backends_v4`);
    const reply =
      snatTo === null
        ? { saddr: be.ip, sport: be.port, daddr: key.saddr, dport: key.sport, proto: key.proto, dir: replyDir }
        : { saddr: be.ip, sport: be.port, daddr: snatTo, dport: entry.natPort, proto: key.proto, dir: replyDir };
    legs.push(key, reply);
    key = snatTo === null ? { ...key, daddr: be.ip, dport: be.port } : { ...key, saddr: snatTo, sport: entry.natPort, daddr: be.ip, dport: be.port };
  }
  return legs;
}

/** The warm flows must have taken every repetition: their packets add up to `packets`. */
function checkWarm(ct: BpfMap, flows: readonly CtKey[], packets: bigint, what: string): void {
  let sum = 0n;
  for (const key of flows) {
    const raw = ct.lookup(ctKeyV4.encode(key));
    if (!raw) throw new Error(`${what}: flow ${showKey(key)} is not in ct_v4`);
    sum += ctEntryV4.read(raw, 'packets');
  }
  if (sum !== packets) throw new Error(`${what}: its flows have ${sum.toString()} packets, expected ${packets.toString()}`);
}

/**
 * Walks in groups: all first passes of a group, then all second passes, then the group's flows are
 * checked, deleted and replaced by fill flows. A group's flows (two entries per step) are at most an
 * eighth of the table, and what its inserts evict is the fill, older and never hit. Walk flows must
 * not pile up: the kernel's LRU spares entries that were hit, so a later group's first-pass flows
 * would be evicted before its second pass, and a remote walk's service legs (hit) outlive their reply
 * legs (not), which frees the NAT port for a later walk that then meets the old service leg.
 */
function batches<T>(items: readonly T[], steps: number, capacity: number): T[][] {
  const size = Math.max(1, Math.floor(capacity / 8 / (2 * steps)));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---- tc ----

async function measureTc(services: number, s: Settings, base: BpfObject, log: (line: string) => void): Promise<TcRow> {
  const steps = walkLength(services, s.tcWalkMax);
  return withPinDir(`tc-${services}`, async (pinDir) => {
    const obj = await loadDatapath({ pinDir, hairpinAddress: HAIRPIN });
    const maps = openServiceMaps(obj);
    const ct = obj.map('ct_v4');
    try {
      const ring = Array.from({ length: services }, (_, i) =>
        lbService(
          `bench/svc${i}:http`,
          [{ address: vip(i + 1), port: SERVICE_PORT, protocol: 'TCP' }],
          ringBackends(i, services).map((address) => ({ address, port: SERVICE_PORT })),
        ),
      );
      // Two more services that send to each other: one flow bounces between them, every repetition an
      // established flow in a warm cache, the way single-flow test-run figures are usually taken.
      const pair = [
        lbService('bench/ping:http', [{ address: PING, port: SERVICE_PORT, protocol: 'TCP' }], [{ address: PONG, port: SERVICE_PORT }]),
        lbService('bench/pong:http', [{ address: PONG, port: SERVICE_PORT, protocol: 'TCP' }], [{ address: PING, port: SERVICE_PORT }]),
      ];
      const reconciler = new Reconciler(new KernelServiceMaps(native(), maps));
      const started = performance.now();
      reconciler.sync([...ring, ...pair]);
      const programMs = Math.round(performance.now() - started);
      const installed = new Installed(maps);
      const fill = new ConntrackFill(ct, ringTargets(installed, services, SERVICE_PORT), 4 * services);
      const filled = fill.toCapacity();
      log(
        `datapath: tc, ${services} services: programmed in ${programMs} ms; conntrack ${filled.count}/${fill.capacity} after writing ${fill.written} entries in ${filled.fillMs} ms`,
      );

      const fromPod: Timer = { prog: obj.program(Programs.fromPod), base: base.program('kbp_baseline'), verdict: TC_ACT_OK };
      const toPod: Timer = { prog: obj.program(Programs.toPod), base: base.program('kbp_baseline'), verdict: TC_ACT_OK };
      const entries = countEntries(ct);
      const newFlow = new Samples(steps);
      const established = new Samples(steps);
      const reply = new Samples(steps);
      for (const group of batches(walks(s.samples, services), steps, fill.capacity)) {
        const ends: Endpoints[] = [];
        for (const w of group)
          ends.push(endOf(await newFlow.take(fromPod, tcpFrame(CLIENT, vip(w.at + 1), w.sport, SERVICE_PORT, TCP_FLAGS.SYN), 'tc new flow')));
        for (const [i, w] of group.entries()) {
          const out = await established.take(fromPod, tcpFrame(CLIENT, vip(w.at + 1), w.sport, SERVICE_PORT, TCP_FLAGS.ACK), 'tc established walk');
          sameEnd(endOf(out), ends[i], `tc established walk from member ${w.at}`);
        }
        const legs: CtKey[] = [];
        for (const w of group) {
          const first = { saddr: CLIENT, daddr: vip(w.at + 1), sport: w.sport, dport: SERVICE_PORT, proto: TCP, dir: CtDir.service };
          legs.push(...checkWalk(ct, installed, first, steps, null, 2n, `tc walk from member ${w.at}`));
        }
        // A reply from where each walk ended goes back along it, one reverse NAT per step.
        for (const [i, w] of group.entries()) {
          const end = ends[i];
          if (!end) throw new Error('tc reply: a walk without an end');
          const out = await reply.take(toPod, tcpFrame(end.daddr, CLIENT, end.dport, w.sport, TCP_FLAGS.ACK), 'tc reply');
          if (parseFrame(out).saddr !== vip(w.at + 1))
            throw new Error(`tc reply: the reply to the walk from member ${w.at} did not come back from its first service`);
        }
        fill.replace(legs);
      }

      const bounce = tcpFrame(CLIENT, PING, 9999, SERVICE_PORT, TCP_FLAGS.ACK);
      await native().testRun(fromPod.prog, bounce, 2); // creates the two flows
      const warm = new Samples(s.warmRepeat);
      for (let i = 0; i < s.samples; i++) await warm.take(fromPod, bounce, 'tc warm');
      const warmFlows = [PING, PONG].map((daddr) => ({ saddr: CLIENT, daddr, sport: 9999, dport: SERVICE_PORT, proto: TCP, dir: CtDir.service }));
      checkWarm(ct, warmFlows, BigInt(2 + s.samples * s.warmRepeat), 'tc warm');
      const notAService = new Samples(s.warmRepeat);
      const other = tcpFrame(CLIENT, NOT_A_SERVICE, 2000, SERVICE_PORT, TCP_FLAGS.SYN);
      for (let i = 0; i < s.samples; i++) await notAService.take(fromPod, other, 'tc not a service');

      const row: TcRow = {
        services,
        programMs,
        conntrack: {
          capacity: fill.capacity,
          written: fill.written,
          fillMs: filled.fillMs,
          entries,
          fill: entries / fill.capacity,
          entriesAtEnd: countEntries(ct),
        },
        newFlow: newFlow.figure(),
        establishedWalk: established.figure(),
        establishedWarm: warm.figure(),
        reply: reply.figure(),
        notAService: notAService.figure(),
      };
      log(
        `datapath: tc, ${services} services, median ns/packet: new flow ${row.newFlow.medianNs}, established walk ${row.establishedWalk.medianNs}, warm ${row.establishedWarm.medianNs}, reply ${row.reply.medianNs}, not a service ${row.notAService.medianNs}`,
      );
      return row;
    } finally {
      ct.close();
      for (const m of [maps.svc, maps.backends, maps.revnat, maps.maglev, maps.sourceRanges]) m.close();
      obj.close();
    }
  });
}

// ---- XDP ----

type Placement = 'local' | 'remote';

/**
 * Two source-NATed flows that feed each other, written as the datapath would have written them: from
 * this node's NAT port pA to PING, sent to PONG from pB, and from pB to PONG, sent to PING from pA.
 * (Through remote backends every source NAT makes the next hop a new flow, so no such pair arises from
 * packets alone.) Returns the two service legs; the first is the flow of the warm packet.
 */
function writeRemoteCycle(ct: BpfMap, installed: Installed): CtKey[] {
  const expires = process.hrtime.bigint() + ESTABLISHED_LIFETIME_NS;
  const legs = [
    { frontend: PING, port: 61001, backend: PONG, natPort: 61002 },
    { frontend: PONG, port: 61002, backend: PING, natPort: 61001 },
  ];
  return legs.map((leg) => {
    const svc = installed.frontend(leg.frontend, NODE_PORT);
    const entry = {
      expiresNs: expires,
      packets: 1n,
      bytes: 54n,
      backendId: installed.backendId(leg.backend, NODE_PORT),
      revnatId: svc.revnatId,
      svcId: svc.svcId,
      clientIp: NODE,
      flags: CtFlag.seenReply,
      clientPort: leg.port,
      natPort: leg.natPort,
    };
    const key = { saddr: NODE, daddr: leg.frontend, sport: leg.port, dport: NODE_PORT, proto: TCP, dir: CtDir.external };
    const replyKey = { saddr: leg.backend, daddr: NODE, sport: NODE_PORT, dport: leg.natPort, proto: TCP, dir: CtDir.externalReply };
    ct.update(ctKeyV4.encode(key), ctEntryV4.encode(entry));
    ct.update(ctKeyV4.encode(replyKey), ctEntryV4.encode({ ...entry, packets: 0n, bytes: 0n }));
    return key;
  });
}

/** Node ports in a ring through kbp_from_world: backends all on this node, or all on another. */
async function measureXdp(services: number, placement: Placement, s: Settings, base: BpfObject, at: XdpAt, log: (line: string) => void): Promise<XdpPlacement> {
  const steps = walkLength(services, s.xdpWalkMax);
  const local = placement === 'local';
  return withPinDir(`xdp-${placement}-${services}`, async (pinDir) => {
    const obj = await loadDatapath({ pinDir, hairpinAddress: HAIRPIN, nodeAddress: NODE });
    const maps = openServiceMaps(obj);
    const ct = obj.map('ct_v4');
    const target = { ifname: at.ifname, netns: at.netns };
    try {
      const nodePort = (key: string, address: string, backends: string[]): LbService =>
        lbService(
          key,
          [{ address, port: NODE_PORT, protocol: 'TCP' }],
          backends.map((b) => ({ address: b, port: NODE_PORT, local })),
          { external: 'nodePort' },
        );
      const ring = Array.from({ length: services }, (_, i) => nodePort(`bench/np${i}:http`, vip(i + 1), ringBackends(i, services)));
      const pair = [nodePort('bench/np-ping:http', PING, [PONG]), nodePort('bench/np-pong:http', PONG, [PING])];
      new Reconciler(new KernelServiceMaps(native(), maps)).sync([...ring, ...pair]);
      const installed = new Installed(maps);
      const fill = new ConntrackFill(ct, ringTargets(installed, services, NODE_PORT), 4 * services + (local ? 1 : 2));
      const filled = fill.toCapacity();
      log(
        `datapath: xdp ${placement}, ${services} services: conntrack ${filled.count}/${fill.capacity} after writing ${fill.written} entries in ${filled.fillMs} ms`,
      );
      const prog = obj.program(Programs.fromWorld);
      native().xdpAttach(target, prog); // held in the XDP dispatcher for the whole measurement
      const timer: Timer = { prog, base: base.program('kbp_baseline_xdp'), at, verdict: local ? XDP_PASS : XDP_TX };

      const entries = countEntries(ct);
      const newFlow = new Samples(steps);
      const established = new Samples(steps);
      for (const group of batches(walks(s.samples, services), steps, fill.capacity)) {
        const ends: Endpoints[] = [];
        for (const w of group) {
          ends.push(endOf(await newFlow.take(timer, tcpFrame(OUTSIDE_CLIENT, vip(w.at + 1), w.sport, NODE_PORT, TCP_FLAGS.SYN), `xdp ${placement} new flow`)));
        }
        for (const [i, w] of group.entries()) {
          const out = await established.take(
            timer,
            tcpFrame(OUTSIDE_CLIENT, vip(w.at + 1), w.sport, NODE_PORT, TCP_FLAGS.ACK),
            `xdp ${placement} established walk`,
          );
          sameEnd(endOf(out), ends[i], `xdp ${placement} established walk from member ${w.at}`);
        }
        for (const w of group) {
          const first = { saddr: OUTSIDE_CLIENT, daddr: vip(w.at + 1), sport: w.sport, dport: NODE_PORT, proto: TCP, dir: CtDir.external };
          fill.replace(checkWalk(ct, installed, first, steps, local ? null : NODE, 2n, `xdp ${placement} walk from member ${w.at}`));
        }
      }

      // Local: one flow bounces between two node ports, as with tc. Remote: two hand-written flows.
      let warmFlows: CtKey[];
      if (local) {
        await native().testRun(prog, tcpFrame(OUTSIDE_CLIENT, PING, 9999, NODE_PORT, TCP_FLAGS.ACK), 2, at); // creates the two flows
        warmFlows = [PING, PONG].map((daddr) => ({ saddr: OUTSIDE_CLIENT, daddr, sport: 9999, dport: NODE_PORT, proto: TCP, dir: CtDir.external }));
      } else {
        warmFlows = writeRemoteCycle(ct, installed);
      }
      const start = warmFlows[0];
      if (!start) throw new Error('no warm flow');
      const warmFrame = tcpFrame(start.saddr, start.daddr, start.sport, start.dport, TCP_FLAGS.ACK);
      const warm = new Samples(s.warmRepeat);
      for (let i = 0; i < s.samples; i++) await warm.take(timer, warmFrame, `xdp ${placement} warm`);
      checkWarm(ct, warmFlows, BigInt(2 + s.samples * s.warmRepeat), `xdp ${placement} warm`);

      const result: XdpPlacement = {
        conntrack: {
          capacity: fill.capacity,
          written: fill.written,
          fillMs: filled.fillMs,
          entries,
          fill: entries / fill.capacity,
          entriesAtEnd: countEntries(ct),
        },
        newFlow: newFlow.figure(),
        establishedWalk: established.figure(),
        establishedWarm: warm.figure(),
      };
      log(
        `datapath: xdp ${placement}, ${services} services, median ns/packet: new flow ${result.newFlow.medianNs}, established walk ${result.establishedWalk.medianNs}, warm ${result.establishedWarm.medianNs}`,
      );
      return result;
    } finally {
      native().xdpDetach(target);
      ct.close();
      for (const m of [maps.svc, maps.backends, maps.revnat, maps.maglev, maps.sourceRanges]) m.close();
      obj.close();
    }
  });
}

// ---- The suite ----

export interface DatapathOptions {
  services: number[];
  /** Few samples and short walks: proves the suite runs, measures nothing worth keeping. */
  quick: boolean;
  log: (line: string) => void;
}

/**
 * Runs the datapath suite (as root). Everything it creates (pin directories under /sys/fs/bpf, one
 * network namespace) is removed when it returns or throws, and on SIGINT or SIGTERM during the run.
 */
export async function runDatapathSuite(options: DatapathOptions): Promise<DatapathResult> {
  const s = options.quick ? QUICK : FULL;
  const onSignal = (signal: NodeJS.Signals) => {
    removeLeftovers();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await withPinDir('base', async (basePin) => {
      const base = await native().load(path.join(repoRoot, 'bpf', 'build', 'baseline.bpf.o'), { pinRoot: basePin });
      try {
        const tc: TcRow[] = [];
        for (const n of options.services) tc.push(await measureTc(n, s, base, options.log));
        const xdp = await withFibNamespace(async (at) => {
          native().xdpAttach({ ifname: 'peer0', netns: at.netns }, base.program('kbp_baseline_xdp'));
          const rows: Static<typeof XdpRow>[] = [];
          for (const n of options.services) {
            rows.push({
              services: n,
              local: await measureXdp(n, 'local', s, base, at, options.log),
              remote: await measureXdp(n, 'remote', s, base, at, options.log),
            });
          }
          return rows;
        });
        const result: DatapathResult = { suite: 'datapath', method: METHOD, settings: { services: options.services, quick: options.quick, ...s }, tc, xdp };
        if (!Check(datapathSuite, result)) throw new Error('the datapath result does not match its schema');
        return result;
      } finally {
        base.close();
      }
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
