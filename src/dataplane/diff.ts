// The ordered list of map writes that turns the applied state into the desired one, make before break.
// Writes come in phases, each a batch of one kind:
//   1. backends, reverse-NAT entries and source ranges that are new or changed;
//   2. Maglev tables that are new, or at least as large as the one they replace;
//   3. frontends (svc_v4) that are new or changed: each now names a table at least as large as its
//      lb_size, so `hash % lb_size` always finds a slot;
//   4. frontends that are gone;
//   5. tables that shrank (their frontends already announce the smaller size), then tables that are
//      gone (no frontend names them any more);
//   6. source ranges, reverse-NAT entries and backends that are gone, after everything that could still name them.
import type { BackendValue, RevnatValue, SourceRangeKey, SvcKey, SvcValue } from './layout.js';
import type { TouchedKeys } from './desired.js';
import type { MapState } from './state.js';

export type Op =
  | { kind: 'backend-put'; id: number; value: BackendValue }
  | { kind: 'revnat-put'; id: number; value: RevnatValue }
  | { kind: 'table-put'; svcId: number; table: Uint32Array }
  | { kind: 'frontend-put'; key: SvcKey; value: SvcValue }
  | { kind: 'frontend-delete'; key: SvcKey }
  | { kind: 'table-delete'; svcId: number }
  | { kind: 'revnat-delete'; id: number }
  | { kind: 'backend-delete'; id: number }
  | { kind: 'range-put'; key: SourceRangeKey }
  | { kind: 'range-delete'; key: SourceRangeKey };

function sameRecord<T extends object>(a: T | undefined, b: T): boolean {
  if (!a) return false;
  for (const k of Object.keys(b) as (keyof T)[]) if (a[k] !== b[k]) return false;
  return true;
}

function sameTable(a: Uint32Array | undefined, b: Uint32Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The keys to compare for one map: those touched, or (for a full diff) every key on either side. */
function keysOf<K>(desired: Map<K, unknown>, applied: Map<K, unknown>, touched: Set<K> | undefined): Iterable<K> {
  return touched ?? new Set([...desired.keys(), ...applied.keys()]);
}

/**
 * The writes that take `applied` to `desired`. With `touched`, only those keys are compared: the
 * caller vouches that no other key differs (see DesiredState); without it, everything is.
 */
export function diff(desired: MapState, applied: MapState, touched?: TouchedKeys): Op[] {
  const puts: Op[] = [];
  const backendDeletes: Op[] = [];
  const revnatDeletes: Op[] = [];
  for (const id of keysOf(desired.backends, applied.backends, touched?.backends)) {
    const value = desired.backends.get(id);
    if (value === undefined) {
      if (applied.backends.has(id)) backendDeletes.push({ kind: 'backend-delete', id });
    } else if (!sameRecord(applied.backends.get(id), value)) puts.push({ kind: 'backend-put', id, value });
  }
  for (const id of keysOf(desired.revnat, applied.revnat, touched?.revnat)) {
    const value = desired.revnat.get(id);
    if (value === undefined) {
      if (applied.revnat.has(id)) revnatDeletes.push({ kind: 'revnat-delete', id });
    } else if (!sameRecord(applied.revnat.get(id), value)) puts.push({ kind: 'revnat-put', id, value });
  }

  const rangeDeletes: Op[] = [];
  for (const hex of keysOf(desired.sourceRanges, applied.sourceRanges, touched?.sourceRanges)) {
    const key = desired.sourceRanges.get(hex);
    const current = applied.sourceRanges.get(hex);
    if (key === undefined) {
      if (current !== undefined) rangeDeletes.push({ kind: 'range-delete', key: current });
    } else if (current === undefined) puts.push({ kind: 'range-put', key });
  }

  const growingTables: Op[] = [];
  const shrinkingTables: Op[] = [];
  const tableDeletes: Op[] = [];
  for (const svcId of keysOf(desired.tables, applied.tables, touched?.tables)) {
    const table = desired.tables.get(svcId);
    const current = applied.tables.get(svcId);
    if (table === undefined) {
      if (current !== undefined) tableDeletes.push({ kind: 'table-delete', svcId });
    } else if (!sameTable(current, table)) {
      (table.length >= (current?.length ?? 0) ? growingTables : shrinkingTables).push({ kind: 'table-put', svcId, table });
    }
  }

  const frontendPuts: Op[] = [];
  const frontendDeletes: Op[] = [];
  for (const hex of keysOf(desired.frontends, applied.frontends, touched?.frontends)) {
    const f = desired.frontends.get(hex);
    const current = applied.frontends.get(hex);
    if (f === undefined) {
      if (current !== undefined) frontendDeletes.push({ kind: 'frontend-delete', key: current.key });
    } else if (!sameRecord(current?.value, f.value)) frontendPuts.push({ kind: 'frontend-put', key: f.key, value: f.value });
  }
  return [...puts, ...growingTables, ...frontendPuts, ...frontendDeletes, ...shrinkingTables, ...tableDeletes, ...rangeDeletes, ...revnatDeletes, ...backendDeletes];
}
