// ClusterState -> LbService[]: pure and deterministic (sorted), one LbService per Service port.
import { buildTable } from '../maglev/index.js';
import type { ClusterState } from '../model/state.js';
import type { Endpoint, EndpointSlice, Rejection, Service, ServicePort } from '../model/types.js';
import { endpointsForNewFlows } from './endpoints.js';
import { backendKey, frontendKey, type LbBackend, type LbService } from './types.js';

export interface CompileOptions {
  nodeName: string;
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

export function compileService(service: Service, slices: readonly EndpointSlice[], options: CompileOptions): CompiledService {
  const skip = (reason: string): CompiledService => ({ services: [], skipped: [{ kind: 'Service', key: service.key, reason }] });
  if (service.proxyName !== null) return skip(`owned by service proxy "${service.proxyName}"`);
  if (service.type === 'ExternalName') return skip('ExternalName: resolved by DNS, no dataplane');
  if (service.headless) return skip('headless: no cluster IP, no dataplane');
  if (service.clusterIPs.length === 0) return skip('no IPv4 cluster IP (the datapath is IPv4 only for now)');

  const services: LbService[] = [];
  const skipped: Skipped[] = [];
  for (const port of service.ports) {
    if (port.protocol === 'SCTP') {
      skipped.push({ kind: 'Service', key: `${service.key}:${port.name}`, reason: 'SCTP is not supported by the datapath' });
      continue;
    }
    const byAddress = endpointsOfPort(port, slices);
    const backends: LbBackend[] = [...byAddress.values()]
      .map(({ endpoint, port: backendPort }) => ({
        address: endpoint.address,
        port: backendPort,
        protocol: port.protocol,
        terminating: endpoint.terminating,
        local: endpoint.nodeName === options.nodeName,
      }))
      .sort((a, b) => backendKey(a).localeCompare(backendKey(b)));
    const usable = endpointsForNewFlows(
      [...byAddress.values()].map((e) => e.endpoint),
      { nodeName: options.nodeName, internalTrafficPolicy: service.internalTrafficPolicy },
    );
    const indexOf = new Map(backends.map((b, i) => [backendKey(b), i]));
    const usableKeys = usable.map((e) => backendKey({ address: e.address, port: byAddress.get(e.address)?.port ?? 0, protocol: port.protocol }));
    let maglev: ReturnType<typeof buildTable>;
    try {
      maglev = buildTable(usableKeys, options.maxTableSize === undefined ? {} : { maxSize: options.maxTableSize });
    } catch (err) {
      skipped.push({ kind: 'Service', key: `${service.key}:${port.name}`, reason: (err as Error).message });
      continue;
    }
    services.push({
      key: `${service.key}:${port.name}/internal`,
      service: service.key,
      portName: port.name,
      scope: 'internal',
      frontends: service.clusterIPs.map((address) => ({ address, port: port.port, protocol: port.protocol, scope: 'internal' as const })),
      backends,
      table: Uint32Array.from(maglev.table, (slot) => indexOf.get(maglev.names[slot] ?? '') ?? 0),
      affinityTimeoutSeconds: service.affinityTimeoutSeconds,
    });
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

export function compile(state: ClusterState, options: CompileOptions): CompiledService {
  const all: LbService[] = [];
  const skipped: Skipped[] = [];
  for (const [key, service] of state.services) {
    const r = compileService(service, state.slicesOf(key), options);
    all.push(...r.services);
    skipped.push(...r.skipped);
  }
  const resolved = resolveFrontendConflicts(all);
  return { services: resolved.services, skipped: [...skipped.sort((a, b) => a.key.localeCompare(b.key)), ...resolved.skipped] };
}
