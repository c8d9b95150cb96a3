// Which compiled services may have their frontends, kept up to date service by service. Only
// services that share a frontend with another can lose: those alone go through the key-ordered
// resolution (resolveFrontendConflicts), so a change costs the size of the conflict, not the cluster.
import { resolveFrontendConflicts, type CompiledService } from './compile.js';
import { frontendKey, type LbService } from './types.js';

export class FrontendClaims {
  private readonly services = new Map<string, LbService>();
  /** Frontend key -> keys of the services that name it. */
  private readonly claimants = new Map<string, Set<string>>();
  /** Frontends named by more than one service. */
  private readonly contested = new Set<string>();

  /** Replaces the services compiled for one Kubernetes Service (`before` by `after`). */
  replace(before: readonly LbService[], after: readonly LbService[]): void {
    for (const lb of before) {
      this.services.delete(lb.key);
      for (const f of lb.frontends.map(frontendKey)) {
        const set = this.claimants.get(f);
        set?.delete(lb.key);
        if (!set || set.size === 0) this.claimants.delete(f);
        if ((set?.size ?? 0) < 2) this.contested.delete(f);
      }
    }
    for (const lb of after) {
      this.services.set(lb.key, lb);
      for (const f of lb.frontends.map(frontendKey)) {
        const set = this.claimants.get(f) ?? new Set<string>();
        set.add(lb.key);
        this.claimants.set(f, set);
        if (set.size > 1) this.contested.add(f);
      }
    }
  }

  get(key: string): LbService | undefined {
    return this.services.get(key);
  }

  /** Every service that keeps its frontends, those that lost one (with the reason), and the losers' keys. */
  resolve(): CompiledService & { losers: Set<string> } {
    const involved = new Set<string>();
    for (const f of this.contested) for (const key of this.claimants.get(f) ?? []) involved.add(key);
    if (involved.size === 0) return { services: [...this.services.values()], skipped: [], losers: new Set() };
    const resolved = resolveFrontendConflicts([...involved].flatMap((k) => this.services.get(k) ?? []));
    const kept = new Set(resolved.services.map((s) => s.key));
    const losers = new Set([...involved].filter((k) => !kept.has(k)));
    return { services: [...this.services.values()].filter((s) => !losers.has(s.key)), skipped: resolved.skipped, losers };
  }
}
