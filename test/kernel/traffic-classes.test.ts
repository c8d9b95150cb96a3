// kube-proxy's behaviour, traffic class by traffic class, with real packets on two simulated nodes
// (docs/ARCHITECTURE.md §6): sources (outside the cluster, a pod on node-a, a host-network process on
// node-a) × destinations (cluster, node port, load-balancer and external IPs) × policies × endpoint
// sets. Each expected outcome is kube-proxy's, read from its source at the release scripts/k8s-build
// pins (v1.36.3); the `from` of every row names the line. Where iptables and nftables differ, the
// nftables proxier is the reference.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { createMultiNodeTopology, type MultiNodeTopology, type SimNode } from '../../harness/multinode.js';
import { startAgent, startPodClient, startPodServer, type AgentProcess, type PodClient } from '../../harness/processes.js';
import type { Pod } from '../../harness/topology.js';
import { HAIRPIN_ADDRESS } from '../helpers/datapath.js';
import { createTestCgroup, type TestCgroup } from '../helpers/cgroup.js';
import { nodeAgentArgs, nodeObject, serviceObject, sliceObject, writeManifest } from '../helpers/manifests.js';
import { ifSet } from '../helpers/types.js';

const NFT = 'pkg/proxy/nftables/proxier.go';
const TOPOLOGY = 'pkg/proxy/topology.go';

/** Addresses outside every node and pod network: routed to a node by the outside client, as a router would. */
const LOCAL_LB_IP = '198.18.0.30';
const LOCAL_EXTERNAL_IP = '198.18.1.30';
const RESTRICTED_LB_IP = '198.18.0.40';
const CLUSTER_IP_FROM_OUTSIDE = '10.96.1.15';
const UDP_ONLY_IP = '10.96.1.16';
/** The outside client's address (harness/multinode.ts): the one source the restricted service admits. */
const OUTSIDE_CLIENT = '10.0.0.100';

type Source = 'outside' | 'pod-a' | 'host-a';
type Outcome = { servedBy: string[] } | 'refused' | 'dropped';

interface Row {
  what: string;
  from: Source;
  /** A node's address when the destination is a node port. */
  to: string | ((nodes: { a: SimNode; b: SimNode }) => string);
  port: number;
  expect: Outcome;
  /** Where in kube-proxy the expectation comes from. */
  source: string;
}

const ROWS: Row[] = [
  // 1. Local-origin traffic to a Local external frontend: every cluster endpoint.
  {
    what: 'pod → node port of its own node, externalTrafficPolicy Local, endpoint on node-b only',
    from: 'pod-a',
    to: ({ a }) => a.address,
    port: 30180,
    expect: { servedBy: ['be-b1'] },
    source: `${NFT}:1522 (EXT chain: "short-circuit pod traffic" goto the cluster policy chain)`,
  },
  {
    what: 'pod → load-balancer IP, Local, endpoint elsewhere',
    from: 'pod-a',
    to: LOCAL_LB_IP,
    port: 80,
    expect: { servedBy: ['be-b1'] },
    source: `${NFT}:1522`,
  },
  {
    what: 'pod → external IP, Local, endpoint elsewhere',
    from: 'pod-a',
    to: LOCAL_EXTERNAL_IP,
    port: 80,
    expect: { servedBy: ['be-b1'] },
    source: `${NFT}:1522`,
  },
  {
    what: 'host process → node port of its node, Local, endpoint elsewhere',
    from: 'host-a',
    to: ({ a }) => a.address,
    port: 30180,
    expect: { servedBy: ['be-b1'] },
    source: `${NFT}:1547 (EXT chain: "short-circuit local traffic", fib saddr type local)`,
  },
  {
    what: 'host process → load-balancer IP, Local, endpoint elsewhere',
    from: 'host-a',
    to: LOCAL_LB_IP,
    port: 80,
    expect: { servedBy: ['be-b1'] },
    source: `${NFT}:1547`,
  },
  {
    what: 'host process → external IP, Local, endpoint elsewhere',
    from: 'host-a',
    to: LOCAL_EXTERNAL_IP,
    port: 80,
    expect: { servedBy: ['be-b1'] },
    source: `${NFT}:1547`,
  },
  // 2. externalTrafficPolicy Local from outside.
  {
    what: 'outside → node port, Local, endpoints on another node only: dropped',
    from: 'outside',
    to: ({ a }) => a.address,
    port: 30180,
    expect: 'dropped',
    source: `${NFT}:1321 (externalTrafficFilterVerdict = "drop" when !hasExternalEndpoints)`,
  },
  {
    what: 'outside → node port of the node with the endpoint, Local',
    from: 'outside',
    to: ({ b }) => b.address,
    port: 30180,
    expect: { servedBy: ['be-b1'] },
    source: `${NFT}:1284 (externalPolicyChain = localPolicyChain)`,
  },
  {
    what: 'outside → node port, Local, no endpoints anywhere: rejected',
    from: 'outside',
    to: ({ a }) => a.address,
    port: 30181,
    expect: 'refused',
    source: `${NFT}:1307 (!hasEndpoints: externalTrafficFilterVerdict goto reject-chain); ${TOPOLOGY}:87 (hasAnyEndpoints)`,
  },
  // 3. internalTrafficPolicy Local.
  {
    what: 'pod → cluster IP, internalTrafficPolicy Local, endpoints on another node only: dropped',
    from: 'pod-a',
    to: '10.96.1.12',
    port: 80,
    expect: 'dropped',
    source: `${NFT}:1313 (internalTrafficFilterVerdict = "drop" when !hasInternalEndpoints)`,
  },
  {
    what: 'pod → cluster IP, internalTrafficPolicy Local, an endpoint on this node: only that one',
    from: 'pod-a',
    to: '10.96.1.13',
    port: 80,
    expect: { servedBy: ['be-a1'] },
    source: `${TOPOLOGY}:116 (localEndpoints: ready and local)`,
  },
  // 4. loadBalancerSourceRanges bind every client.
  {
    what: 'pod outside the source ranges → restricted load-balancer IP: dropped',
    from: 'pod-a',
    to: RESTRICTED_LB_IP,
    port: 80,
    expect: 'dropped',
    source: `${NFT}:1588 (firewall chain: saddr not in the ranges drop; jumped to from filter prerouting pre-DNAT for every source, ${NFT}:378)`,
  },
  {
    what: 'outside client within the ranges → restricted load-balancer IP',
    from: 'outside',
    to: RESTRICTED_LB_IP,
    port: 80,
    expect: { servedBy: ['be-a1', 'be-b1'] },
    source: `${NFT}:1588`,
  },
  {
    what: 'pod → node port of the restricted service: node ports are not subject to the ranges',
    from: 'pod-a',
    to: ({ a }) => a.address,
    port: 30184,
    expect: { servedBy: ['be-a1', 'be-b1'] },
    source: `${NFT}:1455 ("nodeports are not subject to loadBalancerSourceRanges")`,
  },
  // 5. Host processes: node ports on the node's addresses, not on localhost (nftables mode).
  {
    what: 'host process → node port on 127.0.0.1: not a node port (refused by the host itself)',
    from: 'host-a',
    to: '127.0.0.1',
    port: 30184,
    expect: 'refused',
    source: `${NFT}:673 (the node-port rule matches "ip daddr != 127.0.0.0/8"; ${NFT}:543 "localhost NodePorts are not supported")`,
  },
  // 8. Node ports on the addresses --nodeport-addresses picks: "primary", nftables' default, is the node IP only.
  {
    what: 'pod → node port on the node’s address toward its pods (not the primary node IP): not a node port',
    from: 'pod-a',
    to: ({ a }) => a.podCidr.replace(/\.0\/24$/, '.1'),
    port: 30184,
    expect: 'refused',
    source: `cmd/kube-proxy/app/server_linux.go:54 (nftables defaults --nodeport-addresses to primary) and server.go:233 (primary: the node IP alone)`,
  },
  // 6. A cluster IP reached from outside the node (a route to the service range).
  {
    what: 'outside → cluster IP routed to node-a: balanced over every endpoint',
    from: 'outside',
    to: CLUSTER_IP_FROM_OUTSIDE,
    port: 80,
    expect: { servedBy: ['be-a1', 'be-b1'] },
    source: `${NFT}:657 ("masquerade clusterIP traffic from outside cluster", then the service map)`,
  },
  // 7. A cluster IP on a port or protocol no service port declares.
  {
    what: 'pod → cluster IP on a port its service does not declare: rejected',
    from: 'pod-a',
    to: CLUSTER_IP_FROM_OUTSIDE,
    port: 81,
    expect: 'refused',
    source: `${NFT}:504 ("Reject traffic to invalid ports of ClusterIPs", from filter forward, ${NFT}:385)`,
  },
  {
    what: 'pod → TCP to a UDP-only service’s cluster IP and port: rejected',
    from: 'pod-a',
    to: UDP_ONLY_IP,
    port: 53,
    expect: 'refused',
    source: `${NFT}:504`,
  },
  {
    what: 'outside → cluster IP routed to the node, undeclared port: rejected',
    from: 'outside',
    to: CLUSTER_IP_FROM_OUTSIDE,
    port: 81,
    expect: 'refused',
    source: `${NFT}:504`,
  },
];

interface Endpoint {
  pod: Pod;
  node: SimNode;
}

const service = serviceObject;
const slice = (name: string, endpoints: Endpoint[]): object =>
  sliceObject(
    name,
    [{ name: 'http', port: 8080 }],
    endpoints.map((e) => ({ ip: e.pod.ip, nodeName: e.node.name })),
  );

describe('traffic classes as kube-proxy serves them', { timeout: 300_000 }, () => {
  let topo: MultiNodeTopology;
  let dir: string;
  const agents: AgentProcess[] = [];
  const servers: { kill(): void }[] = [];
  const clients: Partial<Record<Source, PodClient>> = {};
  let hostCgroup: TestCgroup;
  const nodes = () => ({ a: topo.nodes[0] as SimNode, b: topo.nodes[1] as SimNode });

  before(async () => {
    topo = await createMultiNodeTopology();
    dir = mkdtempSync(path.join(tmpdir(), 'kbp-test-classes-'));
    const { a, b } = nodes();
    const endpoint = async (node: SimNode, name: string): Promise<Endpoint> => {
      const pod = await node.sandbox.addPod(name);
      servers.push(await startPodServer(pod.ns, name));
      return { pod, node };
    };
    const beA1 = await endpoint(a, 'be-a1');
    const beB1 = await endpoint(b, 'be-b1');
    // Before the agents: they attach to the pod interfaces there are when they start.
    const clientPod = await a.sandbox.addPod('client-a');
    const http = (nodePort?: number) => [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', ...(nodePort ? { nodePort } : {}) }];
    const docs = [
      ...topo.nodes.map(nodeObject),
      service(
        'etp-local',
        '10.96.1.10',
        { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32180, externalIPs: [LOCAL_EXTERNAL_IP], ports: http(30180) },
        { loadBalancer: { ingress: [{ ip: LOCAL_LB_IP }] } },
      ),
      slice('etp-local', [beB1]),
      service('etp-local-none', '10.96.1.11', { type: 'NodePort', externalTrafficPolicy: 'Local', healthCheckNodePort: 32181, ports: http(30181) }),
      service('itp-local', '10.96.1.12', { type: 'ClusterIP', internalTrafficPolicy: 'Local', ports: http() }),
      slice('itp-local', [beB1]),
      service('itp-local-here', '10.96.1.13', { type: 'ClusterIP', internalTrafficPolicy: 'Local', ports: http() }),
      slice('itp-local-here', [beA1, beB1]),
      service(
        'restricted',
        '10.96.1.14',
        { type: 'LoadBalancer', loadBalancerSourceRanges: [`${OUTSIDE_CLIENT}/32`], ports: http(30184) },
        { loadBalancer: { ingress: [{ ip: RESTRICTED_LB_IP }] } },
      ),
      slice('restricted', [beA1, beB1]),
      service('web', CLUSTER_IP_FROM_OUTSIDE, { type: 'ClusterIP', ports: http() }),
      slice('web', [beA1, beB1]),
      service('udp-only', UDP_ONLY_IP, { type: 'ClusterIP', ports: [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }] }),
    ];
    writeManifest(dir, 'cluster.yaml', docs.map((d) => stringify(d)).join('---\n'));
    hostCgroup = createTestCgroup(`kbp-${topo.runId}-classes`);
    for (const node of topo.nodes) {
      const args = nodeAgentArgs(node, dir, HAIRPIN_ADDRESS);
      if (node === a) args.push('--host-cgroup', hostCgroup.path);
      agents.push(await startAgent(node.sandbox.nodeNs, args));
    }
    for (const address of [LOCAL_LB_IP, LOCAL_EXTERNAL_IP, RESTRICTED_LB_IP, CLUSTER_IP_FROM_OUTSIDE]) await topo.routeVia(address, a);
    clients.outside = await startPodClient(topo.client.ns);
    clients['pod-a'] = await startPodClient(clientPod.ns);
    const host = await startPodClient(a.sandbox.nodeNs);
    hostCgroup.add(host.pid);
    clients['host-a'] = host;
  });

  after(async () => {
    for (const c of Object.values(clients)) c.close();
    for (const agent of agents) await agent.kill().catch(() => undefined);
    for (const s of servers) s.kill();
    ifSet(hostCgroup)?.destroy();
    await ifSet(topo)?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const row of ROWS) {
    test(`${row.what} (kube-proxy: ${row.source})`, async () => {
      const client = clients[row.from];
      assert.ok(client, `client ${row.from}`);
      const host = typeof row.to === 'string' ? row.to : row.to(nodes());
      if (typeof row.expect === 'object') {
        const r = await client.request({ op: 'http', host, port: row.port, count: 40, concurrency: 4 });
        assert.equal(r.failures ?? 0, 0, `failures: ${JSON.stringify(r.errors)}`);
        assert.deepEqual(Object.keys(r.byBackend ?? {}).sort(), row.expect.servedBy);
      } else {
        // A drop leaves the connection waiting; a reject answers at once (TCP RST).
        const r = await client.request({ op: 'connect', host, port: row.port, timeoutMs: 1500 });
        assert.equal(r.outcome, row.expect === 'refused' ? 'refused' : 'timeout');
      }
    });
  }
});
