// ServiceMaps over the pinned BPF maps, through the native addon.
import type { BpfMap, BpfObject, NativeAddon } from '../native/bpf.js';
import { MapType } from '../native/bpf.js';
import {
  MAGLEV_TABLE_FLAGS,
  backendV4,
  decodeSourceRangeKey,
  decodeTable,
  decodeU32,
  encodeSourceRangeKey,
  encodeTable,
  encodeU32,
  revnatV4,
  svcKeyV4,
  svcValV4,
  type BackendValue,
  type RevnatValue,
  type SourceRangeKey,
  type SvcKey,
} from './layout.js';
import { emptyMapState, frontendHex, type FrontendEntry, type MapState } from './state.js';
import type { ServiceMaps } from './writer.js';

export interface ServiceMapHandles {
  svc: BpfMap;
  backends: BpfMap;
  revnat: BpfMap;
  maglev: BpfMap;
  sourceRanges: BpfMap;
}

export function openServiceMaps(obj: BpfObject): ServiceMapHandles {
  return {
    svc: obj.map('svc_v4'),
    backends: obj.map('backends_v4'),
    revnat: obj.map('revnat_v4'),
    maglev: obj.map('maglev_v4'),
    sourceRanges: obj.map('lb_src_v4'),
  };
}

const SOURCE_RANGE_VALUE = Buffer.from([1]);

/** Inner maps kept open at once while a batch of tables is swapped in. */
const TABLES_PER_BATCH = 1024;

function packed<T>(items: readonly T[], encode: (item: T) => Buffer): Buffer {
  return Buffer.concat(items.map(encode));
}

export class KernelServiceMaps implements ServiceMaps {
  constructor(
    private readonly addon: NativeAddon,
    private readonly maps: ServiceMapHandles,
  ) {}

  putBackends(entries: readonly { id: number; value: BackendValue }[]): void {
    putBatch(
      this.maps.backends,
      entries,
      (e) => encodeU32(e.id),
      (e) => backendV4.encode(e.value),
    );
  }
  deleteBackends(ids: readonly number[]): void {
    this.maps.backends.deleteBatch(packed(ids, encodeU32), ids.length);
  }
  putRevnats(entries: readonly { id: number; value: RevnatValue }[]): void {
    putBatch(
      this.maps.revnat,
      entries,
      (e) => encodeU32(e.id),
      (e) => revnatV4.encode(e.value),
    );
  }
  deleteRevnats(ids: readonly number[]): void {
    this.maps.revnat.deleteBatch(packed(ids, encodeU32), ids.length);
  }
  putFrontends(entries: readonly FrontendEntry[]): void {
    putBatch(
      this.maps.svc,
      entries,
      (e) => svcKeyV4.encode(e.key),
      (e) => svcValV4.encode(e.value),
    );
  }
  deleteFrontends(keys: readonly SvcKey[]): void {
    this.maps.svc.deleteBatch(
      packed(keys, (k) => svcKeyV4.encode(k)),
      keys.length,
    );
  }

  putSourceRanges(keys: readonly SourceRangeKey[]): void {
    // An LPM trie takes no batch operations: one update per entry (there are few).
    for (const key of keys) this.maps.sourceRanges.update(encodeSourceRangeKey(key), SOURCE_RANGE_VALUE);
  }
  deleteSourceRanges(keys: readonly SourceRangeKey[]): void {
    for (const key of keys) this.maps.sourceRanges.delete(encodeSourceRangeKey(key));
  }

  /**
   * A table of the same size as the one in place is patched there, slot by slot: every slot names a
   * live backend before and after its store (backends are written first and retired last), so a
   * packet meets either backend, and no RCU grace period is waited for. Any other table is written
   * into a fresh inner map, and a batch of those is swapped into the outer map in one call: a
   * map-of-maps update waits for a grace period (milliseconds), once per call, not per table.
   */
  putTables(entries: readonly { svcId: number; table: Uint32Array }[]): void {
    const fresh = entries.filter((e) => !this.patchInPlace(e.svcId, e.table));
    for (let start = 0; start < fresh.length; start += TABLES_PER_BATCH) {
      const chunk = fresh.slice(start, start + TABLES_PER_BATCH);
      const inners: BpfMap[] = [];
      try {
        for (const { svcId, table } of chunk) {
          const inner = this.addon.createMap({
            name: `maglev_${svcId}`.slice(0, 15),
            type: MapType.ARRAY,
            keySize: 4,
            valueSize: 4,
            maxEntries: table.length,
            flags: MAGLEV_TABLE_FLAGS,
          });
          inners.push(inner);
          inner.writeMapped(encodeTable(table));
        }
        this.maps.maglev.updateBatch(
          packed(chunk, (e) => encodeU32(e.svcId)),
          packed(inners, (m) => encodeU32(m.fd)),
          chunk.length,
        );
      } finally {
        for (const inner of inners) inner.close(); // the outer map holds its own references
      }
    }
  }
  /** Rewrites the changed slots of the service's table in place; false when there is no table of that size. */
  private patchInPlace(svcId: number, table: Uint32Array): boolean {
    const id = this.maps.maglev.innerId(encodeU32(svcId));
    if (id === null) return false;
    const inner = this.addon.mapFromId(id);
    try {
      if (inner.info.maxEntries !== table.length) return false;
      const current = decodeTable(inner.readMapped());
      const slots: number[] = [];
      for (let slot = 0; slot < table.length; slot++) if (current[slot] !== table[slot]) slots.push(slot);
      inner.patchMapped(
        packed(slots, encodeU32),
        packed(slots, (slot) => encodeU32(table[slot] ?? 0)),
      );
      return true;
    } finally {
      inner.close();
    }
  }

  deleteTables(svcIds: readonly number[]): void {
    this.maps.maglev.deleteBatch(packed(svcIds, encodeU32), svcIds.length);
  }

  dump(): MapState {
    const state = emptyMapState();
    forEachEntry(this.maps.svc, (k, v) => {
      const key = svcKeyV4.decode(k);
      state.frontends.set(frontendHex(key), { key, value: svcValV4.decode(v) });
    });
    forEachEntry(this.maps.backends, (k, v) => state.backends.set(decodeU32(k), backendV4.decode(v)));
    forEachEntry(this.maps.revnat, (k, v) => state.revnat.set(decodeU32(k), revnatV4.decode(v)));
    for (const k of this.maps.sourceRanges.keys()) state.sourceRanges.set(k.toString('hex'), decodeSourceRangeKey(k));
    for (const k of this.maps.maglev.keys()) {
      const id = this.maps.maglev.innerId(k);
      if (id === null) continue;
      const inner = this.addon.mapFromId(id);
      try {
        state.tables.set(decodeU32(k), decodeTable(inner.readMapped()));
      } finally {
        inner.close();
      }
    }
    return state;
  }
}

function putBatch<T>(map: BpfMap, entries: readonly T[], key: (e: T) => Buffer, value: (e: T) => Buffer): void {
  map.updateBatch(packed(entries, key), packed(entries, value), entries.length);
}

function forEachEntry(map: BpfMap, fn: (key: Buffer, value: Buffer) => void): void {
  const { keys, values, count } = map.entries();
  const { keySize, valueSize } = map.info;
  for (let i = 0; i < count; i++) fn(keys.subarray(i * keySize, (i + 1) * keySize), values.subarray(i * valueSize, (i + 1) * valueSize));
}
