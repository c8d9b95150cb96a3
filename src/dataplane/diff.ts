// The ordered list of map writes that turns the applied state into the desired one, make before break.
// Writes come in phases, each a batch of one kind:
//   1. backends and reverse-NAT entries that are new or changed;
//   2. Maglev tables that are new, or at least as large as the one they replace;
//   3. frontends (svc_v4) that are new or changed: each now names a table at least as large as its
//      lb_size, so `hash % lb_size` always finds a slot;
//   4. frontends that are gone;
//   5. tables that shrank (their frontends already announce the smaller size), then tables that are
//      gone (no frontend names them any more);
//   6. reverse-NAT entries and backends that are gone, after everything that could still name them.
import type { BackendValue, RevnatValue, SvcKey, SvcValue } from './layout.js';
import type { MapState } from './state.js';

export type Op =
  | { kind: 'backend-put'; id: number; value: BackendValue }
  | { kind: 'revnat-put'; id: number; value: RevnatValue }
  | { kind: 'table-put'; svcId: number; table: Uint32Array }
  | { kind: 'frontend-put'; key: SvcKey; value: SvcValue }
  | { kind: 'frontend-delete'; key: SvcKey }
  | { kind: 'table-delete'; svcId: number }
  | { kind: 'revnat-delete'; id: number }
  | { kind: 'backend-delete'; id: number };

function sameRecord<T extends object>(a: T | undefined, b: T): boolean {
  if (!a) return false;
  for (const k of Object.keys(b) as (keyof T)[]) if (a[k] !== b[k]) return false;
  return true;
}

function sameTable(a: Uint32Array | undefined, b: Uint32Array): boolean {
  if (a === b) return true; // the render cache hands back the array last written
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function diff(desired: MapState, applied: MapState): Op[] {
  const puts: Op[] = [];
  for (const [id, value] of desired.backends) {
    if (!sameRecord(applied.backends.get(id), value)) puts.push({ kind: 'backend-put', id, value });
  }
  for (const [id, value] of desired.revnat) {
    if (!sameRecord(applied.revnat.get(id), value)) puts.push({ kind: 'revnat-put', id, value });
  }

  const growingTables: Op[] = [];
  const shrinkingTables: Op[] = [];
  for (const [svcId, table] of desired.tables) {
    const current = applied.tables.get(svcId);
    if (sameTable(current, table)) continue;
    (table.length >= (current?.length ?? 0) ? growingTables : shrinkingTables).push({ kind: 'table-put', svcId, table });
  }

  const frontendPuts: Op[] = [];
  for (const [hex, f] of desired.frontends) {
    if (!sameRecord(applied.frontends.get(hex)?.value, f.value)) frontendPuts.push({ kind: 'frontend-put', key: f.key, value: f.value });
  }
  const frontendDeletes: Op[] = [];
  for (const [hex, f] of applied.frontends) {
    if (!desired.frontends.has(hex)) frontendDeletes.push({ kind: 'frontend-delete', key: f.key });
  }

  const tableDeletes: Op[] = [];
  for (const svcId of applied.tables.keys()) {
    if (!desired.tables.has(svcId)) tableDeletes.push({ kind: 'table-delete', svcId });
  }
  const retired: Op[] = [];
  for (const id of applied.revnat.keys()) {
    if (!desired.revnat.has(id)) retired.push({ kind: 'revnat-delete', id });
  }
  for (const id of applied.backends.keys()) {
    if (!desired.backends.has(id)) retired.push({ kind: 'backend-delete', id });
  }
  return [...puts, ...growingTables, ...frontendPuts, ...frontendDeletes, ...shrinkingTables, ...tableDeletes, ...retired];
}
