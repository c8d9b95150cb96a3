// Owns the service maps: turns each desired set of compiled services into the ordered writes that
// reach it from what the kernel holds, and keeps that picture exact. On a failed write it re-reads
// the maps (the truth) so the next attempt diffs against reality.
import type { LbService } from '../compile/types.js';
import { diff } from './diff.js';
import { IdBook } from './ids.js';
import { adoptIds, renderDesired, serviceKeysByAppliedId, type IdBooks, type MapState } from './state.js';
import { applyOps, type ServiceMaps } from './writer.js';

export interface SyncResult {
  ops: number;
  durationMs: number;
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
    const desired = renderDesired(services, this.ids);
    const ops = diff(desired, this.applied);
    try {
      applyOps(ops, this.maps, this.applied);
    } catch (err) {
      this.applied = this.maps.dump();
      throw err;
    }
    return { ops: ops.length, durationMs: performance.now() - started };
  }
}
