// ClusterState -> LbService[]: pure and deterministic (sorted), one LbService per Service port.
import { buildTable } from '../maglev/index.js';
import type { Endpoint, EndpointSlice, NodeInfo, Rejection, Service, ServicePort, TrafficPolicy } from '../model/types.js';
import { cidrContains, parseCidr } from '../model/cidr.js';
import { endpointsForNewFlows } from './endpoints.js';
import { backendKey, frontendKey, type FrontendKind, type FrontendScope, type LbBackend, type LbFrontend, type LbService, type WhenEmpty } from './types.js';

export interface CompileOptions {
  /** This node: which endpoints are local, its zone for topology hints, its addresses for node ports. */
  node: NodeInfo;
  maxTableSize?: number;
}

/** A service (or port) that gets no dataplane, and why: not an error, but worth showing. */
export type Skipped = Rejection;

export interface CompiledService {
  services: LbService[];
  skipped: Skipped[];
}

/** The endpoints of one service port, merged over all slices, one per address (ready wins). */
function endpointsOfPort(port: ServicePort, slices: readonly EndpointSlice[]): Map<string, { endpoint: Endpoint; port: number }> {
  const out = new Map<string, { endpoint: Endpoint; port: number }>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const match = slice.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
    if (!match) continue;
    for (const endpoint of slice.endpoints) {
      const seen = out.get(endpoint.address);
      if (!seen || (!seen.endpoint.ready && endpoint.ready)) out.set(endpoint.address, { endpoint, port: match.port });
    }
  }
  return out;
}

/** Where traffic from outside reaches a port: node ports on this node's addresses, external and load-balancer IPs. */
function externalFrontends(service: Service, port: ServicePort, node: NodeInfo): LbFrontend[] {
  const at =
    (kind: FrontendKind, p: number) =>
    (address: string): LbFrontend => ({ address, port: p, protocol: port.protocol, scope: 'external', kind });
  const nodePorts = port.nodePort !== null && service.type !== 'ClusterIP' ? node.addresses.map(at('nodePort', port.nodePort)) : [];
  return [...nodePorts, ...service.externalIPs.map(at('externalIP', port.port)), ...service.loadBalancerIPs.map(at('loadBalancerIP', port.port))];
}

/** The Maglev table over the endpoints that may take new flows, as indices into `backends`. */
function tableFor(usableKeys: string[], backends: readonly LbBackend[], options: CompileOptions): Uint32Array {
  const maglev = buildTable(usableKeys, options.maxTableSize === undefined ? {} : { maxSize: options.maxTableSize });
  const indexOf = new Map(backends.map((b, i) => [backendKey(b), i]));
  const indexByName = maglev.names.map((name) => indexOf.get(name) ?? 0);
  // A plain loop (see desired.ts): M runs to 65537.
  const table = new Uint32Array(maglev.table.length);
  for (let slot = 0; slot < table.length; slot++) table[slot] = indexByName[maglev.table[slot] ?? 0] ?? 0;
  return table;
}

function compilePort(service: Service, port: ServicePort, slices: readonly EndpointSlice[], options: CompileOptions): LbService[] {
  const byAddress = endpointsOfPort(port, slices);
  const backends: LbBackend[] = [...byAddress.values()]
    .map(({ endpoint, port: backendPort }) => ({
      address: endpoint.address,
      port: backendPort,
      protocol: port.protocol,
      terminating: endpoint.terminating,
      local: endpoint.nodeName === options.node.name,
    }))
    .sort((a, b) => backendKey(a).localeCompare(backendKey(b)));
  const endpoints = [...byAddress.values()].map((e) => e.endpoint);
  const usableKeys = (policy: TrafficPolicy): string[] =>
    endpointsForNewFlows(endpoints, policy, options.node).map((e) =>
      backendKey({ address: e.address, port: byAddress.get(e.address)?.port ?? 0, protocol: port.protocol }),
    );

  // kube-proxy's hasAnyEndpoints (pkg/proxy/topology.go CategorizeEndpoints): a ready or a serving
  // terminating endpoint anywhere. With none, every client is refused; with some but none usable under
  // a Local policy, the policy's clients are dropped (nftables proxier.go, syncProxyRules, the
  // internal/externalTrafficFilterVerdict "drop" cases).
  const anyEndpoints = endpoints.some((e) => e.ready || (e.serving && e.terminating));
  const whenEmpty = (policy: TrafficPolicy): WhenEmpty => (policy === 'Local' && anyEndpoints ? 'drop' : 'reject');
  const externalLocal = service.externalTrafficPolicy === 'Local';
  // loadBalancerSourceRanges bind every client, pods included. A request from the node to a VIP-like
  // load balancer's IP loops back with that IP as its source: admitted when a range holds a node
  // address (nftables proxier.go, syncProxyRules, allowFromNode).
  const ranges = service.loadBalancerSourceRanges.filter((r) => parseCidr(r)?.family === 4);
  const allowFromNode = ranges.some((r) => options.node.addresses.some((a) => cidrContains(r, a)));
  const sourceRanges = ranges.length > 0 && allowFromNode ? [...ranges, ...service.loadBalancerIPs.map((ip) => `${ip}/32`)] : ranges;
  const lb = (scope: FrontendScope, frontends: LbFrontend[], table: Uint32Array, empty: WhenEmpty): LbService => ({
    key: `${service.key}:${port.name}/${scope}`,
    service: service.key,
    portName: port.name,
    scope,
    frontends: frontends.map((f) => ({ ...f, scope })),
    backends,
    table,
    affinityTimeoutSeconds: service.affinityTimeoutSeconds,
    whenEmpty: empty,
    localOriginTwin: scope === 'external' && externalLocal,
    sourceRanges: scope === 'internal' ? [] : sourceRanges,
    healthCheckNodePort: scope === 'external' && externalLocal ? service.healthCheckNodePort : null,
  });
  const tables = new Map<string, Uint32Array>();
  // The same endpoints give the same table: built once per set of keys.
  const tableOf = (policy: TrafficPolicy): Uint32Array => {
    const keys = usableKeys(policy);
    const id = keys.join(',');
    let table = tables.get(id);
    if (table === undefined) tables.set(id, (table = tableFor(keys, backends, options)));
    return table;
  };
  const out = [
    lb(
      'internal',
      service.clusterIPs.map((address) => ({ address, port: port.port, protocol: port.protocol, scope: 'internal' as const, kind: 'clusterIP' as const })),
      tableOf(service.internalTrafficPolicy),
      whenEmpty(service.internalTrafficPolicy),
    ),
  ];
  const external = externalFrontends(service, port, options.node);
  if (external.length > 0) {
    out.push(lb('external', external, tableOf(service.externalTrafficPolicy), whenEmpty(service.externalTrafficPolicy)));
    // Pods and host clients of this node: "short-circuit pod traffic" / "short-circuit local traffic"
    // to the cluster policy's endpoints (nftables proxier.go, syncProxyRules, the EXT chain).
    if (externalLocal) out.push(lb('localOrigin', external, tableOf('Cluster'), whenEmpty('Cluster')));
  }
  return out;
}

export function compileService(service: Service, slices: readonly EndpointSlice[], options: CompileOptions): CompiledService {
  const skip = (reason: string): CompiledService => ({ services: [], skipped: [{ kind: 'Service', key: service.key, reason }] });
  if (service.proxyName !== null) return skip(`owned by service proxy "${service.proxyName}"`);
  if (service.type === 'ExternalName') return skip('ExternalName: resolved by DNS, no dataplane');
  if (service.headless) return skip('headless: no cluster IP, no dataplane');

  const skipped: Skipped[] = [];
  if (service.ipv6Addresses.length > 0) {
    skipped.push({
      kind: 'Service',
      key: service.key,
      reason: `IPv6 addresses not served (the datapath is IPv4 only for now): ${service.ipv6Addresses.join(', ')}`,
    });
  }
  if (service.clusterIPs.length === 0) return { services: [], skipped: [...skipped, { kind: 'Service', key: service.key, reason: 'no IPv4 cluster IP' }] };

  const services: LbService[] = [];
  for (const port of service.ports) {
    if (port.protocol === 'SCTP') {
      skipped.push({ kind: 'Service', key: `${service.key}:${port.name}`, reason: 'SCTP is not supported by the datapath' });
      continue;
    }
    try {
      services.push(...compilePort(service, port, slices, options));
    } catch (err) {
      skipped.push({ kind: 'Service', key: `${service.key}:${port.name}`, reason: (err as Error).message });
    }
  }
  return { services, skipped };
}

/**
 * Drops every service port whose frontend another one already claimed: the first in key order keeps
 * it. Applied to the whole set, however it was compiled (all at once or service by service).
 */
export function resolveFrontendConflicts(services: readonly LbService[]): CompiledService {
  const out: CompiledService = { services: [], skipped: [] };
  const owner = new Map<string, string>();
  for (const lb of [...services].sort((a, b) => a.key.localeCompare(b.key))) {
    const taken = lb.frontends.map(frontendKey).find((f) => owner.has(f));
    if (taken !== undefined) {
      out.skipped.push({ kind: 'Service', key: lb.key, reason: `frontend ${taken} is already served for ${owner.get(taken)}` });
      continue;
    }
    for (const f of lb.frontends) owner.set(frontendKey(f), lb.service);
    out.services.push(lb);
  }
  return out;
}
