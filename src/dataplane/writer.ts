// Carries out diff ops on a set of service maps, a batch per run of ops of one kind, keeping `applied`
// in step with what was written. On a failure the caller re-reads the maps (see Reconciler).
import type { Op } from './diff.js';
import type { BackendValue, RevnatValue, SourceRangeKey, SvcKey } from './layout.js';
import { frontendHex, sourceRangeHex, type FrontendEntry, type MapState } from './state.js';

/** The service maps as the writer needs them; implemented over the kernel and in memory for tests. */
export interface ServiceMaps {
  putBackends(entries: readonly { id: number; value: BackendValue }[]): void;
  deleteBackends(ids: readonly number[]): void;
  putRevnats(entries: readonly { id: number; value: RevnatValue }[]): void;
  deleteRevnats(ids: readonly number[]): void;
  /** Builds fresh tables and swaps each in whole. */
  putTables(entries: readonly { svcId: number; table: Uint32Array }[]): void;
  deleteTables(svcIds: readonly number[]): void;
  putFrontends(entries: readonly FrontendEntry[]): void;
  deleteFrontends(keys: readonly SvcKey[]): void;
  putSourceRanges(keys: readonly SourceRangeKey[]): void;
  deleteSourceRanges(keys: readonly SourceRangeKey[]): void;
  /** Reads back everything (at start and after a failed write). */
  dump(): MapState;
}

type OpOf<K extends Op['kind']> = Extract<Op, { kind: K }>;

/** Each kind of op: the ServiceMaps call that writes a batch of it, and what `applied` holds after one. */
const WRITERS: { [K in Op['kind']]: { write(maps: ServiceMaps, ops: readonly OpOf<K>[]): void; record(applied: MapState, op: OpOf<K>): void } } = {
  'backend-put': { write: (m, ops) => m.putBackends(ops), record: (a, op) => a.backends.set(op.id, op.value) },
  'backend-delete': { write: (m, ops) => m.deleteBackends(ops.map((op) => op.id)), record: (a, op) => a.backends.delete(op.id) },
  'revnat-put': { write: (m, ops) => m.putRevnats(ops), record: (a, op) => a.revnat.set(op.id, op.value) },
  'revnat-delete': { write: (m, ops) => m.deleteRevnats(ops.map((op) => op.id)), record: (a, op) => a.revnat.delete(op.id) },
  'table-put': { write: (m, ops) => m.putTables(ops), record: (a, op) => a.tables.set(op.svcId, op.table) },
  'table-delete': { write: (m, ops) => m.deleteTables(ops.map((op) => op.svcId)), record: (a, op) => a.tables.delete(op.svcId) },
  'frontend-put': { write: (m, ops) => m.putFrontends(ops), record: (a, op) => a.frontends.set(frontendHex(op.key), { key: op.key, value: op.value }) },
  'frontend-delete': { write: (m, ops) => m.deleteFrontends(ops.map((op) => op.key)), record: (a, op) => a.frontends.delete(frontendHex(op.key)) },
  'range-put': { write: (m, ops) => m.putSourceRanges(ops.map((op) => op.key)), record: (a, op) => a.sourceRanges.set(sourceRangeHex(op.key), op.key) },
  'range-delete': { write: (m, ops) => m.deleteSourceRanges(ops.map((op) => op.key)), record: (a, op) => a.sourceRanges.delete(sourceRangeHex(op.key)) },
};

function writeRun<K extends Op['kind']>(kind: K, ops: readonly OpOf<K>[], maps: ServiceMaps, applied: MapState): void {
  const writer = WRITERS[kind] as { write(maps: ServiceMaps, ops: readonly OpOf<K>[]): void; record(applied: MapState, op: OpOf<K>): void };
  writer.write(maps, ops);
  for (const op of ops) writer.record(applied, op);
}

export function applyOps(ops: readonly Op[], maps: ServiceMaps, applied: MapState): void {
  let start = 0;
  for (let i = 1; i <= ops.length; i++) {
    const kind = ops[start]?.kind;
    if (kind !== undefined && (i === ops.length || ops[i]?.kind !== kind)) {
      writeRun(kind, ops.slice(start, i) as OpOf<typeof kind>[], maps, applied);
      start = i;
    }
  }
}
