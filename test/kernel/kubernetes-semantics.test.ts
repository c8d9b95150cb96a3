// Service semantics through a real API server: traffic policies, named ports, selectorless services,
// services that are not ours to serve, terminating endpoints, and objects the agent must refuse.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, startPodClient, type AgentProcess, type PodClient } from '../../harness/processes.js';
import { runIn } from '../../harness/exec.js';
import type { AgentStatus } from '../../src/api/server.js';
import { createTestCluster, NODE_NAME, OTHER_NODE, type TestCluster } from '../../harness/cluster.js';
import { ifSet } from '../helpers/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

describe('Kubernetes service semantics', { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let agent: AgentProcess | undefined;
  let client: PodClient;

  const service = async (name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Promise<string> => {
    const r = await cluster.kube({ op: 'apply', object: { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', labels }, spec } });
    return (r.object as { spec: { clusterIP: string } }).spec.clusterIP;
  };
  const served = async (host: string, port = 80, count = 60): Promise<string[]> => {
    const r = await client.request({ op: 'http', host, port, count, concurrency: 6 });
    return r.failures ? [`failures:${r.failures}`] : Object.keys(r.byBackend ?? {}).sort();
  };
  const status = async (): Promise<AgentStatus> =>
    JSON.parse(
      await runIn(cluster.sandbox.nodeNs, process.execPath, [
        '-e',
        "fetch('http://127.0.0.1:10249/v1/status').then((r) => r.text()).then((t) => process.stdout.write(t))",
      ]),
    ) as AgentStatus;

  before(async () => {
    cluster = await createTestCluster();
    client = await startPodClient((await cluster.sandbox.addPod('client')).ns);
    for (const name of ['web-1', 'web-2']) await cluster.addPod(name, { app: 'web' });
    agent = await startAgent(cluster.sandbox.nodeNs, ['--kubeconfig', cluster.cp.kubeconfig, '--pin-dir', cluster.sandbox.pinDir, '--node-name', NODE_NAME]);
  });
  after(async () => {
    ifSet(client)?.close();
    await agent?.kill().catch(() => undefined);
    await ifSet(cluster)?.destroy();
  });

  test("internalTrafficPolicy Local: only this node's endpoints take the traffic", async () => {
    await cluster.addPod('local-1', { app: 'loc' });
    await cluster.addPod('remote-1', { app: 'loc' }, { nodeName: OTHER_NODE });
    const cluster_ = await service('loc-cluster', { selector: { app: 'loc' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
    const local = await service('loc-local', {
      selector: { app: 'loc' },
      internalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80, targetPort: 8080 }],
    });
    await within(3000, 'Cluster policy uses both nodes', async () => JSON.stringify(await served(cluster_)) === JSON.stringify(['local-1', 'remote-1']));
    await within(3000, 'Local policy uses node-a only', async () => JSON.stringify(await served(local, 80, 100)) === JSON.stringify(['local-1']));
  });

  test('a multi-port service with a named targetPort', async () => {
    const ip = await service('multi', {
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'alt', port: 81, targetPort: 8081 },
      ],
    });
    await within(
      3000,
      'both ports serve both pods',
      async () =>
        JSON.stringify(await served(ip, 80)) === JSON.stringify(['web-1', 'web-2']) &&
        JSON.stringify(await served(ip, 81)) === JSON.stringify(['web-1', 'web-2']),
    );
  });

  test('a service without a selector, with hand-written EndpointSlices', async () => {
    const ip = await service('manual', { ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
    const web1 = cluster.sandbox.pods.find((p) => p.name === 'web-1');
    assert.ok(web1);
    await cluster.kube({
      op: 'apply',
      object: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'manual-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'manual' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: [{ addresses: [web1.ip], conditions: { ready: true } }],
      },
    });
    await within(3000, 'the hand-written endpoint serves', async () => JSON.stringify(await served(ip)) === JSON.stringify(['web-1']));
  });

  test('services labelled for another proxy, and headless services, get no dataplane and say why', async () => {
    const other = await service(
      'other',
      { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
      { 'service.kubernetes.io/service-proxy-name': 'someone-else' },
    );
    await service('stateful', { selector: { app: 'web' }, clusterIP: 'None', ports: [{ name: 'http', port: 80 }] });
    await within(3000, 'both reported', async () => {
      const reasons = (await status()).rejected.map((r) => `${r.key}: ${r.reason}`);
      return (
        reasons.some((r) => r.startsWith('default/other:') && r.includes('someone-else')) &&
        reasons.some((r) => r.startsWith('default/stateful:') && r.includes('headless'))
      );
    });
    const r = await client.request({ op: 'connect', host: other, port: 80, timeoutMs: 1000 });
    assert.notEqual(r.outcome, 'connected', "another proxy's service is not served here");
  });

  test('terminating endpoints take new flows only when no ready one exists', async () => {
    for (const name of ['term-1', 'term-2']) await cluster.addPod(name, { app: 'term' });
    const ip = await service('term', { selector: { app: 'term' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
    await within(3000, 'both serve', async () => JSON.stringify(await served(ip)) === JSON.stringify(['term-1', 'term-2']));
    await cluster.deletePod('term-1', 300);
    await within(3000, 'only the ready one', async () => JSON.stringify(await served(ip, 80, 100)) === JSON.stringify(['term-2']));
    await cluster.deletePod('term-2', 300);
    await within(
      3000,
      'both terminating: both serve again (fallback)',
      async () => JSON.stringify(await served(ip, 80, 100)) === JSON.stringify(['term-1', 'term-2']),
    );
  });

  test('an object the agent refuses (10,000 ports) is reported and counted; every other service keeps working', async () => {
    const ports = Array.from({ length: 10_000 }, (_, i) => ({ name: `p${i}`, port: 1 + i, targetPort: 8080 }));
    await service('huge', { selector: { app: 'web' }, ports });
    await within(5000, 'refusal reported', async () => (await status()).rejected.some((r) => r.key === 'default/huge' && /more than 100 ports/.test(r.reason)));
    const metrics = await runIn(cluster.sandbox.nodeNs, process.execPath, [
      '-e',
      "fetch('http://127.0.0.1:10249/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
    ]);
    assert.match(metrics, /kbproxy_rejected_objects\{kind="Service"\} [1-9]/);
    const multi = (await cluster.kube({ op: 'list', apiVersion: 'v1', kind: 'Service', namespace: 'default' })).object as {
      items: { metadata: { name: string }; spec: { clusterIP: string } }[];
    };
    const ip = multi.items.find((s) => s.metadata.name === 'multi')?.spec.clusterIP ?? '';
    assert.deepEqual(await served(ip), ['web-1', 'web-2']);
  });
});
