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

function sameRecord<T extends object>(a: T, b: T): boolean {
  for (const k of Object.keys(b) as (keyof T)[]) if (a[k] !== b[k]) return false;
  return true;
}

function sameTable(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Compares one map: each key (those touched, or for a full diff every key on either side) whose
 * wanted value is new or differs goes to `put`, each key no longer wanted to `remove`.
 */
function compare<K, V>(
  desired: Map<K, V>,
  applied: Map<K, V>,
  touched: Set<K> | undefined,
  same: (have: V, want: V) => boolean,
  put: (key: K, want: V, have: V | undefined) => void,
  remove: (key: K, have: V) => void,
): void {
  for (const key of touched ?? new Set([...desired.keys(), ...applied.keys()])) {
    const want = desired.get(key);
    const have = applied.get(key);
    if (want === undefined) {
      if (have !== undefined) remove(key, have);
    } else if (have === undefined || !same(have, want)) put(key, want, have);
  }
}

/**
 * The writes that take `applied` to `desired`. With `touched`, only those keys are compared: the
 * caller vouches that no other key differs (see DesiredState); without it, everything is.
 */
export function diff(desired: MapState, applied: MapState, touched?: TouchedKeys): Op[] {
  // The phases of the top of this file, in the order they are written.
  const phases = {
    puts: [] as Op[],
    growingTables: [] as Op[],
    frontendPuts: [] as Op[],
    frontendDeletes: [] as Op[],
    shrinkingTables: [] as Op[],
    tableDeletes: [] as Op[],
    rangeDeletes: [] as Op[],
    revnatDeletes: [] as Op[],
    backendDeletes: [] as Op[],
  };
  const { puts, growingTables, frontendPuts, frontendDeletes, shrinkingTables, tableDeletes, rangeDeletes, revnatDeletes, backendDeletes } = phases;
  compare(
    desired.backends,
    applied.backends,
    touched?.backends,
    sameRecord,
    (id, value) => puts.push({ kind: 'backend-put', id, value }),
    (id) => backendDeletes.push({ kind: 'backend-delete', id }),
  );
  compare(
    desired.revnat,
    applied.revnat,
    touched?.revnat,
    sameRecord,
    (id, value) => puts.push({ kind: 'revnat-put', id, value }),
    (id) => revnatDeletes.push({ kind: 'revnat-delete', id }),
  );
  // A source range is its key alone: present or not.
  compare(
    desired.sourceRanges,
    applied.sourceRanges,
    touched?.sourceRanges,
    () => true,
    (_, key) => puts.push({ kind: 'range-put', key }),
    (_, key) => rangeDeletes.push({ kind: 'range-delete', key }),
  );
  compare(
    desired.tables,
    applied.tables,
    touched?.tables,
    sameTable,
    (svcId, table, current) => (table.length >= (current?.length ?? 0) ? growingTables : shrinkingTables).push({ kind: 'table-put', svcId, table }),
    (svcId) => tableDeletes.push({ kind: 'table-delete', svcId }),
  );
  compare(
    desired.frontends,
    applied.frontends,
    touched?.frontends,
    (have, want) => sameRecord(have.value, want.value),
    (_, f) => frontendPuts.push({ kind: 'frontend-put', key: f.key, value: f.value }),
    (_, current) => frontendDeletes.push({ kind: 'frontend-delete', key: current.key }),
  );
  return Object.values(phases).flat();
}
