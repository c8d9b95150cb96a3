// The desired map contents, kept up to date service by service. The compiler names the service
// ports that changed; only those are rendered again, and the keys they touch are all the diff needs
// to look at. With 10,000 services loaded, one endpoint change then costs one service's work, not
// the whole cluster's.
import { backendKey, type LbService } from '../compile/types.js';
import { parseCidr } from '../model/cidr.js';
import { BackendFlag, IPPROTO, SvcFlag, type SvcKey } from './layout.js';
import { clusterIpMarkersOf, emptyMapState, frontendHex, frontendMapKey, revnatKey, sourceRangeHex, type IdBooks, type MapState } from './state.js';

/** The map keys a set of changes may have altered: the only ones the diff has to compare. */
export interface TouchedKeys {
  frontends: Set<string>;
  backends: Set<number>;
  revnat: Set<number>;
  tables: Set<number>;
  sourceRanges: Set<string>;
}

/** What one compiled service put into the desired maps, to take it out again exactly. */
interface Contribution {
  source: LbService;
  svcId: number;
  /** Backend id by index into `source.backends`. */
  backendIds: number[];
  backendKeys: string[];
  frontendHexes: string[];
  /** The cluster IP markers (see state.ts) this service port holds a reference on. */
  markerHexes: string[];
  revnatKeys: string[];
  sourceRangeHexes: string[];
}

/** A service's backends that left it in one update: their flows may need clearing (see conntrack.ts). */
export interface DepartedBackends {
  service: LbService;
  svcId: number;
  backendIds: number[];
}

export interface DesiredUpdate {
  touched: TouchedKeys;
  departed: DepartedBackends[];
}

/** Shared ids (backends, reverse NAT) stay allocated while any service still names them. */
class RefCounts {
  private readonly counts = new Map<string, number>();

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** True when this was the last reference. */
  drop(key: string): boolean {
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
    return n <= 0;
  }

  has(key: string): boolean {
    return this.counts.has(key);
  }

  keys(): Set<string> {
    return new Set(this.counts.keys());
  }
}

export class DesiredState {
  readonly maps: MapState = emptyMapState();
  private readonly byService = new Map<string, Contribution>();
  private readonly backendRefs = new RefCounts();
  private readonly revnatRefs = new RefCounts();
  /** Cluster IP markers are shared by every port of a service. */
  private readonly markerRefs = new RefCounts();

  constructor(private readonly ids: IdBooks) {}

  /** The service ports rendered now, by key. */
  keys(): IterableIterator<string> {
    return this.byService.keys();
  }

  /** Renders each changed service port anew (null: takes it out); the others stay as they are. */
  update(changes: ReadonlyMap<string, LbService | null>): DesiredUpdate {
    const touched: TouchedKeys = { frontends: new Set(), backends: new Set(), revnat: new Set(), tables: new Set(), sourceRanges: new Set() };
    // Everything that changed or left is taken out before anything is put in: a frontend that moves
    // from one service to another in the same update then ends up with its new owner.
    const previous = new Map<string, Contribution>();
    for (const key of changes.keys()) {
      const c = this.byService.get(key);
      if (!c) continue;
      this.withdraw(c, touched);
      previous.set(key, c);
    }
    for (const [key, svc] of changes) if (svc) this.byService.set(key, this.contribute(svc, touched));

    const departed: DepartedBackends[] = [];
    for (const [key, before] of previous) {
      const after = this.byService.get(key);
      const still = new Set(after?.backendIds ?? []);
      const gone = before.backendIds.filter((id) => !still.has(id));
      if (gone.length > 0) departed.push({ service: before.source, svcId: before.svcId, backendIds: gone });
    }
    // Ids are released last, so that nothing in this update is handed an id that was just freed.
    for (const [key, before] of previous) {
      if (!this.byService.has(key)) this.ids.services.release(key);
      for (const k of before.backendKeys) if (!this.backendRefs.has(k)) this.ids.backends.release(k);
      for (const k of before.revnatKeys) if (!this.revnatRefs.has(k)) this.ids.revnat.release(k);
    }
    return { touched, departed };
  }

  /** Frees every id no rendered service names (after adopting the ids of a restarted dataplane). */
  releaseUnreferenced(): void {
    this.ids.services.retain(new Set(this.byService.keys()));
    this.ids.backends.retain(this.backendRefs.keys());
    this.ids.revnat.retain(this.revnatRefs.keys());
  }

  private contribute(svc: LbService, touched: TouchedKeys): Contribution {
    const { maps, ids } = this;
    const svcId = ids.services.idFor(svc.key);
    const backendKeys = svc.backends.map(backendKey);
    const backendIds = svc.backends.map((b, i) => {
      const key = backendKeys[i] ?? '';
      const id = ids.backends.idFor(key);
      this.backendRefs.add(key);
      const flags = (b.terminating ? BackendFlag.terminating : 0) | (b.local ? BackendFlag.local : 0);
      maps.backends.set(id, { ip: b.address, port: b.port, proto: IPPROTO[b.protocol], flags });
      touched.backends.add(id);
      return id;
    });
    // Plain loops over the M slots: typed-array from() and Set over them cost many times more.
    const table = new Uint32Array(svc.table.length);
    const inTable = new Uint8Array(backendIds.length);
    let usable = 0;
    for (let slot = 0; slot < table.length; slot++) {
      const index = svc.table[slot] ?? 0;
      table[slot] = backendIds[index] ?? 0;
      if (inTable[index] === 0) {
        inTable[index] = 1;
        usable++;
      }
    }
    if (table.length > 0) maps.tables.set(svcId, table);
    touched.tables.add(svcId);

    // Compiled ranges are valid IPv4 CIDRs (validated, then filtered by the compiler).
    const sourceRangeHexes = svc.sourceRanges
      .flatMap((cidr) => parseCidr(cidr) ?? [])
      .map(({ address, prefixLength }) => {
        const key = { svcId, address, prefixLength };
        const hex = sourceRangeHex(key);
        maps.sourceRanges.set(hex, key);
        touched.sourceRanges.add(hex);
        return hex;
      });
    const baseFlags =
      (svc.affinityTimeoutSeconds > 0 ? SvcFlag.affinity : 0) |
      (svc.whenEmpty === 'drop' ? SvcFlag.dropWhenEmpty : 0) |
      (svc.localOriginTwin ? SvcFlag.localOrigin : 0);
    const frontendHexes: string[] = [];
    const revnatKeys: string[] = [];
    for (const f of svc.frontends) {
      const revnat = { vip: f.address, port: f.port };
      const rkey = revnatKey(revnat);
      const revnatId = ids.revnat.idFor(rkey);
      this.revnatRefs.add(rkey);
      revnatKeys.push(rkey);
      maps.revnat.set(revnatId, revnat);
      touched.revnat.add(revnatId);
      const key = frontendMapKey(f);
      const hex = frontendHex(key);
      frontendHexes.push(hex);
      touched.frontends.add(hex);
      maps.frontends.set(hex, {
        key,
        value: {
          svcId,
          revnatId,
          lbSize: table.length,
          backendCount: usable,
          flags: baseFlags | (f.kind === 'loadBalancerIP' && svc.sourceRanges.length > 0 ? SvcFlag.sourceRanges : 0),
          affinityTimeout: svc.affinityTimeoutSeconds,
        },
      });
    }
    const markerHexes = clusterIpMarkersOf(svc).map((key) => this.putMarker(key, touched));
    return { source: svc, svcId, backendIds, backendKeys, frontendHexes, markerHexes, revnatKeys, sourceRangeHexes };
  }

  private putMarker(key: SvcKey, touched: TouchedKeys): string {
    const hex = frontendHex(key);
    this.markerRefs.add(hex);
    this.maps.frontends.set(hex, { key, value: { svcId: 0, revnatId: 0, lbSize: 0, backendCount: 0, flags: 0, affinityTimeout: 0 } });
    touched.frontends.add(hex);
    return hex;
  }

  private withdraw(c: Contribution, touched: TouchedKeys): void {
    const { maps, ids } = this;
    this.byService.delete(c.source.key);
    for (const hex of c.frontendHexes) {
      maps.frontends.delete(hex);
      touched.frontends.add(hex);
    }
    for (const hex of c.markerHexes) {
      if (this.markerRefs.drop(hex)) maps.frontends.delete(hex);
      touched.frontends.add(hex);
    }
    maps.tables.delete(c.svcId);
    touched.tables.add(c.svcId);
    for (const hex of c.sourceRangeHexes) {
      maps.sourceRanges.delete(hex);
      touched.sourceRanges.add(hex);
    }
    for (const [i, key] of c.backendKeys.entries()) {
      const id = c.backendIds[i] ?? 0;
      if (this.backendRefs.drop(key)) maps.backends.delete(id);
      touched.backends.add(id);
    }
    for (const key of c.revnatKeys) {
      const id = ids.revnat.idFor(key);
      if (this.revnatRefs.drop(key)) maps.revnat.delete(id);
      touched.revnat.add(id);
    }
  }
}
