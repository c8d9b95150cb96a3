// Real traffic through a ClusterIP in a sandbox of network namespaces: the agent runs in the node
// namespace on a directory of manifests, pods run tiny servers, a client pod sends requests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createNodeSandbox, type NodeSandbox, type Pod } from '../../harness/topology.js';
import { startAgent, startPodClient, startPodServer, type AgentProcess, type PodClient } from '../../harness/processes.js';
import { runIn } from '../../harness/exec.js';
import { native } from '../../src/native/bpf.js';
import { HAIRPIN_ADDRESS } from '../helpers/datapath.js';
import { serviceManifest, writeManifest, type EndpointSpec } from '../helpers/manifests.js';
import { ifSet } from '../helpers/types.js';
import { NODE_NAME } from '../../harness/cluster.js';

const WEB_VIP = '10.96.0.10';

describe('ClusterIP with real traffic in network namespaces', { timeout: 240_000 }, () => {
  let sandbox: NodeSandbox;
  let dir: string;
  let agent: AgentProcess | undefined;
  let client: PodClient;
  let web: Pod[];
  const clients: PodClient[] = [];

  const agentArgs = () => ['--manifests', dir, '--node-name', NODE_NAME, '--pin-dir', sandbox.pinDir, '--hairpin-address', HAIRPIN_ADDRESS];

  /** Writes a manifest and waits until the agent has programmed a change. */
  async function change(file: string, content: string | null): Promise<void> {
    const running = agent;
    assert.ok(running, 'agent running');
    const synced = running.nextProgramming();
    if (content === null) unlinkSync(path.join(dir, file));
    else writeManifest(dir, file, content);
    await synced;
  }

  function webService(endpoints: Pod[]): string {
    return serviceManifest(
      'web',
      WEB_VIP,
      [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'line', port: 9000, targetPort: 9000 },
      ],
      [
        { name: 'http', port: 8080 },
        { name: 'line', port: 9000 },
      ],
      endpoints.map((p): EndpointSpec => ({ ip: p.ip })),
    );
  }

  function dnsService(name: string, ip: string, endpoints: Pod[]): string {
    return serviceManifest(
      name,
      ip,
      [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }],
      [{ name: 'dns', port: 5353, protocol: 'UDP' }],
      endpoints.map((p) => ({ ip: p.ip })),
    );
  }

  before(async () => {
    sandbox = await createNodeSandbox();
    dir = mkdtempSync(path.join(tmpdir(), 'kbp-test-manifests-'));
    const clientPod = await sandbox.addPod('client');
    web = [];
    for (const name of ['web-1', 'web-2', 'web-3', 'web-4']) {
      const pod = await sandbox.addPod(name);
      await startPodServer(pod.ns, name);
      web.push(pod);
    }
    const [w1, w2, w3] = web as [Pod, Pod, Pod, Pod];
    writeManifest(dir, 'web.yaml', webService([w1, w2, w3]));
    writeManifest(dir, 'dns.yaml', dnsService('dns', '10.96.0.53', [w1, w2, w3]));
    writeManifest(dir, 'dns-shared.yaml', dnsService('dns-shared', '10.96.0.54', [w1, w2, w3]));
    writeManifest(
      dir,
      'empty.yaml',
      serviceManifest(
        'empty',
        '10.96.0.20',
        [
          { name: 'http', port: 80, targetPort: 8080 },
          { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
        ],
        [],
        [],
      ),
    );
    writeManifest(
      dir,
      'solo.yaml',
      serviceManifest('solo', '10.96.0.30', [{ name: 'http', port: 80, targetPort: 8080 }], [{ name: 'http', port: 8080 }], [{ ip: w1.ip }]),
    );
    agent = await startAgent(sandbox.nodeNs, agentArgs());
    client = await startPodClient(clientPod.ns);
    clients.push(client);
  });

  after(async () => {
    for (const c of clients) c.close();
    await agent?.kill().catch(() => undefined);
    await ifSet(sandbox)?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('3000 requests spread over the three backends (each 20%..47%)', async () => {
    const r = await client.request({ op: 'http', host: WEB_VIP, port: 80, count: 3000, concurrency: 16 });
    assert.equal(r.failures, 0, `failures: ${r.errors?.join('; ')}`);
    const counts = r.byBackend ?? {};
    assert.deepEqual(Object.keys(counts).sort(), ['web-1', 'web-2', 'web-3']);
    for (const [backend, n] of Object.entries(counts)) {
      assert.ok(n >= 600 && n <= 1410, `${backend} served ${n} of 3000`);
    }
  });

  test('a pod interface that appears after the agent started is attached and served', async () => {
    const late = await sandbox.addPod('late');
    const lateClient = await startPodClient(late.ns);
    clients.push(lateClient);
    let r = await lateClient.request({ op: 'http', host: WEB_VIP, port: 80, count: 1 });
    for (let tries = 0; r.failures !== 0 && tries < 30; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100)); // the agent looks for new interfaces every second
      r = await lateClient.request({ op: 'http', host: WEB_VIP, port: 80, count: 1 });
    }
    assert.equal(r.failures, 0, `the late pod never reached the service: ${r.errors?.join('; ')}`);
    const more = await lateClient.request({ op: 'http', host: WEB_VIP, port: 80, count: 30, concurrency: 4 });
    assert.equal(more.failures, 0);
  });

  test('a UDP service answers', async () => {
    const r = await client.request({ op: 'udp', host: '10.96.0.53', port: 53 });
    assert.equal(r.outcome, 'answered');
    assert.match(r.backend ?? '', /^web-[123]$/);
  });

  test('a service without endpoints refuses at once: TCP RST and ICMP port unreachable', async () => {
    const tcp = await client.request({ op: 'connect', host: '10.96.0.20', port: 80, timeoutMs: 3000 });
    assert.equal(tcp.outcome, 'refused');
    assert.ok((tcp.ms ?? 9999) < 1000, `refused after ${tcp.ms} ms`);
    const udp = await client.request({ op: 'udp', host: '10.96.0.20', port: 53, timeoutMs: 3000 });
    assert.equal(udp.outcome, 'refused');
    assert.ok((udp.ms ?? 9999) < 1000, `refused after ${udp.ms} ms`);
  });

  test('hairpin: a pod reaches itself through its service', async () => {
    const [w1] = web as [Pod];
    const inWeb1 = await startPodClient(w1.ns);
    clients.push(inWeb1);
    const r = await inWeb1.request({ op: 'http', host: '10.96.0.30', port: 80, count: 20, concurrency: 4 });
    assert.equal(r.failures, 0, `failures: ${r.errors?.join('; ')}`);
    assert.deepEqual(r.byBackend, { 'web-1': 20 });
  });

  test('a long-lived connection keeps its backend while backends are added and removed; a removed one gets no new connections', async () => {
    const opened = await client.request({ op: 'session-open', id: 'long', host: WEB_VIP, port: 9000 });
    assert.equal(opened.outcome, 'connected');
    const first = await client.request({ op: 'session-ask', id: 'long' });
    assert.equal(first.outcome, 'answered');
    const kept = web.find((p) => p.name === first.backend);
    assert.ok(kept, `served by ${first.backend}`);
    const [w1, w2, w3, w4] = web as [Pod, Pod, Pod, Pod];
    const removed = [w1, w2, w3].find((p) => p !== kept);
    assert.ok(removed);

    await change('web.yaml', webService([w1, w2, w3, w4].filter((p) => p !== removed)));
    const after = await client.request({ op: 'session-ask', id: 'long' });
    assert.deepEqual(after, { outcome: 'answered', backend: kept.name });

    const r = await client.request({ op: 'http', host: WEB_VIP, port: 80, count: 600, concurrency: 16 });
    assert.equal(r.failures, 0);
    assert.equal(r.byBackend?.[removed.name], undefined, `${removed.name} got new connections after removal`);
    assert.ok((r.byBackend?.['web-4'] ?? 0) > 0, 'the added backend serves');

    await change('web.yaml', webService([w1, w2, w3]));
    const stillThere = await client.request({ op: 'session-ask', id: 'long' });
    assert.deepEqual(stillThere, { outcome: 'answered', backend: kept.name });
  });

  test('a UDP flow to a backend that left its service moves at once, though the backend lives on elsewhere', async () => {
    await client.request({ op: 'udp-open', id: 'dns', host: '10.96.0.53', port: 53 });
    const first = await client.request({ op: 'udp-ask', id: 'dns' });
    assert.equal(first.outcome, 'answered');
    assert.deepEqual(await client.request({ op: 'udp-ask', id: 'dns' }), first, 'the flow keeps its backend');
    const remaining = web.slice(0, 3).filter((p) => p.name !== first.backend);
    await change('dns.yaml', dnsService('dns', '10.96.0.53', remaining));
    const after = await client.request({ op: 'udp-ask', id: 'dns' });
    assert.equal(after.outcome, 'answered');
    assert.notEqual(after.backend, first.backend, 'not pinned to the removed backend');
    assert.ok(remaining.some((p) => p.name === after.backend));
  });

  test('the admin API reports counters and rejected objects as Prometheus metrics', async () => {
    writeManifest(dir, 'broken.yaml', serviceManifest('broken', '10.96.0.300', [{ name: 'http', port: 80, targetPort: 80 }], [], []));
    await new Promise((r) => setTimeout(r, 500));
    const metrics = await runIn(sandbox.nodeNs, process.execPath, [
      '-e',
      "fetch('http://127.0.0.1:10249/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
    ]);
    assert.match(metrics, /kbproxy_datapath_packets_total\{reason="ct_new"\} [1-9]\d*/);
    assert.match(metrics, /kbproxy_rejected_objects\{kind="Service"\} 1/);
    assert.match(metrics, /kubeproxy_sync_proxy_rules_last_timestamp_seconds \d+/);
    unlinkSync(path.join(dir, 'broken.yaml'));
  });

  test('a manifest removed from the directory takes its service away without restarting the agent', async () => {
    await change('solo.yaml', null);
    const r = await client.request({ op: 'connect', host: '10.96.0.30', port: 80, timeoutMs: 1500 });
    assert.notEqual(r.outcome, 'connected');
  });

  test('restart: the agent is killed and started again while a client loops: no request fails, no map is flushed', async () => {
    const svc = native().openPinnedMap(path.join(sandbox.pinDir, 'svc_v4'));
    const backends = native().openPinnedMap(path.join(sandbox.pinDir, 'backends_v4'));
    const snapshot = () => ({
      svc: svc
        .keys()
        .map((k) => `${k.toString('hex')}=${svc.lookup(k)?.toString('hex')}`)
        .sort(),
      backends: backends
        .keys()
        .map((k) => `${k.toString('hex')}=${backends.lookup(k)?.toString('hex')}`)
        .sort(),
    });
    try {
      const before = snapshot();
      assert.ok(before.svc.length > 0);
      await client.request({ op: 'session-open', id: 'restart', host: WEB_VIP, port: 9000 });
      const served = await client.request({ op: 'session-ask', id: 'restart' });

      await client.request({ op: 'loop-start', host: WEB_VIP, port: 80, intervalMs: 10 });
      await new Promise((r) => setTimeout(r, 500));
      await agent?.kill();
      agent = undefined;
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(snapshot(), before, 'maps intact while no agent runs');
      agent = await startAgent(sandbox.nodeNs, agentArgs());
      await new Promise((r) => setTimeout(r, 1000));
      const loop = await client.request({ op: 'loop-stop' });
      assert.equal(loop.failed, 0, `failed requests: ${loop.errors?.join('; ')}`);
      assert.ok((loop.ok ?? 0) > 50, `only ${loop.ok} requests went through`);
      assert.deepEqual(snapshot(), before, 'the restarted agent rewrote nothing');
      assert.deepEqual(await client.request({ op: 'session-ask', id: 'restart' }), served, 'an open connection kept its backend');
    } finally {
      svc.close();
      backends.close();
    }
  });

  test('SIGTERM stops the agent cleanly and the dataplane keeps serving', async () => {
    const code = await agent?.stop();
    agent = undefined;
    assert.equal(code, 0);
    const r = await client.request({ op: 'http', host: WEB_VIP, port: 80, count: 50, concurrency: 4 });
    assert.equal(r.failures, 0);
  });
});
