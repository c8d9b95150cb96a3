// ServiceMaps over the pinned BPF maps, through the native addon.
import type { BpfMap, BpfObject, NativeAddon } from '../native/bpf.js';
import { MapType } from '../native/bpf.js';
import {
  BPF_F_INNER_MAP,
  decodeBackend,
  decodeRevnat,
  decodeSvcKey,
  decodeSvcValue,
  decodeU32,
  encodeBackend,
  encodeRevnat,
  encodeSvcKey,
  encodeSvcValue,
  encodeTable,
  encodeU32,
  type BackendValue,
  type RevnatValue,
  type SvcKey,
} from './layout.js';
import { emptyMapState, frontendHex, type FrontendEntry, type MapState } from './state.js';
import type { ServiceMaps } from './writer.js';

export interface ServiceMapHandles {
  svc: BpfMap;
  backends: BpfMap;
  revnat: BpfMap;
  maglev: BpfMap;
}

export function openServiceMaps(obj: BpfObject): ServiceMapHandles {
  return { svc: obj.map('svc_v4'), backends: obj.map('backends_v4'), revnat: obj.map('revnat_v4'), maglev: obj.map('maglev_v4') };
}

export class KernelServiceMaps implements ServiceMaps {
  constructor(
    private readonly addon: NativeAddon,
    private readonly maps: ServiceMapHandles,
  ) {}

  putBackend(id: number, value: BackendValue): void {
    this.maps.backends.update(encodeU32(id), encodeBackend(value));
  }
  deleteBackend(id: number): void {
    this.maps.backends.delete(encodeU32(id));
  }
  putRevnat(id: number, value: RevnatValue): void {
    this.maps.revnat.update(encodeU32(id), encodeRevnat(value));
  }
  deleteRevnat(id: number): void {
    this.maps.revnat.delete(encodeU32(id));
  }
  putTable(svcId: number, table: Uint32Array): void {
    const inner = this.addon.createMap({
      name: `maglev_${svcId}`.slice(0, 15),
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: table.length,
      flags: BPF_F_INNER_MAP,
    });
    try {
      const { keys, values } = encodeTable(table);
      inner.updateBatch(keys, values, table.length);
      this.maps.maglev.setInner(encodeU32(svcId), inner);
    } finally {
      inner.close(); // the outer map holds its own reference
    }
  }
  deleteTable(svcId: number): void {
    this.maps.maglev.delete(encodeU32(svcId));
  }
  putFrontend(entry: FrontendEntry): void {
    this.maps.svc.update(encodeSvcKey(entry.key), encodeSvcValue(entry.value));
  }
  deleteFrontend(key: SvcKey): void {
    this.maps.svc.delete(encodeSvcKey(key));
  }

  dump(): MapState {
    const state = emptyMapState();
    forEachEntry(this.maps.svc, (k, v) => {
      const key = decodeSvcKey(k);
      state.frontends.set(frontendHex(key), { key, value: decodeSvcValue(v) });
    });
    forEachEntry(this.maps.backends, (k, v) => state.backends.set(decodeU32(k), decodeBackend(v)));
    forEachEntry(this.maps.revnat, (k, v) => state.revnat.set(decodeU32(k), decodeRevnat(v)));
    for (const k of this.maps.maglev.keys()) {
      const id = this.maps.maglev.innerId(k);
      if (id === null) continue;
      const inner = this.addon.mapFromId(id);
      try {
        const table = new Uint32Array(inner.info.maxEntries);
        for (let slot = 0; slot < table.length; slot++) table[slot] = decodeU32(inner.lookup(encodeU32(slot)) ?? Buffer.alloc(4));
        state.tables.set(decodeU32(k), table);
      } finally {
        inner.close();
      }
    }
    return state;
  }
}

function forEachEntry(map: BpfMap, fn: (key: Buffer, value: Buffer) => void): void {
  for (const k of map.keys()) {
    const v = map.lookup(k);
    if (v) fn(k, v); // deleted between listing and reading
  }
}
