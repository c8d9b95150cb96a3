// Control-plane benchmark against a real API server: with N services and N×E endpoints in the
// cluster, how long the agent takes to program them from cold, its memory, and how long one
// EndpointSlice change takes to reach the maps (API write -> watch -> compile -> map writes).
//
// Usage: node dist/bench/programming.js [--services 10000] [--endpoints 5] [--changes 100] [--out FILE]
// Needs KBP_K8S_BIN (scripts/k8s-build prints it).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../src/native/bpf.js';
import { startAgent, type AgentProcess } from '../harness/processes.js';
import { createTestCluster, NODE_NAME } from '../harness/cluster.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '5' },
    changes: { type: 'string', default: '100' },
    out: { type: 'string', default: path.join(repoRoot, 'bench', 'results', 'programming.json') },
  },
});
const services = Number(values.services);
const perService = Number(values.endpoints);
const changes = Number(values.changes);

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const endpointIp = (svc: number, e: number) => {
  const g = svc * perService + e;
  return `10.${128 + (g >> 16)}.${(g >> 8) & 255}.${g & 255}`;
};

function slice(i: number, generation: number) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc-${i}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    // The first endpoint moves with every change, so each change is real map work.
    endpoints: Array.from({ length: perService }, (_, e) => ({
      addresses: [e === 0 && generation > 0 ? `10.127.${generation >> 8}.${generation & 255}` : endpointIp(i, e)],
      conditions: { ready: true },
    })),
  };
}

const cluster = await createTestCluster();
let agent: AgentProcess | undefined;
try {
  let t = performance.now();
  const svcObjects = Array.from({ length: services }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: 'default' },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  }));
  await cluster.kube({ op: 'create-many', objects: svcObjects, concurrency: 16 });
  await cluster.kube({ op: 'create-many', objects: Array.from({ length: services }, (_, i) => slice(i, 0)), concurrency: 16 });
  const populateS = (performance.now() - t) / 1000;
  console.error(`cluster populated: ${services} services, ${services * perService} endpoints in ${populateS.toFixed(1)} s`);

  t = performance.now();
  agent = await startAgent(cluster.sandbox.nodeNs, ['--kubeconfig', cluster.cp.kubeconfig, '--pin-dir', cluster.sandbox.pinDir, '--node-name', NODE_NAME]);
  const coldMs = performance.now() - t;
  const rssMb = Number(readFileSync(`/proc/${agent.child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
  console.error(`programmed from cold in ${(coldMs / 1000).toFixed(2)} s, agent RSS ${rssMb.toFixed(0)} MiB`);

  const latencies: number[] = [];
  const syncs: number[] = [];
  for (let c = 1; c <= changes; c++) {
    const i = (c * 7919) % services;
    const programmed = agent.nextProgramming();
    const started = performance.now();
    await cluster.kube({ op: 'apply', object: slice(i, c) });
    syncs.push(await programmed);
    latencies.push(performance.now() - started);
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  const result = {
    benchmark: 'control-plane-programming',
    date: new Date().toISOString(),
    command: `node dist/bench/programming.js --services ${services} --endpoints ${perService} --changes ${changes}`,
    services,
    endpoints: services * perService,
    cluster_populate_s: round(populateS),
    cold_programming_s: round(coldMs / 1000),
    agent_rss_mib: Math.round(rssMb),
    endpoint_change_to_maps_ms: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(Math.max(...latencies)) },
    agent_sync_ms: { p50: round(percentile(syncs, 50)), p99: round(percentile(syncs, 99)), max: round(Math.max(...syncs)) },
    note: 'change latency runs from the API write request to the agent reporting the map writes done (includes the API server and the watch); agent_sync_ms is the agent own part (render, diff, map writes)',
  };
  mkdirSync(path.dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await agent?.kill().catch(() => undefined);
  await cluster.destroy();
}
