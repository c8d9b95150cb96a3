// Packet tests of the outside-traffic path through BPF_PROG_TEST_RUN: kbp_from_world (xdp) and
// kbp_to_world (tc egress) on frames to node ports, load-balancer IPs and back. The programs' FIB
// lookups run in a namespace made for the test, with the neighbours they need written in by hand.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { native, type BpfProgram } from '../../src/native/bpf.js';
import { Programs } from '../../src/dataplane/loader.js';
import { netnsPath, run, runIn } from '../../harness/exec.js';
import { buildFrame, parseFrame, TCP_FLAGS, type FrameSpec } from '../../harness/packets.js';
import { TC_ACT, XDP, loadTestDatapath, removePinDir, uniquePinDir, type LoadedDatapath } from '../helpers/datapath.js';
import { lbService } from '../../harness/services.js';
import { ifSet } from '../helpers/types.js';

const NODE = '10.0.0.11';
const NODE_B = '10.0.0.12';
const NODE_B_MAC = '02000000b001';
const CLIENT = '10.0.0.100';
const CLIENT_MAC = '02000000c001';
const LOCAL_BACKEND = '10.244.1.20';
const REMOTE_BACKEND = '10.244.2.20';
const LB_IP = '198.18.0.10';

const local = lbService('ns/local:http', [{ address: NODE, port: 30080, protocol: 'TCP' }], [{ address: LOCAL_BACKEND, port: 8080, local: true }], {
  external: 'nodePort',
});
const remote = lbService('ns/remote:http', [{ address: NODE, port: 30081, protocol: 'TCP' }], [{ address: REMOTE_BACKEND, port: 8080, local: false }], {
  external: 'nodePort',
});
const remoteUdp = lbService('ns/remote:dns', [{ address: NODE, port: 30053, protocol: 'UDP' }], [{ address: REMOTE_BACKEND, port: 5353, local: false }], {
  external: 'nodePort',
});
// externalTrafficPolicy Local on a node without local endpoints: compiled with an empty table.
const noLocal = lbService('ns/nolocal:http', [{ address: NODE, port: 30082, protocol: 'TCP' }], [], { external: 'nodePort', dropWhenEmpty: true });
const sticky = lbService(
  'ns/sticky:http',
  [{ address: NODE, port: 30085, protocol: 'TCP' }],
  [20, 21, 22, 23].map((i) => ({ address: `10.244.1.${i}`, port: 8080, local: true })),
  {
    external: 'nodePort',
    affinityTimeoutSeconds: 60,
  },
);
// No endpoints at all: refused, as kube-proxy does.
const empty = lbService(
  'ns/empty:http',
  [
    { address: NODE, port: 30083, protocol: 'TCP' },
    { address: NODE, port: 30084, protocol: 'UDP' },
  ],
  [],
  { external: 'nodePort' },
);
const ranged = lbService('ns/ranged:http', [{ address: LB_IP, port: 80, protocol: 'TCP' }], [{ address: LOCAL_BACKEND, port: 8080, local: true }], {
  external: 'loadBalancerIP',
  sourceRanges: ['192.168.0.0/16'],
});

describe('xdp datapath under test-run', () => {
  const pinDir = uniquePinDir('xdp');
  const ns = `kbp-xdp-${process.pid}-${randomBytes(2).toString('hex')}`;
  let dp: LoadedDatapath;
  let fromWorld: BpfProgram;
  let toWorld: BpfProgram;

  before(async () => {
    await run('ip', ['netns', 'add', ns]);
    await runIn(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']); // the FIB answers forwarding lookups only then
    await runIn(ns, 'ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
    await runIn(ns, 'ip', ['addr', 'add', `${NODE}/24`, 'dev', 'eth0']);
    await runIn(ns, 'ip', ['link', 'set', 'eth0', 'up']);
    await runIn(ns, 'ip', ['link', 'set', 'peer0', 'up']);
    await runIn(ns, 'ip', ['route', 'add', '10.244.2.0/24', 'via', NODE_B]);
    await runIn(ns, 'ip', ['neigh', 'replace', NODE_B, 'lladdr', NODE_B_MAC.replace(/(..)(?!$)/g, '$1:'), 'dev', 'eth0', 'nud', 'permanent']);
    await runIn(ns, 'ip', ['neigh', 'replace', CLIENT, 'lladdr', CLIENT_MAC.replace(/(..)(?!$)/g, '$1:'), 'dev', 'eth0', 'nud', 'permanent']);
    dp = await loadTestDatapath(pinDir, { nodeAddress: NODE });
    dp.reconciler.sync([local, remote, remoteUdp, noLocal, empty, ranged, sticky]);
    fromWorld = dp.obj.program(Programs.fromWorld);
    toWorld = dp.obj.program(Programs.toWorld);
  });
  after(async () => {
    ifSet(dp)?.close();
    removePinDir(pinDir);
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  });

  const xdp = (spec: FrameSpec) => native().testRun(fromWorld, buildFrame(spec), 1, { netns: netnsPath(ns), ifname: 'eth0' });
  const egress = (spec: FrameSpec) => native().testRun(toWorld, buildFrame(spec), 1);
  const delta = async <T>(reason: keyof ReturnType<LoadedDatapath['counters']>, action: () => Promise<T>): Promise<[T, number]> => {
    const before = dp.counters()[reason].packets;
    const result = await action();
    return [result, dp.counters()[reason].packets - before];
  };

  test('a node port with a local backend: DNAT, passed to the stack, client address kept', async () => {
    const [res, counted] = await delta('external_local', () => xdp({ proto: 'TCP', saddr: CLIENT, daddr: NODE, sport: 40000, dport: 30080 }));
    assert.equal(res.retval, XDP.PASS);
    const out = parseFrame(res.data);
    assert.deepEqual([out.saddr, out.sport, out.daddr, out.dport], [CLIENT, 40000, LOCAL_BACKEND, 8080]);
    assert.ok(out.ipChecksumOk && out.l4ChecksumOk, 'checksums');
    assert.equal(counted, 1);
  });

  test("the local backend's reply leaves the node from the node port", async () => {
    await xdp({ proto: 'TCP', saddr: CLIENT, daddr: NODE, sport: 40001, dport: 30080 });
    const [res, counted] = await delta('external_reply', () =>
      egress({ proto: 'TCP', saddr: LOCAL_BACKEND, daddr: CLIENT, sport: 8080, dport: 40001, tcpFlags: TCP_FLAGS.SYN | TCP_FLAGS.ACK }),
    );
    assert.equal(res.retval, TC_ACT.OK);
    const out = parseFrame(res.data);
    assert.deepEqual([out.saddr, out.sport, out.daddr, out.dport], [NODE, 30080, CLIENT, 40001]);
    assert.ok(out.ipChecksumOk && out.l4ChecksumOk, 'checksums');
    assert.equal(counted, 1);
  });

  test('a node port with a remote backend: SNAT to the node, DNAT, sent back out to the next hop', async () => {
    const [res, counted] = await delta('external_remote', () => xdp({ proto: 'TCP', saddr: CLIENT, daddr: NODE, sport: 40002, dport: 30081 }));
    assert.equal(res.retval, XDP.TX);
    const out = parseFrame(res.data);
    assert.equal(out.saddr, NODE);
    assert.ok(out.sport >= 61000 && out.sport <= 65535, `NAT port ${out.sport}`);
    assert.deepEqual([out.daddr, out.dport], [REMOTE_BACKEND, 8080]);
    assert.equal(out.dstMac, NODE_B_MAC, 'next hop: node-b');
    assert.ok(out.ipChecksumOk && out.l4ChecksumOk, 'checksums');
    assert.equal(counted, 1);

    // Established: the same backend and the same NAT port, every packet.
    const again = parseFrame((await xdp({ proto: 'TCP', saddr: CLIENT, daddr: NODE, sport: 40002, dport: 30081, tcpFlags: TCP_FLAGS.ACK })).data);
    assert.deepEqual([again.saddr, again.sport, again.daddr], [NODE, out.sport, REMOTE_BACKEND]);

    // The reply comes back to the node and goes to the client, from the node port.
    const reply = await xdp({
      proto: 'TCP',
      saddr: REMOTE_BACKEND,
      daddr: NODE,
      sport: 8080,
      dport: out.sport,
      tcpFlags: TCP_FLAGS.SYN | TCP_FLAGS.ACK,
      srcMac: NODE_B_MAC,
    });
    assert.equal(reply.retval, XDP.TX);
    const back = parseFrame(reply.data);
    assert.deepEqual([back.saddr, back.sport, back.daddr, back.dport], [NODE, 30081, CLIENT, 40002]);
    assert.equal(back.dstMac, CLIENT_MAC);
    assert.ok(back.ipChecksumOk && back.l4ChecksumOk, 'checksums');
  });

  test('UDP through a remote backend keeps valid checksums both ways', async () => {
    const res = await xdp({ proto: 'UDP', saddr: CLIENT, daddr: NODE, sport: 40003, dport: 30053, payload: Buffer.from('query') });
    assert.equal(res.retval, XDP.TX);
    const out = parseFrame(res.data);
    assert.ok(out.l4ChecksumOk, 'UDP checksum');
    const reply = parseFrame(
      (await xdp({ proto: 'UDP', saddr: REMOTE_BACKEND, daddr: NODE, sport: 5353, dport: out.sport, payload: Buffer.from('answer') })).data,
    );
    assert.deepEqual([reply.saddr, reply.sport, reply.daddr, reply.dport], [NODE, 30053, CLIENT, 40003]);
    assert.ok(reply.l4ChecksumOk, 'UDP checksum');
  });

  test('session affinity: every new connection of a client through a node port goes to its backend', async () => {
    const backends = new Set<string>();
    for (let sport = 41000; sport < 41020; sport++) {
      backends.add(parseFrame((await xdp({ proto: 'TCP', saddr: CLIENT, daddr: NODE, sport, dport: 30085 })).data).daddr);
    }
    // 20 connections over 4 backends all on one: by Maglev alone that would be a 1 in 4^19 chance.
    assert.equal(backends.size, 1, [...backends].join());
  });

  test('externalTrafficPolicy Local without a local backend drops, counted', async () => {
    const [res, counted] = await delta('drop_no_local_backend', () => xdp({ proto: 'TCP', saddr: CLIENT, daddr: NODE, sport: 40004, dport: 30082 }));
    assert.equal(res.retval, XDP.DROP);
    assert.equal(counted, 1);
  });

  test('no endpoints: a TCP RST and an ICMP port unreachable go back to the client, from the node port', async () => {
    const [tcp, counted] = await delta('reject_no_backend', () =>
      xdp({ proto: 'TCP', saddr: CLIENT, daddr: NODE, sport: 40010, dport: 30083, seq: 5000, srcMac: CLIENT_MAC }),
    );
    assert.equal(tcp.retval, XDP.TX);
    assert.equal(counted, 1);
    const rst = parseFrame(tcp.data);
    assert.deepEqual([rst.saddr, rst.sport, rst.daddr, rst.dport, rst.dstMac], [NODE, 30083, CLIENT, 40010, CLIENT_MAC]);
    assert.equal(rst.tcpFlags, TCP_FLAGS.RST | TCP_FLAGS.ACK);
    assert.equal(rst.ack, 5001, 'acknowledges the SYN');
    assert.ok(rst.ipChecksumOk && rst.l4ChecksumOk, 'checksums');

    const udp = await xdp({ proto: 'UDP', saddr: CLIENT, daddr: NODE, sport: 40011, dport: 30084, payload: Buffer.from('query'), srcMac: CLIENT_MAC });
    assert.equal(udp.retval, XDP.TX);
    const icmp = parseFrame(udp.data);
    assert.deepEqual([icmp.proto, icmp.icmpType, icmp.icmpCode, icmp.saddr, icmp.daddr], [1, 3, 3, NODE, CLIENT]);
    assert.ok(icmp.ipChecksumOk && icmp.l4ChecksumOk, 'checksums');
    assert.equal(icmp.quoted.readUInt16BE(20 + 2), 30084, 'quotes the datagram');
  });

  test('loadBalancerSourceRanges: a source outside is dropped, one inside served', async () => {
    const [refused, counted] = await delta('drop_source_range', () => xdp({ proto: 'TCP', saddr: CLIENT, daddr: LB_IP, sport: 40005, dport: 80 }));
    assert.equal(refused.retval, XDP.DROP);
    assert.equal(counted, 1);
    const allowed = await xdp({ proto: 'TCP', saddr: '192.168.7.9', daddr: LB_IP, sport: 40005, dport: 80 });
    assert.equal(allowed.retval, XDP.PASS);
    assert.equal(parseFrame(allowed.data).daddr, LOCAL_BACKEND);
  });

  test('traffic for no frontend passes untouched', async () => {
    const frame = buildFrame({ proto: 'TCP', saddr: CLIENT, daddr: NODE, sport: 40006, dport: 22 });
    const res = await native().testRun(fromWorld, frame, 1, { netns: netnsPath(ns), ifname: 'eth0' });
    assert.equal(res.retval, XDP.PASS);
    assert.deepEqual(res.data, frame);
  });

  test('garbage never crashes the program: it passes or drops, and counts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 14, maxLength: 200 }), fc.boolean(), async (bytes, asIPv4) => {
        const frame = Buffer.from(bytes);
        if (asIPv4) frame.writeUInt16BE(0x0800, 12);
        const res = await native().testRun(fromWorld, frame, 1, { netns: netnsPath(ns), ifname: 'eth0' });
        assert.ok(([XDP.PASS, XDP.DROP, XDP.TX] as number[]).includes(res.retval), `verdict ${res.retval}`);
      }),
      { numRuns: 300 },
    );
  });
});
