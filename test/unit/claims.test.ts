// Frontend claims kept service by service give the same answer as resolving the whole set at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrontendClaims } from '../../src/compile/claims.js';
import { resolveFrontendConflicts } from '../../src/compile/compile.js';
import type { LbService } from '../../src/compile/types.js';
import { lbService } from '../../harness/services.js';

/** Service n with frontends 10.96.0.<f>:80 for each f in `frontends` (few addresses, so they collide). */
function service(n: number, frontends: number[]): LbService {
  return lbService(
    `ns/svc${n}:http`,
    frontends.map((f) => ({ address: `10.96.0.${f}`, port: 80, protocol: 'TCP' as const })),
    [],
  );
}

const keys = (services: readonly LbService[]) => services.map((s) => s.key).sort();

test('incremental claims resolve conflicts exactly as the whole set does', () => {
  const step = fc.record({ n: fc.integer({ min: 1, max: 8 }), frontends: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { maxLength: 3 }) });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => {
      const claims = new FrontendClaims();
      const current = new Map<number, LbService>();
      for (const { n, frontends } of steps) {
        const before = current.get(n);
        // An empty frontend list stands for the service being deleted.
        const after = frontends.length > 0 ? service(n, frontends) : undefined;
        claims.replace(before ? [before] : [], after ? [after] : []);
        if (after) current.set(n, after);
        else current.delete(n);
        const whole = resolveFrontendConflicts([...current.values()]);
        const incremental = claims.resolve();
        assert.deepEqual(keys(incremental.services), keys(whole.services));
        assert.deepEqual(incremental.skipped.map((s) => s.key).sort(), whole.skipped.map((s) => s.key).sort());
      }
    }),
    { numRuns: 200 },
  );
});
