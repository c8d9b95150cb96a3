// Maglev: the paper's worked example, equal shares, minimal disruption and order independence.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TABLE_SIZES, buildTable, permutationOf, populate, tableSize } from '../../src/maglev/index.js';

const names = (n: number, prefix = '10.0') => Array.from({ length: n }, (_, i) => `${prefix}.${i >> 8}.${i & 255}:8080/TCP`);

function isPrime(n: number): boolean {
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return n > 1;
}

describe('maglev', () => {
  test("the paper's example: M = 7 gives B1 B0 B1 B0 B2 B2 B0", () => {
    const table = populate(
      [
        { offset: 3, skip: 4 },
        { offset: 0, skip: 2 },
        { offset: 3, skip: 1 },
      ],
      7,
    );
    assert.deepEqual([...table], [1, 0, 1, 0, 2, 2, 0]);
  });

  test('table sizes are primes, at least 100 slots per backend up to the cap', () => {
    for (const m of TABLE_SIZES) assert.ok(isPrime(m), `${m} is prime`);
    assert.equal(tableSize(1), 251);
    assert.equal(tableSize(3), 509);
    assert.equal(tableSize(1000), 65537);
    assert.equal(tableSize(3, 300), 251, 'capped');
    assert.throws(() => tableSize(70000), { code: 'KBP_MAGLEV_TOO_MANY_BACKENDS' });
  });

  test('for N = 1..1000 equal backends each owns floor(M/N) or ceil(M/N) slots', () => {
    for (let n = 1; n <= 1000; n++) {
      const { table, size } = buildTable(names(n));
      const counts = new Uint32Array(n);
      for (const i of table) counts[i] = (counts[i] ?? 0) + 1;
      const lo = Math.floor(size / n);
      const hi = Math.ceil(size / n);
      for (let i = 0; i < n; i++) {
        const c = counts[i] ?? 0;
        if (c !== lo && c !== hi) assert.fail(`N=${n} M=${size}: backend ${i} owns ${c} slots`);
      }
    }
  });

  /**
   * Slots whose owner changes when `removed` leaves, at the table size of the full set. (When the
   * smaller set falls to a smaller table size, every slot is rebuilt: conntrack keeps established
   * flows then, and that step is the size policy's, not the algorithm's.)
   */
  function movedSlots(all: string[], removed: string): { moved: number; size: number } {
    const size = tableSize(all.length);
    const sorted = [...all].sort();
    const rest = sorted.filter((b) => b !== removed);
    const before = populate(
      sorted.map((b) => permutationOf(b, size)),
      size,
    );
    const after = populate(
      rest.map((b) => permutationOf(b, size)),
      size,
    );
    let moved = 0;
    for (let s = 0; s < size; s++) if (sorted[before[s] ?? 0] !== rest[after[s] ?? 0]) moved++;
    return { moved, size };
  }

  test('removing 1 of N backends moves at most M/N + 5% of M slots (N = 2, 3, 10, 100, 1000)', () => {
    for (const n of [2, 3, 10, 100, 1000]) {
      const all = names(n);
      const removals = n <= 10 ? all : [all[0], all[n >> 1], all[n - 1]];
      for (const removed of removals) {
        const { moved, size } = movedSlots(all, removed ?? '');
        assert.ok(moved <= size / n + 0.05 * size, `N=${n}: ${moved} of ${size} slots moved`);
      }
    }
  });

  // Maglev trades some resilience for balance (paper §5.3): over arbitrary backend sets the excess
  // beyond the removed backend's own M/N slots is small in general but has rare outliers at small N
  // (two backends whose permutations nearly coincide). So over random sets the bound is asserted
  // for the great majority and on average, and every outlier is bounded.
  test('property: over random backend sets, removals rarely move more than M/N + 5% of M', () => {
    const excesses: number[] = [];
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 300 }), fc.integer({ min: 0, max: 255 }), fc.nat(), (n, net, k) => {
        const all = names(n, `172.${net}`);
        const { moved, size } = movedSlots(all, all[k % n] ?? '');
        excesses.push((moved - size / n) / size);
      }),
      { numRuns: 200 },
    );
    const within = excesses.filter((e) => e <= 0.05).length / excesses.length;
    const mean = excesses.reduce((a, b) => a + b, 0) / excesses.length;
    assert.ok(within >= 0.95, `${(within * 100).toFixed(1)}% of removals within the bound`);
    assert.ok(mean <= 0.02, `mean excess ${(mean * 100).toFixed(2)}% of M`);
    assert.ok(Math.max(...excesses) <= 0.3, `worst excess ${(Math.max(...excesses) * 100).toFixed(1)}% of M`);
  });

  test('property: shuffled inputs give byte-identical tables', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: 60 }), fc.integer(), (ips, seed) => {
        const backends = ips.map((ip) => `${ip}:80/TCP`);
        const shuffled = [...backends].sort((a, b) => ((a.length * 31 + seed) % 7) - ((b.length * 17 + seed) % 5) || a.localeCompare(b) * (seed % 2 ? 1 : -1));
        const a = buildTable(backends);
        const b = buildTable(shuffled);
        assert.deepEqual(Buffer.from(a.table.buffer), Buffer.from(b.table.buffer));
        assert.deepEqual(a.names, b.names);
      }),
      { numRuns: 100 },
    );
  });
});
