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

function writeRun(ops: readonly Op[], maps: ServiceMaps, applied: MapState): void {
  const as = <K extends Op['kind']>() => ops as readonly OpOf<K>[];
  switch (ops[0]?.kind) {
    case 'backend-put':
      maps.putBackends(as<'backend-put'>());
      for (const op of as<'backend-put'>()) applied.backends.set(op.id, op.value);
      break;
    case 'revnat-put':
      maps.putRevnats(as<'revnat-put'>());
      for (const op of as<'revnat-put'>()) applied.revnat.set(op.id, op.value);
      break;
    case 'table-put':
      maps.putTables(as<'table-put'>());
      for (const op of as<'table-put'>()) applied.tables.set(op.svcId, op.table);
      break;
    case 'frontend-put':
      maps.putFrontends(as<'frontend-put'>());
      for (const op of as<'frontend-put'>()) applied.frontends.set(frontendHex(op.key), { key: op.key, value: op.value });
      break;
    case 'frontend-delete':
      maps.deleteFrontends(as<'frontend-delete'>().map((op) => op.key));
      for (const op of as<'frontend-delete'>()) applied.frontends.delete(frontendHex(op.key));
      break;
    case 'table-delete':
      maps.deleteTables(as<'table-delete'>().map((op) => op.svcId));
      for (const op of as<'table-delete'>()) applied.tables.delete(op.svcId);
      break;
    case 'revnat-delete':
      maps.deleteRevnats(as<'revnat-delete'>().map((op) => op.id));
      for (const op of as<'revnat-delete'>()) applied.revnat.delete(op.id);
      break;
    case 'backend-delete':
      maps.deleteBackends(as<'backend-delete'>().map((op) => op.id));
      for (const op of as<'backend-delete'>()) applied.backends.delete(op.id);
      break;
    case 'range-put':
      maps.putSourceRanges(as<'range-put'>().map((op) => op.key));
      for (const op of as<'range-put'>()) applied.sourceRanges.set(sourceRangeHex(op.key), op.key);
      break;
    case 'range-delete':
      maps.deleteSourceRanges(as<'range-delete'>().map((op) => op.key));
      for (const op of as<'range-delete'>()) applied.sourceRanges.delete(sourceRangeHex(op.key));
      break;
    case undefined:
      break;
  }
}

export function applyOps(ops: readonly Op[], maps: ServiceMaps, applied: MapState): void {
  let start = 0;
  for (let i = 1; i <= ops.length; i++) {
    if (i === ops.length || ops[i]?.kind !== ops[start]?.kind) {
      writeRun(ops.slice(start, i), maps, applied);
      start = i;
    }
  }
}
