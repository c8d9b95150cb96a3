// Owns the service maps: turns the compiled services into the ordered writes that reach them from
// what the kernel holds, and keeps that picture exact. Only the service ports named as changed are
// rendered and compared (see desired.ts). On a failed write it re-reads the maps (the truth) and
// compares everything on the next attempt.
import type { LbService } from '../compile/types.js';
import { diff } from './diff.js';
import { DesiredState } from './desired.js';
import { IdBook } from './ids.js';
import { flowPairKey } from './conntrack.js';
import { adoptIds, serviceKeysByAppliedId, type IdBooks, type MapState } from './state.js';
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
  private readonly desired = new DesiredState(this.ids);
  private adopted = false;
  /** Compare every key on the next sync: at the start, and after the maps were re-read. */
  private fullDiff = true;

  constructor(private readonly maps: ServiceMaps) {
    this.applied = maps.dump();
  }

  /** What the kernel holds, as last written or read. */
  get state(): Readonly<MapState> {
    return this.applied;
  }

  /** Programs exactly `services`, every one rendered and compared (at start, and for tests). */
  sync(services: readonly LbService[]): SyncResult {
    const changes = new Map<string, LbService | null>(services.map((s) => [s.key, s]));
    for (const key of this.desired.keys()) if (!changes.has(key)) changes.set(key, null);
    return this.apply(changes);
  }

  /**
   * Re-reads the maps and rewrites whatever differs from the desired state (an entry changed, added or
   * removed behind the agent's back); its ops are the repairs.
   */
  repair(): SyncResult {
    this.applied = this.maps.dump();
    this.fullDiff = true;
    return this.apply(new Map());
  }

  /**
   * Programs the changes since the last call: each service port (by key) to its new form, or null
   * when it is gone. Service ports not named stay as they are. An empty map after a failure retries.
   */
  apply(changes: ReadonlyMap<string, LbService | null>): SyncResult {
    const started = performance.now();
    if (!this.adopted) {
      const keysById = serviceKeysByAppliedId(
        [...changes.values()].flatMap((s) => s ?? []),
        this.applied,
      );
      adoptIds(this.applied, this.ids, (id) => keysById.get(id));
    }
    const { touched, departed } = this.desired.update(changes);
    if (!this.adopted) {
      this.desired.releaseUnreferenced();
      this.adopted = true;
    }
    const ops = diff(this.desired.maps, this.applied, this.fullDiff ? undefined : touched);
    try {
      applyOps(ops, this.maps, this.applied);
      this.fullDiff = false;
    } catch (err) {
      this.applied = this.maps.dump();
      this.fullDiff = true;
      throw err;
    }
    // A UDP flow has no end the kernel could see: flows to a backend that left their service (gone
    // from the slices, not merely terminating) would keep blackholing until they idle out.
    const staleUdpFlows = new Set<string>();
    for (const d of departed) {
      if (d.service.frontends[0]?.protocol !== 'UDP') continue;
      for (const id of d.backendIds) staleUdpFlows.add(flowPairKey(d.svcId, id));
    }
    return { ops: ops.length, durationMs: performance.now() - started, staleUdpFlows };
  }
}
