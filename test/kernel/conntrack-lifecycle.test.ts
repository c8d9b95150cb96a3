// A flow's life in conntrack with real connections through a ClusterIP: a half-closed connection,
// ports reused straight to a backend after its service, a flow whose entry went (expired or evicted),
// a full table, expired entries collected, and a map entry changed behind the agent repaired.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NODE_NAME } from '../../harness/cluster.js';
import { startAgent, startPodClient, startPodServer, type AgentProcess, type PodClient } from '../../harness/processes.js';
import { createNodeSandbox, type NodeSandbox, type Pod } from '../../harness/topology.js';
import { ctEntryV4, CtFlag, ctKeyV4, svcKeyV4, svcValV4, type CtEntry, type CtKey } from '../../src/dataplane/layout.js';
import { readCounters } from '../../src/dataplane/stats.js';
import { native, type BpfMap } from '../../src/native/bpf.js';
import { serviceManifest, writeManifest } from '../helpers/manifests.js';
import { ifSet } from '../helpers/types.js';

const VIP = '10.96.0.10';
const PROTO_TCP = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('conntrack over a flow’s life', { timeout: 120_000 }, () => {
  let sandbox: NodeSandbox;
  let dir: string;
  let logFile: string;
  let agent: AgentProcess | undefined;
  let client: PodClient;
  let clientPod: Pod;
  let backends: Pod[];

  const pinned = (name: string): BpfMap => native().openPinnedMap(path.join(sandbox.pinDir, name));
  const withMap = <T>(name: string, use: (m: BpfMap) => T): T => {
    const m = pinned(name);
    try {
      return use(m);
    } finally {
      m.close();
    }
  };
  const flows = (): { key: CtKey; entry: CtEntry }[] =>
    withMap('ct_v4', (ct) => {
      const { keys, values, count } = ct.entries();
      return Array.from({ length: count }, (_, i) => ({ key: ctKeyV4.decode(keys, i * ctKeyV4.size), entry: ctEntryV4.decode(values, i * ctEntryV4.size) }));
    });
  const counter = (reason: 'ct_midflow' | 'ct_retired'): number => withMap('stats', (s) => readCounters(s, native().possibleCpus())[reason].packets);
  const nowNs = (): bigint => process.hrtime.bigint();
  const logLines = (): { msg?: string; live?: number; capacity?: number; ops?: number }[] =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string });

  before(async () => {
    sandbox = await createNodeSandbox();
    dir = mkdtempSync(path.join(tmpdir(), 'kbp-ct-'));
    logFile = path.join(dir, 'agent.log');
    clientPod = await sandbox.addPod('client');
    backends = [];
    for (const name of ['be-1', 'be-2', 'be-3']) {
      const pod = await sandbox.addPod(name);
      await startPodServer(pod.ns, name);
      backends.push(pod);
    }
    writeManifest(
      dir,
      'svc.yaml',
      serviceManifest(
        'svc',
        VIP,
        [
          { name: 'line', port: 9000, targetPort: 9000 },
          { name: 'half', port: 9001, targetPort: 9001 },
        ],
        [
          { name: 'line', port: 9000 },
          { name: 'half', port: 9001 },
        ],
        backends.map((p) => ({ ip: p.ip })),
      ),
    );
    const args = ['--manifests', dir, '--node-name', NODE_NAME, '--pin-dir', sandbox.pinDir, '--conntrack-gc-interval', '1s', '--repair-interval', '1s'];
    agent = await startAgent(sandbox.nodeNs, args, { logFile });
    client = await startPodClient(clientPod.ns);
  });
  after(async () => {
    ifSet(client)?.close();
    await agent?.kill().catch(() => undefined);
    await ifSet(sandbox)?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('half-closed: the server answers 12 s after the client’s FIN, on the same flow entry, which lives on', async () => {
    const reply = await client.request({ op: 'half-close', host: VIP, port: 9001, afterMs: 12_000 });
    assert.equal(reply.outcome, 'answered');
    assert.ok(backends.some((b) => b.name === reply.backend));
    assert.equal(counter('ct_midflow'), 0, 'no packet of the flow found its entry gone (the old 10 s closing lifetime)');
    // The flow is over (a FIN each way): both legs closed, short-lived again.
    const legs = flows().filter((f) => f.key.dport === 9001 || f.key.sport === 9001);
    assert.equal(legs.length, 2);
    for (const leg of legs) {
      assert.ok(leg.entry.flags & CtFlag.closing, `leg ${JSON.stringify(leg.key)} closed`);
      assert.ok(leg.entry.expiresNs - nowNs() < 11_000_000_000n);
    }
  });

  test('a client port reused straight to the backend right after its service flow: the connection works, the stale flow retired', async () => {
    const localPort = 40_123;
    const viaService = await client.request({ op: 'session-open', id: 'via-service', host: VIP, port: 9000, localPort });
    assert.equal(viaService.outcome, 'connected');
    const served = await client.request({ op: 'session-ask', id: 'via-service' });
    const backend = backends.find((b) => b.name === served.backend);
    assert.ok(backend, `answered by ${served.backend}`);
    await client.request({ op: 'session-close', id: 'via-service' });
    await sleep(200);
    const retiredBefore = counter('ct_retired');
    const direct = await client.request({ op: 'session-open', id: 'direct', host: backend.ip, port: 9000, localPort });
    assert.equal(direct.outcome, 'connected', 'the backend’s SYN-ACK reached the client untranslated');
    assert.equal((await client.request({ op: 'session-ask', id: 'direct' })).backend, backend.name);
    await client.request({ op: 'session-close', id: 'direct' });
    assert.equal(counter('ct_retired') - retiredBefore, 1);
  });

  test('a live connection whose entries went (expired, or evicted from a full table) keeps its backend and is counted', async () => {
    await client.request({ op: 'session-open', id: 'long', host: VIP, port: 9000 });
    const first = await client.request({ op: 'session-ask', id: 'long' });
    const legs = flows().filter((f) => f.key.dport === 9000 || f.key.sport === 9000);
    assert.ok(legs.length >= 2);
    // Established, both legs: --conntrack-tcp-timeout-established (24 h) from the last packet.
    for (const leg of legs) assert.ok(leg.entry.expiresNs - nowNs() > 23n * 3600n * 1_000_000_000n, `leg ${JSON.stringify(leg.key)} lives as established`);
    withMap('ct_v4', (ct) => {
      for (const leg of legs) ct.delete(ctKeyV4.encode({ ...leg.key }));
    });
    const before = counter('ct_midflow');
    assert.equal((await client.request({ op: 'session-ask', id: 'long' })).backend, first.backend);
    assert.ok(counter('ct_midflow') > before, 'counted as ct_midflow');
    await client.request({ op: 'session-close', id: 'long' });
  });

  test('a full table: expired entries are collected, a table full of live ones is reported, and new connections still work', async () => {
    const capacity = withMap('ct_v4', (ct) => ct.info.maxEntries);
    const fill = (expiresNs: bigint): void =>
      withMap('ct_v4', (ct) => {
        const batch = 16_384;
        for (let start = 0; start < capacity; start += batch) {
          const n = Math.min(batch, capacity - start);
          const keys = Buffer.alloc(n * ctKeyV4.size);
          const values = Buffer.alloc(n * ctEntryV4.size);
          for (let i = 0; i < n; i++) {
            const k = start + i;
            // Flows of made-up clients (192.0.2.0/24 and up) to a made-up address: never this test's.
            ctKeyV4
              .encode({ saddr: `198.18.${(k >> 8) & 255}.${k & 255}`, daddr: '192.0.2.1', sport: 1024 + (k >> 16), dport: 80, proto: PROTO_TCP, dir: 0 })
              .copy(keys, i * ctKeyV4.size);
            ctEntryV4
              .encode({
                expiresNs,
                packets: 1n,
                bytes: 60n,
                backendId: 0,
                revnatId: 0,
                svcId: 0,
                clientIp: '198.18.0.1',
                flags: 0,
                clientPort: 1024,
                natPort: 0,
              })
              .copy(values, i * ctEntryV4.size);
          }
          ct.updateBatch(keys, values, n);
        }
      });
    const size = (): number => withMap('ct_v4', (ct) => ct.entries().count);

    fill(1n); // long expired (the agent's collection may already run while the table fills)
    for (let i = 0; i < 40 && size() > capacity * 0.1; i++) await sleep(100);
    assert.ok(size() < capacity * 0.1, `expired entries collected (${size()} left)`);

    fill(nowNs() + 3_600_000_000_000n); // live for an hour
    const warned = (): boolean => logLines().some((l) => l.msg?.startsWith('conntrack table nearly full') && (l.capacity ?? 0) === capacity);
    for (let i = 0; i < 40 && !warned(); i++) await sleep(100);
    assert.ok(warned(), 'the agent warns that the table is nearly full');
    await client.request({ op: 'session-open', id: 'when-full', host: VIP, port: 9000 });
    const answered = await client.request({ op: 'session-ask', id: 'when-full' });
    assert.ok(
      backends.some((b) => b.name === answered.backend),
      'a new connection is served (the LRU makes room)',
    );
    await client.request({ op: 'session-close', id: 'when-full' });
    withMap('ct_v4', (ct) => {
      const { keys, count } = ct.entries();
      for (let i = 0; i < count; i++) ct.delete(keys.subarray(i * ctKeyV4.size, (i + 1) * ctKeyV4.size));
    });
  });

  test('a frontend entry changed behind the agent is repaired within the period, and counted', async () => {
    const key = svcKeyV4.encode({ vip: VIP, port: 9000, proto: PROTO_TCP, scope: 0 });
    const good = withMap('svc_v4', (svc) => svc.lookup(key));
    assert.ok(good, 'the frontend is programmed');
    const broken = svcValV4.encode({ ...svcValV4.decode(good), backendCount: 0 });
    withMap('svc_v4', (svc) => svc.update(key, broken));
    for (let i = 0; i < 40 && !withMap('svc_v4', (svc) => svc.lookup(key))?.equals(good); i++) await sleep(100);
    assert.deepEqual(
      withMap('svc_v4', (svc) => svc.lookup(key)),
      good,
      'rewritten as the agent programmed it',
    );
    assert.ok(logLines().some((l) => l.msg === 'maps differed from the desired state: repaired' && (l.ops ?? 0) >= 1));
  });
});
