// The benchmark bed at one scale: a real control plane in the fabric namespace holding N selectorless
// Services with hand-written EndpointSlices, and node namespaces made fresh for every proxy under
// test (no rules, conntrack or pins left from another mode), each with a client pod and five backend
// pods. Backend pod e answers on every address of its own /14 ("AnyIP": a local route over the
// whole range), so N×5 endpoint addresses need five processes, not N×5. Every name carries the run
// id; destroy() removes all of it, and a failed creation removes what it had made.
//
//   fabric ns (API server 10.0.0.1) ──veth── node ns (eth0 10.0.0.11, "node-a") ──veth── client 10.244.1.10
//                                                                              ├─veth── backend 0 10.244.1.11, answers 10.128.0.0/14
//                                                                              ├─ ...
//                                                                              └─veth── backend 4 10.244.1.15, answers 10.144.0.0/14
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { k8sBinDir, NODE_NAME } from './cluster.js';
import { startControlPlane, type ControlPlane } from './controlplane.js';
import { runIn, spawnTiedIn } from './exec.js';
import { createFabric, type Fabric } from './fabric.js';
import type { KubeObject, KubeReply, KubeRequest } from './kube-client-protocol.js';
import { startWhoamiServer } from './processes.js';
import { createNodeSandbox, newRunId, removeNetns, type NodeSandbox } from './topology.js';

export { NODE_NAME };

export interface BenchClusterOptions {
  services: number;
  /** Endpoints of every service, one in each backend pod's range (default 5, at most 5). */
  endpointsPerService?: number;
  /** Requests in flight while populating (default 32). */
  concurrency?: number;
  /** Keep the work directory (logs, control plane files) on destroy (default: KBP_KEEP_BED=1). */
  keepWorkDir?: boolean;
}

export interface MeasuredService {
  name: string;
  namespace: 'default';
  clusterIP: string;
  httpPort: 80;
  udpPort: 8078;
  whoamiPort: 81;
  /** Its endpoint IPs, endpoint e in backend e's range. */
  endpoints: string[];
}

export interface BenchCluster {
  runId: string;
  /** For the proxies: the API server as reached from a node namespace. */
  kubeconfig: string;
  /** Where the bed's logs (fortio, the proxies) and the control plane's files live. */
  workDir: string;
  /** The ClusterIP of every service, in creation order (the measured one last). */
  serviceIPs: string[];
  measured: MeasuredService;
  /** How long creating the objects took (Services and EndpointSlices, written concurrently). */
  populateSeconds: number;
  /**
   * Rewrites the measured service's EndpointSlice to these endpoints (address, ready): for add,
   * remove and not-ready changes. Resolves when the API server accepted the write.
   */
  setMeasuredEndpoints(endpoints: { address: string; ready: boolean }[]): Promise<void>;
  /**
   * A fresh node namespace plugged into the fabric, with a client pod and the backend pods, servers
   * running. One at a time: every node is "node-a" at the same fabric address, so the previous one
   * must be destroyed first.
   */
  newNode(): Promise<BenchNode>;
  destroy(): Promise<void>;
}

export interface BenchNode {
  /** The node namespace (where a proxy runs). */
  ns: string;
  /** Per-node bpffs pin directory for our agent. */
  pinDir: string;
  client: { ns: string; ip: string };
  /**
   * The backend pods; each answers HTTP (8080) and whoami (8081) on every address of its range, and
   * the UDP echo (8078) on its endpoint of the measured service.
   */
  backends: { ns: string; ip: string; range: string }[];
  /**
   * An address in backend k's range (k modulo the number of backends) that no endpoint uses yet: for
   * the "add an endpoint" change. Every call on a node gives another one, in the same order on every
   * fresh node, so each mode sees the same changes.
   */
  spareEndpoint(k: number): string;
  destroy(): Promise<void>;
}

/** fortio's path, from KBP_FORTIO (scripts/fortio-build prints it). */
export function fortioPath(): string {
  const fortio = process.env.KBP_FORTIO;
  assert.ok(
    fortio,
    'KBP_FORTIO is not set: run the tests with `npm test` (scripts/fortio-build provides fortio), or export KBP_FORTIO=$(bash scripts/fortio-build)',
  );
  return fortio;
}

/** The backends: as many pods as a service has endpoints at most. */
export const BACKENDS = 5;
/** Backend pod e's range: 10.(128 + 4e).0.0/14. */
export const backendRange = (e: number): string => `10.${128 + 4 * e}.0.0/14`;
const RANGE_SIZE = 1 << 18;
const NODE_ADDRESS = '10.0.0.11';
const POD_PREFIX = '10.244.1';
const CLUSTER_CIDR = '10.244.0.0/16';
const PORTS = { http: 8080, udp: 8078, whoami: 8081 } as const;
const SLICES = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';

const ipv4 = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** Address `offset` of backend e's range (offset 0, the range's first address, is never used). */
function rangeAddress(e: number, offset: number): string {
  return ipv4(((10 << 24) | ((128 + 4 * e) << 16)) + offset);
}

/** Service i's ClusterIP in 10.96.0.0/16, past 10.96.0.0 and the API's own 10.96.0.1. */
export function clusterIPOf(i: number): string {
  const v = i + 2;
  return `10.96.${v >> 8}.${v & 255}`;
}

/** Endpoint e of service i: in backend e's range, unique per (i, e). */
export function endpointOf(i: number, e: number): string {
  return rangeAddress(e, i + 1);
}

/** Spare addresses count down from the top of each range, far from the endpoints counting up. */
function spareAddress(e: number, n: number): string {
  return rangeAddress(e, RANGE_SIZE - 2 - n);
}

/** The cluster's own CIDR of pods, for kube-proxy's --cluster-cidr. */
export const clusterCidr = CLUSTER_CIDR;

interface SlicePort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP';
}

function serviceObject(name: string, clusterIP: string, measured: boolean): KubeObject {
  const ports: { name: string; port: number; targetPort: number; protocol: 'TCP' | 'UDP' }[] = [
    { name: 'http', port: 80, targetPort: PORTS.http, protocol: 'TCP' },
  ];
  if (measured)
    ports.push({ name: 'udp', port: 8078, targetPort: PORTS.udp, protocol: 'UDP' }, { name: 'whoami', port: 81, targetPort: PORTS.whoami, protocol: 'TCP' });
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports },
  };
}

function sliceObject(name: string, ports: SlicePort[], endpoints: { address: string; ready: boolean }[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports,
    endpoints: endpoints.map(({ address, ready }) => ({
      addresses: [address],
      conditions: { ready, serving: ready, terminating: false },
      nodeName: NODE_NAME,
    })),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Waits until a namespace has these TCP and UDP ports listening (fortio gives no other signal). */
async function waitListening(ns: string, tcp: number[], udp: number[], what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const out = await runIn(ns, 'ss', ['-Hlntu']);
    const ports = (proto: string) => new Set(out.split('\n').flatMap((l) => (l.startsWith(proto) ? [Number(l.trim().split(/\s+/)[4]?.split(':').pop())] : [])));
    const [t, u] = [ports('tcp'), ports('udp')];
    if (tcp.every((p) => t.has(p)) && udp.every((p) => u.has(p))) return;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode ?? ''}) before it listened`);
    if (Date.now() > deadline) throw new Error(`${what}: ports ${[...tcp, ...udp].join(', ')} not listening within 15 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function createBenchCluster(options: BenchClusterOptions): Promise<BenchCluster> {
  const count = options.services;
  const perService = options.endpointsPerService ?? BACKENDS;
  assert.ok(
    Number.isInteger(count) && count >= 1 && count <= 65533,
    `services: 1 to 65533 (10.96.0.0/16 past .0.0, .0.1 and the broadcast address), not ${count}`,
  );
  assert.ok(Number.isInteger(perService) && perService >= 1 && perService <= BACKENDS, `endpointsPerService: 1 to ${BACKENDS}, not ${perService}`);
  const fortio = fortioPath();
  const binDir = k8sBinDir();

  const runId = newRunId();
  const workDir = mkdtempSync(path.join(tmpdir(), `kbp-bed-${runId}-`));
  const fabricNs = `kbp-${runId}-fabric`;
  let fabric: Fabric | undefined;
  let cp: ControlPlane | undefined;
  let live: BenchNode | undefined;
  let nodes = 0;
  let destroying: Promise<void> | undefined;
  const destroy = (): Promise<void> =>
    (destroying ??= (async () => {
      await live?.destroy().catch(() => undefined);
      await cp?.stop().catch(() => undefined);
      if (fabric) await removeNetns(fabricNs); // only a namespace this bed made
      if (options.keepWorkDir ?? process.env.KBP_KEEP_BED === '1') console.error(`bench bed ${runId}: logs kept in ${workDir}`);
      else rmSync(workDir, { recursive: true, force: true });
    })());

  try {
    const made = await createFabric(fabricNs);
    fabric = made;
    cp = await startControlPlane({
      fabricNs,
      address: made.address,
      binDir,
      workDir,
      controllerManager: false,
      log: process.env.KBP_LOG_CONTROL_PLANE === '1',
    });
    const client = cp.kube;
    const kube = async (req: KubeRequest): Promise<KubeReply> => {
      const reply = await client.request(req);
      if (reply.error) throw new Error(`${req.op}: ${reply.error}`);
      return reply;
    };

    // The node kube-proxy runs as (--hostname-override), with its address as a kubelet reports it.
    await kube({
      op: 'request',
      method: 'POST',
      path: '/api/v1/nodes',
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_NAME, labels: { 'kubernetes.io/hostname': NODE_NAME } } },
    });
    await kube({
      op: 'request',
      method: 'PATCH',
      path: `/api/v1/nodes/${NODE_NAME}/status`,
      body: {
        status: {
          addresses: [
            { type: 'InternalIP', address: NODE_ADDRESS },
            { type: 'Hostname', address: NODE_NAME },
          ],
        },
      },
    });

    const width = Math.max(5, String(count - 1).length);
    const names = Array.from({ length: count }, (_, i) => `app-${String(i).padStart(width, '0')}`);
    const serviceIPs = names.map((_, i) => clusterIPOf(i));
    const last = count - 1;
    const endpointsOf = (i: number) => Array.from({ length: perService }, (_, e) => endpointOf(i, e));
    const slicePorts = (measured: boolean): SlicePort[] =>
      measured
        ? [
            { name: 'http', port: PORTS.http, protocol: 'TCP' },
            { name: 'udp', port: PORTS.udp, protocol: 'UDP' },
            { name: 'whoami', port: PORTS.whoami, protocol: 'TCP' },
          ]
        : [{ name: 'http', port: PORTS.http, protocol: 'TCP' }];
    const services = names.map((name, i) => serviceObject(name, clusterIPOf(i), i === last));
    const slices = names.map((name, i) =>
      sliceObject(
        name,
        slicePorts(i === last),
        endpointsOf(i).map((address) => ({ address, ready: true })),
      ),
    );
    // Services and slices go in side by side: a slice does not need its service to exist. The API
    // server is the limit, not this client: after allocating each Service's IPAddress it counts
    // every IPAddress in its informer twice for its metrics (kube-apiserver v1.36 ipallocator
    // Used()), two-thirds of its CPU at 5,000 services, so Services go in ever slower as they grow.
    const concurrency = options.concurrency ?? 32;
    const started = performance.now();
    await Promise.all([kube({ op: 'create-many', objects: services, concurrency }), kube({ op: 'create-many', objects: slices, concurrency })]);
    const populateSeconds = (performance.now() - started) / 1000;

    const measuredName = names[last] ?? '';
    const measured: MeasuredService = {
      name: measuredName,
      namespace: 'default',
      clusterIP: clusterIPOf(last),
      httpPort: 80,
      udpPort: 8078,
      whoamiPort: 81,
      endpoints: endpointsOf(last),
    };
    let measuredNow = new Set(measured.endpoints);

    const newNode = async (): Promise<BenchNode> => {
      if (live) throw new Error('one bench node at a time: destroy the previous node first (every node is node-a at the same fabric address)');
      const k = ++nodes;
      const children: ChildProcess[] = [];
      let sandbox: NodeSandbox | undefined;
      let gone = false;
      const node: BenchNode = {
        ns: '',
        pinDir: '',
        client: { ns: '', ip: '' },
        backends: [],
        spareEndpoint: () => '',
        async destroy() {
          if (gone) return;
          gone = true;
          await Promise.all(children.map((c) => stopChild(c)));
          await sandbox?.destroy(); // kills whatever else still runs in its namespaces (a proxy left running)
          if (live === node) live = undefined;
        },
      };
      live = node;
      try {
        sandbox = await createNodeSandbox({ runId, name: `node${k}`, podPrefix: POD_PREFIX });
        // The fabric may remember the previous node's link layer address for 10.0.0.11.
        await runIn(fabricNs, 'ip', ['neigh', 'flush', 'to', NODE_ADDRESS]).catch(() => undefined);
        await made.connect(sandbox.nodeNs, NODE_ADDRESS, `kbp${runId}f${k}`);
        const clientPod = await sandbox.addPod(`n${k}-client`);
        const backends: BenchNode['backends'] = [];
        for (let e = 0; e < BACKENDS; e++) {
          const pod = await sandbox.addPod(`n${k}-be${e}`);
          const range = backendRange(e);
          // AnyIP: the node routes the whole range to the pod, and the pod takes it all as its own.
          // Via the pod's address: one neighbour entry for the range, not one per endpoint (tens of
          // thousands would overflow the node's neighbour table and drop connections).
          await runIn(sandbox.nodeNs, 'ip', ['route', 'add', range, 'via', pod.ip, 'dev', pod.hostIf]);
          await runIn(pod.ns, 'ip', ['route', 'add', 'local', range, 'dev', 'lo']);
          const log = openSync(path.join(workDir, `node${k}-be${e}-fortio.log`), 'a');
          let server: ChildProcess;
          try {
            // Only the HTTP echo (8080 on every address, UI off) and the UDP echo (8078); gRPC,
            // redirect and TCP echo off. An unconnected UDP server answers from the address the
            // route picks (the pod's own), not the one a datagram came to, so the UDP echo is bound
            // to the measured service's endpoint in this pod: its replies come from that address.
            const udp = measured.endpoints[e] === undefined ? String(PORTS.udp) : `${measured.endpoints[e]}:${PORTS.udp}`;
            const args = ['server', '-http-port', String(PORTS.http), '-udp-port', udp, '-grpc-port', 'disabled', '-redirect-port', 'disabled'];
            server = spawnTiedIn(pod.ns, fortio, [...args, '-tcp-port', 'disabled', '-ui-path', ''], { stdio: ['ignore', log, log], cwd: workDir });
          } finally {
            closeSync(log);
          }
          children.push(server);
          children.push(await startWhoamiServer(pod.ns, PORTS.whoami));
          await waitListening(pod.ns, [PORTS.http, PORTS.whoami], [PORTS.udp], `fortio in ${pod.ns}`, server);
          backends.push({ ns: pod.ns, ip: pod.ip, range });
        }
        const spares = new Map<number, number>();
        Object.assign(node, {
          ns: sandbox.nodeNs,
          pinDir: sandbox.pinDir,
          client: { ns: clientPod.ns, ip: clientPod.ip },
          backends,
          spareEndpoint(backend: number): string {
            const e = ((backend % BACKENDS) + BACKENDS) % BACKENDS;
            for (;;) {
              const n = spares.get(e) ?? 0;
              assert.ok(RANGE_SIZE - 2 - n > count, `backend ${e}'s range has no spare address left`);
              spares.set(e, n + 1);
              const address = spareAddress(e, n);
              if (!measuredNow.has(address)) return address;
            }
          },
        });
        return node;
      } catch (err) {
        await node.destroy();
        throw err;
      }
    };

    const measuredPorts = slicePorts(true);
    return {
      runId,
      kubeconfig: cp.kubeconfig,
      workDir,
      serviceIPs,
      measured,
      populateSeconds,
      async setMeasuredEndpoints(endpoints) {
        // No resourceVersion: an unconditional replace, one round trip.
        await kube({ op: 'request', method: 'PUT', path: `${SLICES}/${measuredName}`, body: sliceObject(measuredName, measuredPorts, endpoints) });
        measuredNow = new Set([...measured.endpoints, ...endpoints.map((x) => x.address)]);
      },
      newNode,
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
