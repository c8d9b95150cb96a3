// What the admin API shows, computed from what the agent wants (the compiled services) and what the
// kernel holds (the maps as read back), with every difference between the two reported as drift.
// Pure: the agent hands both in.
import { backendKey, frontendKey, slotCounts, type LbService } from '../compile/types.js';
import { CtDir, SvcScope, protocolName, type CtEntry, type CtKey } from '../dataplane/layout.js';
import { backendValueKey, clusterIpMarkersOf, frontendHex, frontendMapKey, isClusterIpMarker, type MapState } from '../dataplane/state.js';
import type { BackendUse, ConnectionView, MaglevView, PortView, ServiceView } from './shapes.js';

/** The table of one service as the kernel holds it, in backend addresses; null when it is missing. */
function liveTable(live: MapState, svcId: number): string[] | null {
  const table = live.tables.get(svcId);
  if (!table) return null;
  return [...table].map((id) => {
    const b = live.backends.get(id);
    return b ? backendValueKey(b) : `missing backend ${id}`;
  });
}

function portDrift(svc: LbService, live: MapState): { svcId: number | null; drift: string[] } {
  const drift: string[] = [];
  let svcId: number | null = null;
  const usable = new Set(svc.table).size;
  for (const f of svc.frontends) {
    const entry = live.frontends.get(frontendHex(frontendMapKey(f)));
    if (!entry) {
      drift.push(`${svc.key}: frontend ${frontendKey(f)} is not in svc_v4`);
      continue;
    }
    svcId ??= entry.value.svcId;
    if (entry.value.svcId !== svcId) drift.push(`${svc.key}: frontend ${frontendKey(f)} names service ${entry.value.svcId}, not ${svcId}`);
    if (entry.value.lbSize !== svc.table.length)
      drift.push(`${svc.key}: frontend ${frontendKey(f)} announces ${entry.value.lbSize} slots, not ${svc.table.length}`);
    if (entry.value.backendCount !== usable) drift.push(`${svc.key}: frontend ${frontendKey(f)} counts ${entry.value.backendCount} backends, not ${usable}`);
  }
  if (svcId !== null && svc.table.length > 0) {
    const want = [...svc.table].map((i) => backendKey(svc.backends[i] ?? { address: '?', port: 0, protocol: 'TCP' }));
    const have = liveTable(live, svcId);
    if (!have) drift.push(`${svc.key}: no Maglev table for service ${svcId}`);
    else {
      const differing = want.filter((b, slot) => have[slot] !== b).length + Math.abs(want.length - have.length);
      if (differing > 0) drift.push(`${svc.key}: Maglev table differs in ${differing} of ${want.length} slots`);
    }
  }
  return { svcId, drift };
}

function portView(svc: LbService, live: MapState): { view: PortView; drift: string[] } {
  const { svcId, drift } = portDrift(svc, live);
  const counts = slotCounts(svc);
  return {
    drift,
    view: {
      key: svc.key,
      port: svc.portName,
      scope: svc.scope,
      frontends: svc.frontends.map((f) => `${f.address}:${f.port}/${f.protocol}`),
      svcId,
      maglevSize: svc.table.length,
      affinityTimeoutSeconds: svc.affinityTimeoutSeconds,
      whenEmpty: svc.whenEmpty,
      sourceRanges: svc.sourceRanges,
      backends: svc.backends.map((b, i) => {
        const slots = counts[i] ?? 0;
        return {
          address: b.address,
          port: b.port,
          protocol: b.protocol,
          state: b.terminating ? 'terminating' : slots > 0 ? 'ready' : 'standby',
          local: b.local,
          slots,
          share: svc.table.length ? slots / svc.table.length : 0,
        };
      }),
    },
  };
}

/** Every Kubernetes service with its ports, sorted by namespace/name; drift per service. */
export function serviceViews(services: readonly LbService[], live: MapState): ServiceView[] {
  const byService = new Map<string, ServiceView>();
  for (const svc of [...services].sort((a, b) => a.key.localeCompare(b.key))) {
    const [namespace = '', name = ''] = svc.service.split('/');
    const view = byService.get(svc.service) ?? { namespace, name, ports: [], counters: { connections: 0, packets: 0, bytes: 0 }, drift: [] };
    const { view: port, drift } = portView(svc, live);
    view.ports.push(port);
    view.drift.push(...drift);
    byService.set(svc.service, view);
  }
  return [...byService.values()];
}

/** Adds each service's live connections (from connectionViews) to its counters. */
export function countConnections(views: ServiceView[], connections: readonly ConnectionView[]): void {
  const bySvcId = new Map<number, ServiceView>();
  for (const v of views) for (const p of v.ports) if (p.svcId !== null) bySvcId.set(p.svcId, v);
  for (const c of connections) {
    const v = bySvcId.get(c.svcId);
    if (!v) continue;
    v.counters.connections++;
    v.counters.packets += c.packets;
    v.counters.bytes += c.bytes;
  }
}

/** Frontends in the kernel that no wanted service names: left over, or written by someone else. */
export function orphanFrontends(services: readonly LbService[], live: MapState): string[] {
  const wanted = new Set(services.flatMap((s) => [...s.frontends.map((f) => frontendHex(frontendMapKey(f))), ...clusterIpMarkersOf(s).map(frontendHex)]));
  const scopeName = (scope: number): string => Object.entries(SvcScope).find(([, n]) => n === scope)?.[0] ?? String(scope);
  return [...live.frontends.entries()]
    .filter(([hex]) => !wanted.has(hex))
    .map(([, f]) =>
      isClusterIpMarker(f.key)
        ? `${f.key.vip}: any port (cluster IP marker)`
        : `${f.key.vip}:${f.key.port}/${protocolName(f.key.proto)}/${scopeName(f.key.scope)} (service ${f.value.svcId})`,
    );
}

/** Every backend in the kernel with the service ports that use it. */
export function backendViews(services: readonly LbService[], live: MapState): BackendUse[] {
  const users = new Map<string, string[]>();
  for (const svc of services) for (const b of svc.backends) users.set(backendKey(b), [...(users.get(backendKey(b)) ?? []), svc.key]);
  return [...live.backends.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, b]) => ({ id, address: b.ip, port: b.port, protocol: protocolName(b.proto), services: users.get(backendValueKey(b)) ?? [] }));
}

/** A service's Maglev tables as the kernel holds them: the backend ("ip:port") of every slot, and the shares. */
export function maglevView(view: ServiceView, live: MapState): MaglevView {
  const tables = view.ports.map((p) => {
    const ids = p.svcId === null ? undefined : live.tables.get(p.svcId);
    const slots = [...(ids ?? [])].map((id) => {
      const b = live.backends.get(id);
      return b ? `${b.ip}:${b.port}` : `missing:${id}`;
    });
    const shares: Record<string, number> = {};
    for (const s of slots) shares[s] = (shares[s] ?? 0) + 1 / slots.length;
    return { key: p.key, size: slots.length, slots, shares };
  });
  return { namespace: view.namespace, name: view.name, tables };
}

/** The connections in conntrack (their client-side legs), optionally of some service ids only, in key order. */
export function connectionViews(
  entries: readonly { key: CtKey; entry: CtEntry }[],
  live: MapState,
  nowNs: bigint,
  svcIds?: ReadonlySet<number>,
): ConnectionView[] {
  return entries
    .filter(({ key, entry }) => (key.dir === CtDir.service || key.dir === CtDir.external) && (!svcIds || svcIds.has(entry.svcId)) && entry.expiresNs > nowNs)
    .map(({ key, entry }) => {
      const b = live.backends.get(entry.backendId);
      return {
        protocol: protocolName(key.proto),
        client: `${key.saddr}:${key.sport}`,
        frontend: `${key.daddr}:${key.dport}`,
        backend: b ? `${b.ip}:${b.port}` : null,
        path: key.dir === CtDir.external ? ('external' as const) : ('internal' as const),
        svcId: entry.svcId,
        packets: Number(entry.packets),
        bytes: Number(entry.bytes),
        expiresInSeconds: Math.round(Number(entry.expiresNs - nowNs) / 1e9),
      };
    })
    .sort((a, b) => `${a.frontend} ${a.client} ${a.protocol}`.localeCompare(`${b.frontend} ${b.client} ${b.protocol}`));
}
