// The contents of the service maps as plain data: what the agent wants (rendered from the compiled
// services) and what the kernel has (dumped from the pinned maps) share this one shape, so the
// difference between them is a pure function.
import { backendKey, type LbService } from '../compile/types.js';
import {
  BackendFlag,
  IPPROTO,
  SvcFlag,
  SvcScope,
  encodeSvcKey,
  type BackendValue,
  type RevnatValue,
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
}

export function emptyMapState(): MapState {
  return { frontends: new Map(), backends: new Map(), revnat: new Map(), tables: new Map() };
}

export function frontendHex(key: SvcKey): string {
  return encodeSvcKey(key).toString('hex');
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
  for (const [id, b] of applied.backends) ids.backends.adopt(backendKey({ address: b.ip, port: b.port, protocol: protocolOf(b.proto) }), id);
  for (const [id, r] of applied.revnat) ids.revnat.adopt(revnatKey(r), id);
  // A service id no desired service claims is held under a placeholder for the first render, so that
  // no new service takes it (and its old table) while stale frontends may still point at it.
  const svcIds = new Set([...[...applied.frontends.values()].map((f) => f.value.svcId), ...applied.tables.keys()]);
  for (const svcId of svcIds) ids.services.adopt(serviceKeyOf(svcId) ?? `stale/${svcId}`, svcId);
}

function protocolOf(n: number): 'TCP' | 'UDP' | 'SCTP' {
  return n === IPPROTO.UDP ? 'UDP' : n === IPPROTO.SCTP ? 'SCTP' : 'TCP';
}

/**
 * Which compiled service each applied svc_id belonged to, found through the frontends they share:
 * the identity of a service in the maps is its set of frontends.
 */
export function serviceKeysByAppliedId(services: readonly LbService[], applied: MapState): Map<number, string> {
  const byFrontend = new Map<string, string>();
  for (const s of services) {
    for (const f of s.frontends) {
      byFrontend.set(frontendHex({ vip: f.address, port: f.port, proto: IPPROTO[f.protocol], scope: SvcScope[f.scope] }), s.key);
    }
  }
  const out = new Map<number, string>();
  for (const [hex, entry] of applied.frontends) {
    const key = byFrontend.get(hex);
    if (key !== undefined && !out.has(entry.value.svcId)) out.set(entry.value.svcId, key);
  }
  return out;
}

/** A service's table in backend ids, kept while the same compiled service keeps the same ids. */
interface RenderedTable {
  backendIds: number[];
  table: Uint32Array;
  usable: number;
}

/**
 * Rendered tables by compiled service object: a source that recompiles only what changed hands the
 * same objects back for the rest, whose tables (M slots each) need not be mapped again. The same
 * Uint32Array then also lets the diff see an unchanged table by identity.
 */
export type RenderCache = WeakMap<LbService, RenderedTable>;

function renderTable(svc: LbService, backendIds: number[], cache: RenderCache): RenderedTable {
  const cached = cache.get(svc);
  if (cached && cached.backendIds.length === backendIds.length && cached.backendIds.every((id, i) => id === backendIds[i])) return cached;
  const table = new Uint32Array(svc.table.length);
  for (let slot = 0; slot < table.length; slot++) table[slot] = backendIds[svc.table[slot] ?? 0] ?? 0;
  const rendered = { backendIds, table, usable: new Set(svc.table).size };
  cache.set(svc, rendered);
  return rendered;
}

/** Renders compiled services into map contents, giving every object its id. */
export function renderDesired(services: readonly LbService[], ids: IdBooks, cache: RenderCache = new WeakMap()): MapState {
  const state = emptyMapState();
  const liveServices = new Set<string>();
  const liveBackends = new Set<string>();
  const liveRevnat = new Set<string>();

  for (const svc of services) {
    const svcId = ids.services.idFor(svc.key);
    liveServices.add(svc.key);
    const backendIds = svc.backends.map((b) => {
      const key = backendKey(b);
      liveBackends.add(key);
      const id = ids.backends.idFor(key);
      const flags = (b.terminating ? BackendFlag.terminating : 0) | (b.local ? BackendFlag.local : 0);
      state.backends.set(id, { ip: b.address, port: b.port, proto: IPPROTO[b.protocol], flags });
      return id;
    });
    const { table, usable } = renderTable(svc, backendIds, cache);
    if (table.length > 0) state.tables.set(svcId, table);

    for (const f of svc.frontends) {
      const revnat = { vip: f.address, port: f.port };
      const rkey = revnatKey(revnat);
      liveRevnat.add(rkey);
      const revnatId = ids.revnat.idFor(rkey);
      state.revnat.set(revnatId, revnat);
      const key = { vip: f.address, port: f.port, proto: IPPROTO[f.protocol], scope: SvcScope[f.scope] };
      state.frontends.set(frontendHex(key), {
        key,
        value: {
          svcId,
          revnatId,
          lbSize: table.length,
          backendCount: usable,
          flags: svc.affinityTimeoutSeconds > 0 ? SvcFlag.affinity : 0,
          affinityTimeout: svc.affinityTimeoutSeconds,
        },
      });
    }
  }
  ids.services.retain(liveServices);
  ids.backends.retain(liveBackends);
  ids.revnat.retain(liveRevnat);
  return state;
}
