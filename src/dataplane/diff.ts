// The ordered list of map writes that turns the applied state into the desired one, make before break:
// new backends and reverse-NAT entries first; then, service by service, the Maglev table and the
// frontend entries in the order that keeps `hash % lb_size` inside the table the datapath can see;
// removals last, backends after everything that could still name them.
import type { BackendValue, RevnatValue, SvcKey, SvcValue } from './layout.js';
import type { FrontendEntry, MapState } from './state.js';

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
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Frontends (with their map key's hex) grouped by the service they point to. */
function frontendsBySvc(frontends: Map<string, FrontendEntry>): Map<number, [string, FrontendEntry][]> {
  const out = new Map<number, [string, FrontendEntry][]>();
  for (const entry of frontends) {
    const list = out.get(entry[1].value.svcId);
    if (list) list.push(entry);
    else out.set(entry[1].value.svcId, [entry]);
  }
  return out;
}

export function diff(desired: MapState, applied: MapState): Op[] {
  const ops: Op[] = [];

  for (const [id, value] of desired.backends) {
    if (!sameRecord(applied.backends.get(id), value)) ops.push({ kind: 'backend-put', id, value });
  }
  for (const [id, value] of desired.revnat) {
    if (!sameRecord(applied.revnat.get(id), value)) ops.push({ kind: 'revnat-put', id, value });
  }

  const appliedSize = new Map<number, number>();
  for (const [svcId, t] of applied.tables) appliedSize.set(svcId, t.length);
  const desiredBySvc = frontendsBySvc(desired.frontends);
  const svcIds = new Set([...desired.tables.keys(), ...desiredBySvc.keys()]);

  for (const svcId of svcIds) {
    const table = desired.tables.get(svcId);
    const tableChanged = table ? !sameTable(applied.tables.get(svcId), table) : applied.tables.has(svcId);
    const frontendOps: Op[] = [];
    for (const [hex, f] of desiredBySvc.get(svcId) ?? []) {
      if (!sameRecord(applied.frontends.get(hex)?.value, f.value)) {
        frontendOps.push({ kind: 'frontend-put', key: f.key, value: f.value });
      }
    }
    if (!tableChanged) {
      ops.push(...frontendOps);
      continue;
    }
    // A table at least as large goes in before the frontends that announce its size; a smaller one
    // (or none) after them, so that every slot a packet may compute exists in the table it finds.
    const newSize = table?.length ?? 0;
    const tableOp: Op = table ? { kind: 'table-put', svcId, table } : { kind: 'table-delete', svcId };
    if (newSize >= (appliedSize.get(svcId) ?? 0) && table) ops.push(tableOp, ...frontendOps);
    else ops.push(...frontendOps, tableOp);
  }

  for (const [hex, f] of applied.frontends) {
    if (!desired.frontends.has(hex)) ops.push({ kind: 'frontend-delete', key: f.key });
  }
  for (const svcId of applied.tables.keys()) {
    if (!svcIds.has(svcId)) ops.push({ kind: 'table-delete', svcId });
  }
  for (const id of applied.revnat.keys()) {
    if (!desired.revnat.has(id)) ops.push({ kind: 'revnat-delete', id });
  }
  for (const id of applied.backends.keys()) {
    if (!desired.backends.has(id)) ops.push({ kind: 'backend-delete', id });
  }
  return ops;
}
