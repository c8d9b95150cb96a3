// Carries out diff ops on a set of service maps, keeping `applied` in step with every write that
// succeeded, so a failed sync leaves an exact picture of the kernel for the next attempt.
import type { Op } from './diff.js';
import type { BackendValue, RevnatValue, SvcKey } from './layout.js';
import { frontendHex, type FrontendEntry, type MapState } from './state.js';

/** The service maps as the writer needs them; implemented over the kernel and in memory for tests. */
export interface ServiceMaps {
  putBackend(id: number, value: BackendValue): void;
  deleteBackend(id: number): void;
  putRevnat(id: number, value: RevnatValue): void;
  deleteRevnat(id: number): void;
  /** Builds a fresh table and swaps it in whole. */
  putTable(svcId: number, table: Uint32Array): void;
  deleteTable(svcId: number): void;
  putFrontend(entry: FrontendEntry): void;
  deleteFrontend(key: SvcKey): void;
  /** Reads back everything (at start and for resync). */
  dump(): MapState;
}

export function applyOps(ops: readonly Op[], maps: ServiceMaps, applied: MapState): void {
  for (const op of ops) {
    switch (op.kind) {
      case 'backend-put':
        maps.putBackend(op.id, op.value);
        applied.backends.set(op.id, op.value);
        break;
      case 'revnat-put':
        maps.putRevnat(op.id, op.value);
        applied.revnat.set(op.id, op.value);
        break;
      case 'table-put':
        maps.putTable(op.svcId, op.table);
        applied.tables.set(op.svcId, op.table);
        break;
      case 'frontend-put':
        maps.putFrontend({ key: op.key, value: op.value });
        applied.frontends.set(frontendHex(op.key), { key: op.key, value: op.value });
        break;
      case 'frontend-delete':
        maps.deleteFrontend(op.key);
        applied.frontends.delete(frontendHex(op.key));
        break;
      case 'table-delete':
        maps.deleteTable(op.svcId);
        applied.tables.delete(op.svcId);
        break;
      case 'revnat-delete':
        maps.deleteRevnat(op.id);
        applied.revnat.delete(op.id);
        break;
      case 'backend-delete':
        maps.deleteBackend(op.id);
        applied.backends.delete(op.id);
        break;
    }
  }
}
