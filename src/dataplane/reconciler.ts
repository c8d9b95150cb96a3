// Owns the service maps: turns each desired set of compiled services into the ordered writes that
// reach it from what the kernel holds, and keeps that picture exact. On a failed write it re-reads
// the maps (the truth) so the next attempt diffs against reality.
import { backendKey, type LbService } from '../compile/types.js';
import { diff } from './diff.js';
import { IdBook } from './ids.js';
import { flowPairKey } from './conntrack.js';
import { adoptIds, renderDesired, serviceKeysByAppliedId, type IdBooks, type MapState, type RenderCache } from './state.js';
import { applyOps, type ServiceMaps } from './writer.js';

export interface SyncResult {
  ops: number;
  durationMs: number;
  /** "svcId/backendId" pairs of UDP services whose backend left since the last sync (see conntrack.ts). */
  staleUdpFlows: Set<string>;
}

/** Id spaces, matching the maps' sizes in bpf/include/maps.h. */
const MAX_SERVICE_IDS = 131071;
const MAX_BACKEND_IDS = 262143;

export class Reconciler {
  private applied: MapState;
  private readonly ids: IdBooks = {
    services: new IdBook(MAX_SERVICE_IDS),
    backends: new IdBook(MAX_BACKEND_IDS),
    revnat: new IdBook(MAX_SERVICE_IDS),
  };
  private adopted = false;
  private readonly renderCache: RenderCache = new WeakMap();
  /** Backend ids of every UDP service at the last sync, by svc id. */
  private udpBackends = new Map<number, Set<number>>();

  constructor(private readonly maps: ServiceMaps) {
    this.applied = maps.dump();
  }

  /** What the kernel holds, as last written or read. */
  get state(): Readonly<MapState> {
    return this.applied;
  }

  sync(services: readonly LbService[]): SyncResult {
    const started = performance.now();
    if (!this.adopted) {
      const keysById = serviceKeysByAppliedId(services, this.applied);
      adoptIds(this.applied, this.ids, (id) => keysById.get(id));
      this.adopted = true;
    }
    const desired = renderDesired(services, this.ids, this.renderCache);
    const ops = diff(desired, this.applied);
    try {
      applyOps(ops, this.maps, this.applied);
    } catch (err) {
      this.applied = this.maps.dump();
      throw err;
    }
    return { ops: ops.length, durationMs: performance.now() - started, staleUdpFlows: this.staleUdpFlows(services) };
  }

  /**
   * UDP flows whose backend left its service (gone from the slices) since the last sync. A backend
   * that only stopped taking new flows (terminating, unready) keeps its flows until it is gone.
   */
  private staleUdpFlows(services: readonly LbService[]): Set<string> {
    const now = new Map<number, Set<number>>();
    for (const svc of services) {
      if (svc.frontends[0]?.protocol !== 'UDP') continue;
      now.set(this.ids.services.idFor(svc.key), new Set(svc.backends.map((b) => this.ids.backends.idFor(backendKey(b)))));
    }
    const stale = new Set<string>();
    for (const [svcId, before] of this.udpBackends) {
      for (const id of before) if (!now.get(svcId)?.has(id)) stale.add(flowPairKey(svcId, id));
    }
    this.udpBackends = now;
    return stale;
  }
}
