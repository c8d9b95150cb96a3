// In-memory service maps that answer, like the datapath would, which backend a packet reaches.
import { emptyMapState, frontendHex, type FrontendEntry, type MapState } from '../../src/dataplane/state.js';
import type { ServiceMaps } from '../../src/dataplane/writer.js';
import type { BackendValue, RevnatValue, SvcKey } from '../../src/dataplane/layout.js';

export class MemoryServiceMaps implements ServiceMaps {
  readonly state: MapState = emptyMapState();
  /** Called after every single write, to check invariants between steps. */
  afterWrite: () => void = () => undefined;

  putBackend(id: number, value: BackendValue): void {
    this.state.backends.set(id, value);
    this.afterWrite();
  }
  deleteBackend(id: number): void {
    this.state.backends.delete(id);
    this.afterWrite();
  }
  putRevnat(id: number, value: RevnatValue): void {
    this.state.revnat.set(id, value);
    this.afterWrite();
  }
  deleteRevnat(id: number): void {
    this.state.revnat.delete(id);
    this.afterWrite();
  }
  putTable(svcId: number, table: Uint32Array): void {
    this.state.tables.set(svcId, Uint32Array.from(table));
    this.afterWrite();
  }
  deleteTable(svcId: number): void {
    this.state.tables.delete(svcId);
    this.afterWrite();
  }
  putFrontend(entry: FrontendEntry): void {
    this.state.frontends.set(frontendHex(entry.key), { key: { ...entry.key }, value: { ...entry.value } });
    this.afterWrite();
  }
  deleteFrontend(key: SvcKey): void {
    this.state.frontends.delete(frontendHex(key));
    this.afterWrite();
  }
  dump(): MapState {
    const copy = emptyMapState();
    for (const [k, v] of this.state.frontends) copy.frontends.set(k, { key: { ...v.key }, value: { ...v.value } });
    for (const [k, v] of this.state.backends) copy.backends.set(k, { ...v });
    for (const [k, v] of this.state.revnat) copy.revnat.set(k, { ...v });
    for (const [k, v] of this.state.tables) copy.tables.set(k, Uint32Array.from(v));
    return copy;
  }

  /**
   * Where the datapath would send a new flow with this hash to frontend `key`: a backend, 'reject'
   * (no endpoints), 'pass' (not a service) or a broken state ('no-slot', 'no-backend', 'no-revnat').
   */
  route(key: SvcKey, hash: number): BackendValue | 'reject' | 'pass' | 'no-slot' | 'no-backend' | 'no-revnat' {
    const svc = this.state.frontends.get(frontendHex(key));
    if (!svc) return 'pass';
    if (!this.state.revnat.has(svc.value.revnatId)) return 'no-revnat';
    if (svc.value.backendCount === 0) return 'reject';
    const table = this.state.tables.get(svc.value.svcId);
    const slot = svc.value.lbSize ? hash % svc.value.lbSize : -1;
    const id = table && slot >= 0 ? table[slot] : undefined;
    if (!id) return 'no-slot';
    return this.state.backends.get(id) ?? 'no-backend';
  }
}
