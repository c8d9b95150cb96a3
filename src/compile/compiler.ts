// The compiler's incremental front: services compiled one Kubernetes Service at a time, as the change
// tracker names them, frontend conflicts resolved among the contested few (claims.ts), and the
// difference to the previous result handed on as explicit changes, never guessed from identity.
import type { ClusterState } from '../model/state.js';
import type { Rejection } from '../model/types.js';
import { FrontendClaims } from './claims.js';
import { compileService, type CompiledService } from './compile.js';
import type { LbService } from './types.js';

export interface CompiledUpdate {
  /** Every service port to serve now. */
  services: LbService[];
  /** The service ports (by LbService key) that may differ from the previous update: the new form, or null when gone. */
  changes: Map<string, LbService | null>;
  /** Service ports compiled but not served, with the reason (sorted by key, conflicts last). */
  skipped: Rejection[];
}

export class ServiceCompiler {
  private readonly compiled = new Map<string, CompiledService>();
  private readonly claims = new FrontendClaims();
  /** The non-empty `skipped` of `compiled`, so an update does not walk every service for them. */
  private readonly skipped = new Map<string, Rejection[]>();
  private losers = new Set<string>();

  constructor(private readonly options: { maxTableSize?: number } = {}) {}

  /** Recompiles the named Kubernetes services from `state` (gone ones are dropped). */
  update(state: ClusterState, changed: Iterable<string>): CompiledUpdate {
    const candidates = new Set<string>();
    for (const key of changed) {
      const service = state.services.get(key);
      const before = this.compiled.get(key)?.services ?? [];
      const after = service ? compileService(service, state.slicesOf(key), { node: state.node, ...this.options }) : undefined;
      this.claims.replace(before, after?.services ?? []);
      for (const lb of [...before, ...(after?.services ?? [])]) candidates.add(lb.key);
      if (after?.skipped.length) this.skipped.set(key, after.skipped);
      else this.skipped.delete(key);
      if (after) this.compiled.set(key, after);
      else this.compiled.delete(key);
    }
    const resolved = this.claims.resolve();
    // A service port that starts or stops losing a contested frontend changes without being recompiled.
    for (const key of [...this.losers, ...resolved.losers]) candidates.add(key);
    this.losers = resolved.losers;
    const changes = new Map<string, LbService | null>();
    for (const key of candidates) changes.set(key, resolved.losers.has(key) ? null : (this.claims.get(key) ?? null));
    const skipped = [...this.skipped.values()].flat().sort((a, b) => a.key.localeCompare(b.key));
    return { services: resolved.services, changes, skipped: [...skipped, ...resolved.skipped] };
  }
}
