// The agent against a real control plane (etcd, kube-apiserver, the EndpointSlice controller): pods
// and services made through the API, traffic through the ClusterIP from a client pod.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { native } from '../../src/native/bpf.js';
import { runIn, spawnIn } from '../../harness/exec.js';
import { agentCommand, startAgent, startPodClient, type AgentProcess, type PodClient } from '../../harness/processes.js';
import { createTestCluster, NODE_NAME, type TestCluster } from '../../harness/cluster.js';
import { ifSet } from '../helpers/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` passes (returns true) or the deadline passes; returns the elapsed ms. */
async function within(ms: number, what: string, check: () => boolean | Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
  return Date.now() - started;
}

describe('agent on a real Kubernetes control plane', { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let agent: AgentProcess | undefined;
  let client: PodClient;
  let vip = '';

  const backendsSeen = async (count = 200): Promise<Record<string, number>> => {
    const r = await client.request({ op: 'http', host: vip, port: 80, count, concurrency: 8 });
    return r.failures ? { failures: r.failures } : (r.byBackend ?? {});
  };
  const sameSet = (seen: Record<string, number>, expected: string[]) => JSON.stringify(Object.keys(seen).sort()) === JSON.stringify([...expected].sort());

  // Sizes of the service maps with only the API server's own "kubernetes" service (kept by the
  // API server itself: deleting it would only bring it back).
  let baseline: number[] = [];
  const mapSizes = (): number[] =>
    ['svc_v4', 'backends_v4', 'revnat_v4', 'maglev_v4'].map((name) => {
      const m = native().openPinnedMap(path.join(cluster.sandbox.pinDir, name));
      try {
        return m.keys().length;
      } finally {
        m.close();
      }
    });

  before(async () => {
    cluster = await createTestCluster();
    const clientPod = await cluster.sandbox.addPod('client');
    client = await startPodClient(clientPod.ns);
    agent = await startAgent(cluster.sandbox.nodeNs, ['--kubeconfig', cluster.cp.kubeconfig, '--pin-dir', cluster.sandbox.pinDir, '--node-name', NODE_NAME], {
      log: process.env.KBP_LOG_AGENT === '1',
    });
    // Its frontend and its cluster IP's marker (any other port refused).
    await within(5000, 'the kubernetes service programmed', () => mapSizes()[0] === 2);
    baseline = mapSizes();
  });
  after(async () => {
    ifSet(client)?.close();
    await agent?.kill().catch(() => undefined);
    await ifSet(cluster)?.destroy();
  });

  test('a Service and 3 pods made through the API: the ClusterIP answers from all three within 2 s', async () => {
    for (const name of ['web-1', 'web-2', 'web-3']) await cluster.addPod(name, { app: 'web' });
    const started = Date.now();
    const created = await cluster.kube({
      op: 'apply',
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      },
    });
    vip = (created.object as { spec: { clusterIP: string } }).spec.clusterIP;
    assert.match(vip, /^10\.96\./);
    await within(2000, 'all three backends answer', async () => sameSet(await backendsSeen(60), ['web-1', 'web-2', 'web-3']));
    console.log(`# service programmed and answering from 3 backends ${Date.now() - started} ms after creation`);
  });

  test('scaling to 5 and to 1: traffic follows; a deleted pod gets no new connections', async () => {
    for (const name of ['web-4', 'web-5']) await cluster.addPod(name, { app: 'web' });
    await within(3000, 'five backends', async () => sameSet(await backendsSeen(200), ['web-1', 'web-2', 'web-3', 'web-4', 'web-5']));
    for (const name of ['web-2', 'web-3', 'web-4', 'web-5']) await cluster.deletePod(name);
    await within(3000, 'one backend', async () => sameSet(await backendsSeen(40), ['web-1']));
    const after = await backendsSeen(300);
    assert.deepEqual(Object.keys(after), ['web-1'], `deleted pods still served: ${JSON.stringify(after)}`);
    const metrics = await runIn(cluster.sandbox.nodeNs, process.execPath, [
      '-e',
      "fetch('http://127.0.0.1:10249/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
    ]);
    const programmed = Number(metrics.match(/kubeproxy_network_programming_duration_seconds_count (\d+)/)?.[1] ?? 0);
    assert.ok(programmed >= 2, `network programming latency observed ${programmed} times`);
  });

  test('session affinity ClientIP keeps a client on one backend; switching it off spreads again', async () => {
    await cluster.addPod('web-6', { app: 'web' });
    await within(3000, 'two backends', async () => sameSet(await backendsSeen(100), ['web-1', 'web-6']));
    const service = (affinity: boolean) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        selector: { app: 'web' },
        clusterIP: vip,
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
        sessionAffinity: affinity ? 'ClientIP' : 'None',
        ...(affinity ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } } : {}),
      },
    });
    await cluster.kube({ op: 'apply', object: service(true) });
    await within(3000, 'one backend for the client', async () => Object.keys(await backendsSeen(100)).length === 1);
    await cluster.kube({ op: 'apply', object: service(false) });
    await within(3000, 'spread again', async () => Object.keys(await backendsSeen(100)).length === 2);
  });

  test('the API server stopped for 10 s: no request fails; a change after it returns is programmed', async () => {
    await client.request({ op: 'loop-start', host: vip, port: 80, intervalMs: 20 });
    await cluster.cp.stopApiServer();
    await sleep(10_000);
    await cluster.cp.startApiServer();
    const loop = await client.request({ op: 'loop-stop' });
    assert.equal(loop.failed, 0, `failed: ${loop.errors?.join('; ')}`);
    assert.ok((loop.ok ?? 0) > 100, `only ${loop.ok} requests`);
    await cluster.addPod('web-7', { app: 'web' });
    await within(15_000, 'the pod added after the outage serves', async () => sameSet(await backendsSeen(100), ['web-1', 'web-6', 'web-7']));
  });

  test('deleting every service returns every map to its size before them (no leaks)', async () => {
    await cluster.kube({ op: 'delete', object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' } } });
    await within(3000, `maps back to ${JSON.stringify(baseline)}`, () => JSON.stringify(mapSizes()) === JSON.stringify(baseline));
  });

  test('a node name the cluster has no Node for: the agent refuses to start and says so', async () => {
    const pinDir = `${cluster.sandbox.pinDir}-nonode`;
    try {
      const [cmd = process.execPath, ...args] = agentCommand([
        '--kubeconfig',
        cluster.cp.kubeconfig,
        '--pin-dir',
        pinDir,
        '--node-name',
        'no-such-node',
        '--admin-address',
        '',
      ]);
      // The agent logs to stderr.
      const child = spawnIn(cluster.sandbox.nodeNs, cmd, args, { stdio: ['ignore', 'inherit', 'pipe'] });
      let out = '';
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(killer);
      assert.equal(code, 1);
      assert.match(out, /KBP_NODE_NOT_FOUND/);
      assert.match(out, /the cluster has no Node \\"no-such-node\\"/);
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });
});
