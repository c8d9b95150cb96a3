// In-memory service maps that answer, like the datapath would, which backend a packet reaches.
import { emptyMapState, frontendHex, isClusterIpMarker, sourceRangeHex, type FrontendEntry, type MapState } from '../../src/dataplane/state.js';
import type { ServiceMaps } from '../../src/dataplane/writer.js';
import type { BackendValue, RevnatValue, SourceRangeKey, SvcKey } from '../../src/dataplane/layout.js';

export class MemoryServiceMaps implements ServiceMaps {
  readonly state: MapState = emptyMapState();
  /** Called after every single write, to check invariants between steps. */
  afterWrite: () => void = () => undefined;

  putBackends(entries: readonly { id: number; value: BackendValue }[]): void {
    this.each(entries, (e) => this.state.backends.set(e.id, { ...e.value }));
  }
  deleteBackends(ids: readonly number[]): void {
    this.each(ids, (id) => this.state.backends.delete(id));
  }
  putRevnats(entries: readonly { id: number; value: RevnatValue }[]): void {
    this.each(entries, (e) => this.state.revnat.set(e.id, { ...e.value }));
  }
  deleteRevnats(ids: readonly number[]): void {
    this.each(ids, (id) => this.state.revnat.delete(id));
  }
  putTables(entries: readonly { svcId: number; table: Uint32Array }[]): void {
    this.each(entries, (e) => this.state.tables.set(e.svcId, Uint32Array.from(e.table)));
  }
  deleteTables(svcIds: readonly number[]): void {
    this.each(svcIds, (id) => this.state.tables.delete(id));
  }
  putFrontends(entries: readonly FrontendEntry[]): void {
    this.each(entries, (e) => this.state.frontends.set(frontendHex(e.key), { key: { ...e.key }, value: { ...e.value } }));
  }
  deleteFrontends(keys: readonly SvcKey[]): void {
    this.each(keys, (k) => this.state.frontends.delete(frontendHex(k)));
  }

  putSourceRanges(keys: readonly SourceRangeKey[]): void {
    this.each(keys, (k) => this.state.sourceRanges.set(sourceRangeHex(k), { ...k }));
  }
  deleteSourceRanges(keys: readonly SourceRangeKey[]): void {
    this.each(keys, (k) => this.state.sourceRanges.delete(sourceRangeHex(k)));
  }

  /** A batch lands one element at a time, as the kernel's batch calls do: invariants hold after each. */
  private each<T>(items: readonly T[], write: (item: T) => void): void {
    for (const item of items) {
      write(item);
      this.afterWrite();
    }
  }

  dump(): MapState {
    const copy = emptyMapState();
    for (const [k, v] of this.state.frontends) copy.frontends.set(k, { key: { ...v.key }, value: { ...v.value } });
    for (const [k, v] of this.state.backends) copy.backends.set(k, { ...v });
    for (const [k, v] of this.state.revnat) copy.revnat.set(k, { ...v });
    for (const [k, v] of this.state.tables) copy.tables.set(k, Uint32Array.from(v));
    for (const [k, v] of this.state.sourceRanges) copy.sourceRanges.set(k, { ...v });
    return copy;
  }

  /**
   * Where the datapath would send a new flow with this hash to frontend `key`: a backend, 'reject'
   * (no endpoints), 'pass' (not a service) or a broken state ('no-slot', 'no-backend', 'no-revnat').
   */
  route(key: SvcKey, hash: number): BackendValue | 'reject' | 'pass' | 'no-slot' | 'no-backend' | 'no-revnat' {
    const svc = this.state.frontends.get(frontendHex(key));
    if (!svc) return 'pass';
    // A cluster IP's marker: the datapath refuses what reaches it (see state.ts).
    if (isClusterIpMarker(key)) return 'reject';
    if (!this.state.revnat.has(svc.value.revnatId)) return 'no-revnat';
    if (svc.value.backendCount === 0) return 'reject';
    const table = this.state.tables.get(svc.value.svcId);
    const slot = svc.value.lbSize ? hash % svc.value.lbSize : -1;
    const id = table && slot >= 0 ? table[slot] : undefined;
    if (!id) return 'no-slot';
    return this.state.backends.get(id) ?? 'no-backend';
  }
}
