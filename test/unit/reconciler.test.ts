// The reconciler against in-memory maps: minimal writes, stable ids across restarts, and make-before-
// break: after every single write, every frontend still leads to a backend (or to a clean reject).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { frontendMapKey } from '../../src/dataplane/state.js';
import type { LbService } from '../../src/compile/types.js';
import { MemoryServiceMaps } from '../helpers/memory-maps.js';
import { lbService } from '../../harness/services.js';

const frontendOf = (svc: LbService) => {
  const f = svc.frontends[0];
  assert.ok(f);
  return frontendMapKey(f);
};

/** A service at 10.96.0.<n>:80 with backends 10.244.<n>.<i>:8080 for each i in `backends`. */
function service(n: number, backends: number[]): LbService {
  return lbService(
    `ns/svc${n}:http`,
    [{ address: `10.96.0.${n}`, port: 80, protocol: 'TCP' }],
    backends.map((i) => ({ address: `10.244.${n}.${i}`, port: 8080 })),
  );
}

function assertEveryFrontendServes(maps: MemoryServiceMaps): void {
  for (const { key, value } of maps.state.frontends.values()) {
    for (const hash of [0, 1, 7, 12345, 99991, 0x7fffffff, 0xfffffffe]) {
      const r = maps.route(key, hash);
      assert.ok(
        typeof r === 'object' || r === 'reject',
        `frontend ${key.vip}:${key.port} (svc ${value.svcId}) routes to ${typeof r === 'string' ? r : JSON.stringify(r)}`,
      );
    }
  }
}

describe('reconciler', () => {
  test('programs services, then writes nothing when nothing changed', () => {
    const maps = new MemoryServiceMaps();
    const r = new Reconciler(maps);
    const first = service(1, [1, 2, 3]);
    const services = [first, service(2, [1])];
    assert.ok(r.sync(services).ops > 0);
    assert.equal(r.sync(services).ops, 0);
    assert.equal(maps.state.frontends.size, 4, 'two frontends and their cluster IPs’ markers');
    assert.equal(maps.state.backends.size, 4);
    const backend = maps.route(frontendOf(first), 42);
    assert.ok(typeof backend === 'object');
  });

  test('a restarted reconciler adopts the ids in the maps and rewrites nothing', () => {
    const maps = new MemoryServiceMaps();
    const services = [service(1, [1, 2, 3]), service(2, [4, 5]), service(3, [])];
    new Reconciler(maps).sync(services);
    const before = maps.dump();
    let writes = 0;
    maps.afterWrite = () => writes++;
    const restarted = new Reconciler(maps);
    assert.equal(restarted.sync([...services].reverse()).ops, 0);
    assert.equal(writes, 0);
    assert.deepEqual(maps.dump(), before);
  });

  test('removing every service empties every map', () => {
    const maps = new MemoryServiceMaps();
    const r = new Reconciler(maps);
    r.sync([service(1, [1, 2]), service(2, [3])]);
    r.sync([]);
    const s = maps.state;
    assert.deepEqual([s.frontends.size, s.backends.size, s.revnat.size, s.tables.size], [0, 0, 0, 0]);
  });

  test('incremental syncs leave the maps exactly as a full re-read would program them', () => {
    // Services are reused by identity between steps where unchanged, as the Kubernetes source does.
    const cache = new Map<string, LbService>();
    const memo = (n: number, bs: number[]): LbService => {
      const key = `${n}:${bs.join()}`;
      const svc = cache.get(key) ?? service(n, bs);
      cache.set(key, svc);
      return svc;
    };
    const steps = fc.array(fc.dictionary(fc.constantFrom('1', '2', '3', '4', '5'), fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { maxLength: 4 })), {
      minLength: 1,
      maxLength: 8,
    });
    fc.assert(
      fc.property(steps, (plan) => {
        const maps = new MemoryServiceMaps();
        const r = new Reconciler(maps);
        for (const step of plan) {
          const services = Object.entries(step).map(([n, bs]) => memo(Number(n), bs));
          r.sync(services);
          assert.equal(new Reconciler(maps).sync(services).ops, 0, 'a fresh reconciler finds nothing to write');
        }
        r.sync([]);
        const s = maps.state;
        assert.deepEqual([s.frontends.size, s.backends.size, s.revnat.size, s.tables.size], [0, 0, 0, 0]);
      }),
      { numRuns: 100 },
    );
  });

  test('make before break: between any two writes every frontend reaches a backend or rejects', () => {
    const backendSets = fc.uniqueArray(fc.integer({ min: 1, max: 250 }), { maxLength: 40 });
    const desired = fc.array(fc.dictionary(fc.constantFrom('1', '2', '3', '4'), backendSets), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(desired, (steps) => {
        const maps = new MemoryServiceMaps();
        maps.afterWrite = () => assertEveryFrontendServes(maps);
        const r = new Reconciler(maps);
        for (const step of steps) {
          r.sync(Object.entries(step).map(([n, bs]) => service(Number(n), bs)));
        }
      }),
      { numRuns: 60 },
    );
  });
});
