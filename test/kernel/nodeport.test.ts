// Outside traffic on a simulated two-node cluster (docs/ARCHITECTURE.md §6): an agent per node with XDP on the
// node's eth0, pods behind both nodes, and a client outside the cluster on the fabric. Node ports,
// load-balancer and external IPs, externalTrafficPolicy Local with its health check node port,
// loadBalancerSourceRanges, and long-lived connections across endpoint changes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createMultiNodeTopology, type MultiNodeTopology, type SimNode } from '../../harness/multinode.js';
import { startAgent, startPodClient, startPodServer, type AgentProcess, type PodClient } from '../../harness/processes.js';
import type { Pod } from '../../harness/topology.js';
import { native } from '../../src/native/bpf.js';
import { readCounters } from '../../src/dataplane/stats.js';
import { KernelServiceMaps, openServiceMaps } from '../../src/dataplane/kernel-maps.js';
import { loadDatapath } from '../../src/dataplane/loader.js';
import { HAIRPIN_ADDRESS } from '../helpers/datapath.js';
import { nodeAgentArgs, nodeObject, serviceObject, sliceObject, writeManifest } from '../helpers/manifests.js';
import { createTestCgroup, type TestCgroup } from '../helpers/cgroup.js';
import { ifSet } from '../helpers/types.js';

const LB_IP = '198.18.0.10';
const EXTERNAL_IP = '198.18.1.10';
const RESTRICTED_LB_IP = '198.18.0.20';

interface Endpoint {
  pod: Pod;
  node: SimNode;
}

function slice(name: string, ports: { name: string; port: number; protocol?: string }[], endpoints: Endpoint[]): object {
  return sliceObject(
    name,
    ports,
    endpoints.map((e) => ({ ip: e.pod.ip, nodeName: e.node.name })),
  );
}

const service = serviceObject;

describe('node ports, load-balancer and external IPs across two nodes', { timeout: 300_000 }, () => {
  let topo: MultiNodeTopology;
  let dir: string;
  let client: PodClient;
  const agents: AgentProcess[] = [];
  const servers: { kill(): void }[] = [];
  const endpoints: Endpoint[] = [];
  let hostCgroup: TestCgroup;
  /** A pod on node-a that only sends. */
  let clientA: Pod;

  const nodeA = () => topo.nodes[0] as SimNode;
  const nodeB = () => topo.nodes[1] as SimNode;

  function manifests(webEndpoints: Endpoint[]): string {
    const onA = endpoints.filter((e) => e.node === nodeA());
    const docs = [
      ...topo.nodes.map(nodeObject),
      service('web', '10.96.0.10', {
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80, targetPort: 8080, nodePort: 30080 },
          { name: 'line', port: 9000, targetPort: 9000, nodePort: 30900 },
        ],
      }),
      slice(
        'web',
        [
          { name: 'http', port: 8080 },
          { name: 'line', port: 9000 },
        ],
        webEndpoints,
      ),
      service('local', '10.96.0.11', {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32082,
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30082 }],
      }),
      slice('local', [{ name: 'http', port: 8080 }], onA.slice(0, 1)),
      service(
        'lb',
        '10.96.0.12',
        {
          type: 'LoadBalancer',
          externalIPs: [EXTERNAL_IP],
          ports: [
            { name: 'http', port: 80, targetPort: 8080, nodePort: 30083 },
            { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP', nodePort: 30053 },
          ],
        },
        { loadBalancer: { ingress: [{ ip: LB_IP }] } },
      ),
      slice(
        'lb',
        [
          { name: 'http', port: 8080 },
          { name: 'dns', port: 5353, protocol: 'UDP' },
        ],
        endpoints,
      ),
      service(
        'restricted',
        '10.96.0.13',
        { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.200/32'], ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30084 }] },
        { loadBalancer: { ingress: [{ ip: RESTRICTED_LB_IP }] } },
      ),
      slice('restricted', [{ name: 'http', port: 8080 }], endpoints),
      service('none', '10.96.0.14', {
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80, targetPort: 8080, nodePort: 30085 },
          { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP', nodePort: 30086 },
        ],
      }),
    ];
    return docs.map((d) => stringify(d)).join('---\n');
  }

  /** Rewrites the manifests and waits until every agent has programmed the change. */
  async function program(webEndpoints: Endpoint[]): Promise<void> {
    const synced = agents.map((agent) => agent.nextProgramming());
    writeManifest(dir, 'cluster.yaml', manifests(webEndpoints));
    await Promise.all(synced);
  }

  const countersOf = (node: SimNode) => {
    const stats = native().openPinnedMap(path.join(node.sandbox.pinDir, 'stats'));
    try {
      return readCounters(stats, native().possibleCpus());
    } finally {
      stats.close();
    }
  };

  before(async () => {
    topo = await createMultiNodeTopology();
    dir = mkdtempSync(path.join(tmpdir(), 'kbp-test-nodeport-'));
    for (const node of topo.nodes) {
      for (const i of [1, 2]) {
        const pod = await node.sandbox.addPod(`web-${node.name.slice(-1)}${i}`);
        servers.push(await startPodServer(pod.ns, pod.name));
        endpoints.push({ pod, node });
      }
    }
    clientA = await nodeA().sandbox.addPod('client-a');
    writeManifest(dir, 'cluster.yaml', manifests(endpoints));
    hostCgroup = createTestCgroup(`kbp-${topo.runId}-host`);
    for (const node of topo.nodes) {
      const args = nodeAgentArgs(node, dir, HAIRPIN_ADDRESS);
      // node-a's host-network clients: the processes of a cgroup made for this test.
      if (node === nodeA()) args.push('--host-cgroup', hostCgroup.path);
      agents.push(await startAgent(node.sandbox.nodeNs, args));
    }
    client = await startPodClient(topo.client.ns);
  });

  after(async () => {
    ifSet(client)?.close();
    for (const agent of agents) await agent.kill().catch(() => undefined);
    for (const s of servers) s.kill();
    ifSet(hostCgroup)?.destroy();
    await ifSet(topo)?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a node port on either node reaches the backends of both nodes', async () => {
    for (const node of topo.nodes) {
      const r = await client.request({ op: 'http', host: node.address, port: 30080, count: 120, concurrency: 8 });
      assert.equal(r.failures, 0, `through ${node.name}: ${JSON.stringify(r.errors)}`);
      assert.deepEqual(Object.keys(r.byBackend ?? {}).sort(), endpoints.map((e) => e.pod.name).sort(), `through ${node.name}`);
    }
    assert.ok(countersOf(nodeA()).external_remote.packets > 0n, 'node-a forwarded to node-b');
    assert.ok(countersOf(nodeA()).external_local.packets > 0n, 'node-a served locally');
  });

  test('the same flow through either node reaches the same backend, from identical Maglev tables', async () => {
    const tables = await Promise.all(
      topo.nodes.map(async (node) => {
        const obj = await loadDatapath({ pinDir: node.sandbox.pinDir, hairpinAddress: HAIRPIN_ADDRESS });
        try {
          const state = new KernelServiceMaps(native(), openServiceMaps(obj)).dump();
          const lb = [...state.frontends.values()].find((f) => f.key.vip === LB_IP && f.key.port === 53);
          assert.ok(lb, `LB frontend on ${node.name}`);
          // Backend ids are each node's own: compare the tables as the addresses they lead to.
          const table = state.tables.get(lb.value.svcId) ?? new Uint32Array();
          return Buffer.from([...table].map((id) => `${state.backends.get(id)?.ip}:${state.backends.get(id)?.port}`).join(','));
        } finally {
          obj.close();
        }
      }),
    );
    assert.ok(tables[0]?.length, 'a table');
    assert.ok(tables[0].equals(tables[1] ?? Buffer.alloc(0)), 'byte for byte');

    const answers: string[] = [];
    for (const [i, node] of topo.nodes.entries()) {
      await topo.routeVia(LB_IP, node);
      await client.request({ op: 'udp-open', id: `same-${i}`, host: LB_IP, port: 53, localPort: 45053 });
      const r = await client.request({ op: 'udp-ask', id: `same-${i}` });
      await client.request({ op: 'udp-close', id: `same-${i}` });
      assert.equal(r.outcome, 'answered', `through ${node.name}`);
      answers.push(r.backend ?? '');
    }
    assert.equal(answers[0], answers[1]);
  });

  test('externalTrafficPolicy Local keeps the client address; a node without local endpoints drops and fails its health check', async () => {
    const viaA = await client.request({ op: 'http', host: nodeA().address, port: 30082, count: 20, concurrency: 4 });
    assert.equal(viaA.failures, 0, JSON.stringify(viaA.errors));
    assert.deepEqual(Object.keys(viaA.seenFrom ?? {}), [topo.client.address], 'the backend saw the client itself');

    const dropsBefore = countersOf(nodeB()).drop_no_local_backend.packets;
    const viaB = await client.request({ op: 'connect', host: nodeB().address, port: 30082, timeoutMs: 1500 });
    assert.equal(viaB.outcome, 'timeout');
    assert.ok(countersOf(nodeB()).drop_no_local_backend.packets > dropsBefore, 'counted on node-b');

    const health = async (node: SimNode) => (await client.request({ op: 'status', host: node.address, port: 32082 })).status;
    assert.equal(await health(nodeA()), 200);
    assert.equal(await health(nodeB()), 503);
  });

  test('a load-balancer IP and an external IP reach the service; a source outside the ranges is refused', async () => {
    await topo.routeVia(LB_IP, nodeA());
    await topo.routeVia(EXTERNAL_IP, nodeB());
    await topo.routeVia(RESTRICTED_LB_IP, nodeA());
    for (const host of [LB_IP, EXTERNAL_IP]) {
      const r = await client.request({ op: 'http', host, port: 80, count: 40, concurrency: 4 });
      assert.equal(r.failures, 0, `${host}: ${JSON.stringify(r.errors)}`);
    }
    const before = countersOf(nodeA()).drop_source_range.packets;
    const refused = await client.request({ op: 'connect', host: RESTRICTED_LB_IP, port: 80, timeoutMs: 1500 });
    assert.equal(refused.outcome, 'timeout');
    assert.ok(countersOf(nodeA()).drop_source_range.packets > before, 'counted');
  });

  test("a pod reaches its own node's node port and a load-balancer IP", async () => {
    const podClient = await startPodClient(clientA.ns);
    try {
      for (const [host, port] of [
        [nodeA().address, 30080],
        [LB_IP, 80],
      ] as const) {
        const r = await podClient.request({ op: 'http', host, port, count: 60, concurrency: 4 });
        assert.equal(r.failures, 0, `${host}:${port}: ${JSON.stringify(r.errors)}`);
        assert.deepEqual(Object.keys(r.byBackend ?? {}).sort(), endpoints.map((e) => e.pod.name).sort(), `${host}:${port}`);
      }
    } finally {
      podClient.close();
    }
  });

  test("a process in node-a's own namespace reaches a ClusterIP; one outside the cgroup is not translated", async () => {
    const hostClient = await startPodClient(nodeA().sandbox.nodeNs);
    const outsider = await startPodClient(nodeA().sandbox.nodeNs);
    try {
      hostCgroup.add(hostClient.pid);
      const r = await hostClient.request({ op: 'http', host: '10.96.0.10', port: 80, count: 60, concurrency: 4 });
      assert.equal(r.failures, 0, JSON.stringify(r.errors));
      assert.deepEqual(Object.keys(r.byBackend ?? {}).sort(), endpoints.map((e) => e.pod.name).sort());
      const udp = await hostClient.request({ op: 'udp', host: '10.96.0.12', port: 53 });
      assert.equal(udp.outcome, 'answered', 'UDP through the socket hooks');
      const outside = await outsider.request({ op: 'connect', host: '10.96.0.10', port: 80, timeoutMs: 1000 });
      assert.notEqual(outside.outcome, 'connected');

      // A pod's process in the same cgroup is another namespace's: left to the tc path.
      const podInCgroup = await startPodClient(clientA.ns);
      try {
        hostCgroup.add(podInCgroup.pid);
        const before = countersOf(nodeA()).sock_translated.packets;
        const viaTc = await podInCgroup.request({ op: 'http', host: '10.96.0.10', port: 80, count: 10, concurrency: 2 });
        assert.equal(viaTc.failures, 0);
        assert.equal(countersOf(nodeA()).sock_translated.packets, before, 'no socket translation outside the host namespace');
      } finally {
        podInCgroup.close();
      }
    } finally {
      hostClient.close();
      outsider.close();
    }
  });

  test('a node port of a service without endpoints refuses at once: TCP RST, ICMP port unreachable', async () => {
    const tcp = await client.request({ op: 'connect', host: nodeB().address, port: 30085, timeoutMs: 3000 });
    assert.equal(tcp.outcome, 'refused');
    assert.ok((tcp.ms ?? 9999) < 1000, `refused after ${tcp.ms} ms`);
    const udp = await client.request({ op: 'udp', host: nodeB().address, port: 30086, timeoutMs: 3000 });
    assert.equal(udp.outcome, 'refused');
  });

  test('a long-lived connection through a node port survives backend changes elsewhere in the service', async () => {
    await client.request({ op: 'session-open', id: 'long', host: nodeA().address, port: 30900 });
    const first = await client.request({ op: 'session-ask', id: 'long' });
    assert.equal(first.outcome, 'answered');
    const serving = endpoints.find((e) => e.pod.name === first.backend);
    assert.ok(serving, `served by ${first.backend}`);
    // Take away every other backend, then bring them back: the connection's backend stays throughout.
    await program([serving]);
    assert.equal((await client.request({ op: 'session-ask', id: 'long' })).backend, serving.pod.name);
    await program(endpoints);
    for (let i = 0; i < 5; i++) assert.equal((await client.request({ op: 'session-ask', id: 'long' })).backend, serving.pod.name);
    await client.request({ op: 'session-close', id: 'long' });
  });
});
