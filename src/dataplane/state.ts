// The contents of the service maps as plain data: what the agent wants (rendered from the compiled
// services) and what the kernel has (dumped from the pinned maps) share this one shape, so the
// difference between them is a pure function.
import { backendKey, type LbFrontend, type LbService } from '../compile/types.js';
import {
  IPPROTO,
  SvcScope,
  encodeSourceRangeKey,
  protocolName,
  svcKeyV4,
  type BackendValue,
  type RevnatValue,
  type SourceRangeKey,
  type SvcKey,
  type SvcValue,
} from './layout.js';
import type { IdBook } from './ids.js';

export interface FrontendEntry {
  key: SvcKey;
  value: SvcValue;
}

export interface MapState {
  /** svc_v4, by the hex of the encoded key. */
  frontends: Map<string, FrontendEntry>;
  backends: Map<number, BackendValue>;
  revnat: Map<number, RevnatValue>;
  /** maglev_v4: svc_id -> backend id by slot. */
  tables: Map<number, Uint32Array>;
  /** lb_src_v4, by the hex of the encoded key. */
  sourceRanges: Map<string, SourceRangeKey>;
}

export function emptyMapState(): MapState {
  return { frontends: new Map(), backends: new Map(), revnat: new Map(), tables: new Map(), sourceRanges: new Map() };
}

/** A compiled frontend as its svc_v4 key. */
export function frontendMapKey(f: LbFrontend): SvcKey {
  return { vip: f.address, port: f.port, proto: IPPROTO[f.protocol], scope: SvcScope[f.scope] };
}

/**
 * The svc_v4 entry that marks a cluster IP as such, any port and protocol: a new flow to it that no
 * service port takes is refused (kube-proxy nftables: "Reject traffic to invalid ports of ClusterIPs").
 */
function clusterIpMarkerKey(address: string): SvcKey {
  return { vip: address, port: 0, proto: 0, scope: SvcScope.internal };
}

/** The markers a compiled service port holds: one per cluster IP of an internal port, none otherwise. */
export function clusterIpMarkersOf(svc: LbService): SvcKey[] {
  return svc.scope === 'internal' ? svc.frontends.map((f) => clusterIpMarkerKey(f.address)) : [];
}

export function isClusterIpMarker(key: SvcKey): boolean {
  return key.port === 0 && key.proto === 0;
}

export function frontendHex(key: SvcKey): string {
  return svcKeyV4.encode(key).toString('hex');
}

export function sourceRangeHex(key: SourceRangeKey): string {
  return encodeSourceRangeKey(key).toString('hex');
}

export function revnatKey(v: RevnatValue): string {
  return `${v.vip}:${v.port}`;
}

/** The id books that give map entries their kernel ids. */
export interface IdBooks {
  services: IdBook;
  backends: IdBook;
  revnat: IdBook;
}

/** Takes over the ids already in the kernel's maps, so a restarted agent rewrites nothing that is right. */
export function adoptIds(applied: MapState, ids: IdBooks, serviceKeyOf: (svcId: number) => string | undefined): void {
  for (const [id, b] of applied.backends) ids.backends.adopt(backendValueKey(b), id);
  for (const [id, r] of applied.revnat) ids.revnat.adopt(revnatKey(r), id);
  // A service id no desired service claims is held under a placeholder for the first render, so that
  // no new service takes it (and its old table) while stale frontends may still point at it.
  // Cluster IP markers name no service (id 0).
  const svcIds = new Set([...[...applied.frontends.values()].flatMap((f) => (isClusterIpMarker(f.key) ? [] : [f.value.svcId])), ...applied.tables.keys()]);
  for (const svcId of svcIds) ids.services.adopt(serviceKeyOf(svcId) ?? `stale/${svcId}`, svcId);
}

/** The natural key ("ip:port/proto") of a backend as the maps hold it. */
export function backendValueKey(b: BackendValue): string {
  return backendKey({ address: b.ip, port: b.port, protocol: protocolName(b.proto) });
}

/**
 * Which compiled service each applied svc_id belonged to, found through the frontends they share:
 * the identity of a service in the maps is its set of frontends.
 */
export function serviceKeysByAppliedId(services: readonly LbService[], applied: MapState): Map<number, string> {
  const byFrontend = new Map<string, string>();
  for (const s of services) {
    for (const f of s.frontends) {
      byFrontend.set(frontendHex(frontendMapKey(f)), s.key);
    }
  }
  const out = new Map<number, string>();
  for (const [hex, entry] of applied.frontends) {
    const key = byFrontend.get(hex);
    if (key !== undefined && !out.has(entry.value.svcId)) out.set(entry.value.svcId, key);
  }
  return out;
}
