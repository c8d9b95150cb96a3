// Packet tests of the tc programs through BPF_PROG_TEST_RUN: frames in, verdict and frame out,
// maps seeded through the reconciler and counters checked after.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { native, type BpfProgram } from '../../src/native/bpf.js';
import { Programs } from '../../src/dataplane/loader.js';
import type { LbService } from '../../src/compile/types.js';
import { buildFrame, parseFrame, TCP_FLAGS, type FrameSpec } from '../../harness/packets.js';
import { HAIRPIN_ADDRESS, TC_ACT, loadTestDatapath, removePinDir, uniquePinDir, type LoadedDatapath } from '../helpers/datapath.js';
import { lbService } from '../../harness/services.js';
import { ifSet } from '../helpers/types.js';

const VIP = '10.96.0.10';
const CLIENT = '10.244.1.10';
const BACKENDS = ['10.244.1.20', '10.244.1.21', '10.244.1.22'];

const web: LbService = lbService(
  'default/web:http',
  [{ address: VIP, port: 80, protocol: 'TCP' }],
  BACKENDS.map((address) => ({ address, port: 8080 })),
);
const dns: LbService = lbService(
  'default/dns:dns',
  [{ address: VIP, port: 53, protocol: 'UDP' }],
  BACKENDS.map((address) => ({ address, port: 5353, protocol: 'UDP' })),
);
const empty: LbService = lbService(
  'default/empty:http',
  [
    { address: '10.96.0.11', port: 80, protocol: 'TCP' },
    { address: '10.96.0.11', port: 53, protocol: 'UDP' },
  ],
  [],
);
const sticky: LbService = lbService(
  'default/sticky:http',
  [{ address: '10.96.0.13', port: 80, protocol: 'TCP' }],
  BACKENDS.map((address) => ({ address, port: 8080 })),
  { affinityTimeoutSeconds: 60 },
);
const self: LbService = lbService('default/self:http', [{ address: '10.96.0.12', port: 80, protocol: 'TCP' }], [{ address: CLIENT, port: 8080 }]);

describe('tc datapath under test-run', () => {
  const pinDir = uniquePinDir('datapath');
  let dp: LoadedDatapath;
  let fromPod: BpfProgram;
  let toPod: BpfProgram;

  before(async () => {
    dp = await loadTestDatapath(pinDir);
    dp.reconciler.sync([web, dns, empty, self, sticky]);
    fromPod = dp.obj.program(Programs.fromPod);
    toPod = dp.obj.program(Programs.toPod);
  });
  after(() => {
    ifSet(dp)?.close();
    removePinDir(pinDir);
  });

  const run = (prog: () => BpfProgram, spec: FrameSpec) => native().testRun(prog(), buildFrame(spec), 1);

  test('a SYN to VIP:port is DNATed to a backend with valid IP and TCP checksums', async () => {
    const before = dp.counters();
    const res = await run(() => fromPod, { proto: 'TCP', saddr: CLIENT, daddr: VIP, sport: 40000, dport: 80 });
    assert.equal(res.retval, TC_ACT.OK);
    const out = parseFrame(res.data);
    assert.ok(BACKENDS.includes(out.daddr), `DNAT target ${out.daddr}`);
    assert.equal(out.dport, 8080);
    assert.equal(out.saddr, CLIENT);
    assert.equal(out.sport, 40000);
    assert.ok(out.ipChecksumOk, 'IP checksum');
    assert.ok(out.l4ChecksumOk, 'TCP checksum');
    assert.equal(dp.counters().ct_new.packets, before.ct_new.packets + 1);
  });

  test('an established flow keeps its backend, and the reply is reverse-NATed', async () => {
    const flow = { proto: 'TCP', saddr: CLIENT, daddr: VIP, sport: 40001, dport: 80 } as const;
    const first = parseFrame((await run(() => fromPod, flow)).data);
    const before = dp.counters();
    for (let i = 0; i < 5; i++) {
      const again = parseFrame((await run(() => fromPod, { ...flow, tcpFlags: TCP_FLAGS.ACK })).data);
      assert.equal(again.daddr, first.daddr);
    }
    assert.equal(dp.counters().ct_hit.packets, before.ct_hit.packets + 5);

    const reply = await run(() => toPod, {
      proto: 'TCP',
      saddr: first.daddr,
      daddr: CLIENT,
      sport: 8080,
      dport: 40001,
      tcpFlags: TCP_FLAGS.SYN | TCP_FLAGS.ACK,
    });
    assert.equal(reply.retval, TC_ACT.OK);
    const back = parseFrame(reply.data);
    assert.equal(back.saddr, VIP);
    assert.equal(back.sport, 80);
    assert.equal(back.daddr, CLIENT);
    assert.ok(back.ipChecksumOk && back.l4ChecksumOk, 'checksums after reverse NAT');
    assert.equal(dp.counters().revnat.packets, before.revnat.packets + 1);
  });

  test('a SYN reusing the port of a closing flow is a new connection; a retransmitted SYN is not', async () => {
    const flow = { proto: 'TCP', saddr: CLIENT, daddr: VIP, sport: 40100, dport: 80 } as const;
    const count = async (tcpFlags: number) => {
      const before = dp.counters();
      await run(() => fromPod, { ...flow, tcpFlags });
      const after = dp.counters();
      return after.ct_new.packets > before.ct_new.packets ? 'new' : after.ct_hit.packets > before.ct_hit.packets ? 'hit' : 'other';
    };
    assert.equal(await count(TCP_FLAGS.SYN), 'new');
    assert.equal(await count(TCP_FLAGS.SYN), 'hit', 'a retransmitted SYN stays on its backend');
    assert.equal(await count(TCP_FLAGS.ACK), 'hit');
    assert.equal(await count(TCP_FLAGS.FIN | TCP_FLAGS.ACK), 'hit');
    assert.equal(await count(TCP_FLAGS.SYN), 'hit', 'half-closed (a FIN one way only): the flow holds');
    assert.equal(await count(TCP_FLAGS.RST | TCP_FLAGS.ACK), 'hit');
    assert.equal(await count(TCP_FLAGS.SYN), 'new', 'the port reused after a reset');
  });

  test('ClientIP affinity: every new flow of a client goes to its first backend', async () => {
    const before = dp.counters();
    const first = parseFrame((await run(() => fromPod, { proto: 'TCP', saddr: '10.244.1.50', daddr: '10.96.0.13', sport: 46000, dport: 80 })).data).daddr;
    for (let port = 46001; port < 46031; port++) {
      const out = parseFrame((await run(() => fromPod, { proto: 'TCP', saddr: '10.244.1.50', daddr: '10.96.0.13', sport: port, dport: 80 })).data);
      assert.equal(out.daddr, first);
    }
    assert.equal(dp.counters().affinity_hit.packets, before.affinity_hit.packets + 30);
    const others = new Set<string>();
    for (let i = 51; i < 81; i++)
      others.add(parseFrame((await run(() => fromPod, { proto: 'TCP', saddr: `10.244.1.${i}`, daddr: '10.96.0.13', sport: 46000, dport: 80 })).data).daddr);
    assert.ok(others.size > 1, 'other clients still spread');
  });

  test('many flows spread over all backends', async () => {
    const seen = new Set<string>();
    for (let port = 41000; port < 41060; port++) {
      seen.add(parseFrame((await run(() => fromPod, { proto: 'TCP', saddr: CLIENT, daddr: VIP, sport: port, dport: 80 })).data).daddr);
    }
    assert.deepEqual([...seen].sort(), [...BACKENDS].sort());
  });

  test('UDP is DNATed and reverse-NATed, with and without a UDP checksum', async () => {
    for (const noUdpChecksum of [false, true]) {
      const sport = noUdpChecksum ? 50001 : 50000;
      const payload = Buffer.from('query');
      const res = await run(() => fromPod, { proto: 'UDP', saddr: CLIENT, daddr: VIP, sport, dport: 53, payload, noUdpChecksum });
      assert.equal(res.retval, TC_ACT.OK);
      const out = parseFrame(res.data);
      assert.ok(BACKENDS.includes(out.daddr));
      assert.equal(out.dport, 5353);
      assert.ok(out.ipChecksumOk && out.l4ChecksumOk);
      assert.equal(res.data.readUInt16BE(14 + 20 + 6) === 0, noUdpChecksum, 'a missing UDP checksum stays missing');
      const reply = parseFrame((await run(() => toPod, { proto: 'UDP', saddr: out.daddr, daddr: CLIENT, sport: 5353, dport: sport, payload })).data);
      assert.equal(reply.saddr, VIP);
      assert.equal(reply.sport, 53);
      assert.ok(reply.ipChecksumOk && reply.l4ChecksumOk);
    }
  });

  test('packets not for a service pass untouched; a cluster IP on an undeclared port or protocol is refused', async () => {
    const before = dp.counters();
    const notService = buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: '10.244.1.99', sport: 1234, dport: 80 });
    const undeclared = [
      { proto: 'TCP', saddr: CLIENT, daddr: VIP, sport: 1234, dport: 81 },
      { proto: 'UDP', saddr: CLIENT, daddr: VIP, sport: 1234, dport: 80 },
    ].map((spec) => buildFrame(spec as FrameSpec));
    for (const frame of [notService, ...undeclared]) {
      const res = await native().testRun(toPod, frame, 1);
      assert.equal(res.retval, TC_ACT.OK);
      assert.deepEqual(res.data, frame);
    }
    const res = await native().testRun(fromPod, notService, 1);
    assert.equal(res.retval, TC_ACT.OK);
    assert.deepEqual(res.data, notService);
    // kube-proxy nftables: "Reject traffic to invalid ports of ClusterIPs" (pkg/proxy/nftables/proxier.go:504).
    for (const frame of undeclared) assert.equal((await native().testRun(fromPod, frame, 1)).retval, TC_ACT.REDIRECT);
    const after = dp.counters();
    assert.equal(after.pass.packets, before.pass.packets + 4);
    assert.equal(after.reject_no_backend.packets, before.reject_no_backend.packets + 2);
  });

  test('a service without endpoints answers a SYN with a RST from the service address', async () => {
    const before = dp.counters();
    const res = await run(() => fromPod, { proto: 'TCP', saddr: CLIENT, daddr: '10.96.0.11', sport: 42000, dport: 80, seq: 5000 });
    assert.equal(res.retval, TC_ACT.REDIRECT);
    const rst = parseFrame(res.data);
    assert.equal(rst.saddr, '10.96.0.11');
    assert.equal(rst.sport, 80);
    assert.equal(rst.daddr, CLIENT);
    assert.equal(rst.dport, 42000);
    assert.equal(rst.tcpFlags, TCP_FLAGS.RST | TCP_FLAGS.ACK);
    assert.equal(rst.ack, 5001);
    assert.equal(rst.dstMac, '02000000000a', 'sent back to the client');
    assert.ok(rst.ipChecksumOk && rst.l4ChecksumOk);
    assert.equal(dp.counters().reject_no_backend.packets, before.reject_no_backend.packets + 1);

    const resetIn = await run(() => fromPod, { proto: 'TCP', saddr: CLIENT, daddr: '10.96.0.11', sport: 42000, dport: 80, tcpFlags: TCP_FLAGS.RST });
    assert.equal(resetIn.retval, TC_ACT.SHOT, 'a reset is never answered');
    assert.equal(dp.counters().drop_no_backend.packets, before.drop_no_backend.packets + 1);
  });

  test('a service without endpoints answers UDP with ICMP port unreachable', async () => {
    const sent = buildFrame({ proto: 'UDP', saddr: CLIENT, daddr: '10.96.0.11', sport: 42001, dport: 53, payload: Buffer.from('hello there') });
    const res = await native().testRun(fromPod, sent, 1);
    assert.equal(res.retval, TC_ACT.REDIRECT);
    const icmp = parseFrame(res.data);
    assert.equal(icmp.proto, 1);
    assert.equal(icmp.saddr, '10.96.0.11');
    assert.equal(icmp.daddr, CLIENT);
    assert.equal(icmp.icmpType, 3);
    assert.equal(icmp.icmpCode, 3);
    assert.deepEqual(icmp.quoted, sent.subarray(14, 14 + 28), 'quotes the IP header and 8 bytes');
    assert.ok(icmp.ipChecksumOk && icmp.l4ChecksumOk);
  });

  test('hairpin: a pod reaching itself is source-NATed to the hairpin address, and the reply handed back', async () => {
    const before = dp.counters();
    const res = await run(() => fromPod, { proto: 'TCP', saddr: CLIENT, daddr: '10.96.0.12', sport: 43000, dport: 80 });
    assert.equal(res.retval, TC_ACT.REDIRECT);
    const out = parseFrame(res.data);
    assert.equal(out.saddr, HAIRPIN_ADDRESS);
    assert.equal(out.daddr, CLIENT);
    assert.equal(out.dport, 8080);
    assert.ok(out.ipChecksumOk && out.l4ChecksumOk);

    const reply = await run(() => fromPod, {
      proto: 'TCP',
      saddr: CLIENT,
      daddr: HAIRPIN_ADDRESS,
      sport: 8080,
      dport: 43000,
      tcpFlags: TCP_FLAGS.SYN | TCP_FLAGS.ACK,
    });
    assert.equal(reply.retval, TC_ACT.REDIRECT);
    const back = parseFrame(reply.data);
    assert.equal(back.saddr, '10.96.0.12');
    assert.equal(back.sport, 80);
    assert.equal(back.daddr, CLIENT);
    assert.equal(back.dport, 43000);
    assert.ok(back.ipChecksumOk && back.l4ChecksumOk);
    assert.equal(dp.counters().hairpin.packets, before.hairpin.packets + 2);
  });

  test('truncated and malformed frames are dropped and counted, never crash', async () => {
    const before = dp.counters();
    const good = buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: VIP, sport: 44000, dport: 80 });
    // (test-run itself refuses an IPv4 frame shorter than its IP header, so the shortest is 34 bytes)
    const longerThanFrame = Buffer.from(good);
    longerThanFrame.writeUInt16BE(1400, 16);
    const truncatedTcp = good.subarray(0, 14 + 20 + 8);
    const badIhl = Buffer.from(good);
    badIhl[14] = 0x43;
    for (const frame of [longerThanFrame, truncatedTcp, badIhl]) {
      const res = await native().testRun(fromPod, frame, 1);
      assert.equal(res.retval, TC_ACT.SHOT);
    }
    assert.equal(dp.counters().drop_malformed.packets, before.drop_malformed.packets + 3);
  });

  test('random and mutated frames never crash the programs', async () => {
    const IPV6_FRAME_MIN = 14 + 40;
    const valid = buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: VIP, sport: 45000, dport: 80, payload: Buffer.alloc(16, 1) });
    const verdicts: number[] = [TC_ACT.OK, TC_ACT.SHOT, TC_ACT.REDIRECT];
    const frames = fc.oneof(
      // At least an Ethernet and an IPv4 header, and for an IPv6 ethertype an IPv6 header: shorter
      // frames the kernel refuses to test-run (EINVAL) before any program sees them.
      fc.uint8Array({ minLength: 34, maxLength: 200 }).map((b) => {
        const frame = Buffer.from(b);
        const ipv6 = frame.readUInt16BE(12) === 0x86dd;
        return ipv6 && frame.length < IPV6_FRAME_MIN ? Buffer.concat([frame, Buffer.alloc(IPV6_FRAME_MIN - frame.length)]) : frame;
      }),
      fc.array(fc.tuple(fc.integer({ min: 12, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((edits) => {
        const b = Buffer.from(valid);
        for (const [at, value] of edits) b[at] = value;
        return b;
      }),
    );
    await fc.assert(
      fc.asyncProperty(frames, async (frame) => {
        for (const prog of [fromPod, toPod]) {
          const res = await native().testRun(prog, frame, 1);
          assert.ok(verdicts.includes(res.retval), `verdict ${res.retval}`);
        }
      }),
      { numRuns: 400 },
    );
  });
});
