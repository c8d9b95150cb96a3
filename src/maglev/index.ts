// Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4): every backend walks the table in its
// own permutation (offset, skip) and the backends take turns claiming their next free slot until the
// table is full. Equal shares to within one slot, and few slots move when a backend comes or goes.
// Pure and deterministic: no module state, the table depends only on the set of backend names.
import { createHash } from 'node:crypto';
import { ErrorCode, KbpError } from '../errors.js';

export interface Permutation {
  offset: number;
  skip: number;
}

/** Table sizes to choose from: primes, each roughly double the one before. */
export const TABLE_SIZES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65537, 131071, 262139] as const;
export const DEFAULT_MAX_TABLE_SIZE = 65537;
/** M ≫ N keeps the imbalance low (the paper uses M ≥ 100·N). */
const SLOTS_PER_BACKEND = 100;

/**
 * The table size for n backends: the smallest listed prime ≥ 100·n, capped at maxSize (itself taken
 * as the largest listed prime ≤ maxSize). Throws when even that cannot give every backend a slot.
 */
export function tableSize(n: number, maxSize: number = DEFAULT_MAX_TABLE_SIZE): number {
  const allowed = TABLE_SIZES.filter((m) => m <= maxSize);
  const largest = allowed[allowed.length - 1];
  if (largest === undefined) throw new KbpError(ErrorCode.NoTableSize, `no table size is ≤ ${maxSize}`);
  if (n > largest) throw new KbpError(ErrorCode.MaglevTooManyBackends, `${n} backends need more slots than the largest table (${largest})`);
  return allowed.find((m) => m >= SLOTS_PER_BACKEND * n) ?? largest;
}

/** Fills a table of size m from the backends' permutations; slot values are indexes into `perms`. */
export function populate(perms: readonly Permutation[], m: number): Uint32Array {
  const n = perms.length;
  const table = new Uint32Array(m);
  if (n === 0) return new Uint32Array(0);
  const taken = new Uint8Array(m);
  const next = new Uint32Array(n);
  const offset = new Uint32Array(perms.length);
  const skip = new Uint32Array(perms.length);
  perms.forEach((p, i) => ((offset[i] = p.offset % m), (skip[i] = p.skip % m)));
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      const off = offset[i] ?? 0;
      const sk = skip[i] ?? 0;
      let j = next[i] ?? 0;
      let slot = (off + j * sk) % m;
      while (taken[slot]) {
        j++;
        slot = (off + j * sk) % m;
      }
      taken[slot] = 1;
      table[slot] = i;
      next[i] = j + 1;
      if (++filled === m) return table;
    }
  }
}

/** The permutation of a backend in a table of size m, from two independent hashes of its name. */
export function permutationOf(name: string, m: number): Permutation {
  const digest = createHash('sha256').update(name).digest();
  return { offset: digest.readUInt32BE(0) % m, skip: (digest.readUInt32BE(4) % (m - 1)) + 1 };
}

export interface MaglevTable {
  /** Slot -> index into `names` (sorted). */
  table: Uint32Array;
  size: number;
  /** The backend names in the order the slots refer to: sorted, without duplicates. */
  names: string[];
}

/** The Maglev table over a set of backend names ("ip:port/proto"); the input order does not matter. */
export function buildTable(backendNames: readonly string[], options: { maxSize?: number } = {}): MaglevTable {
  const names = [...new Set(backendNames)].sort();
  if (names.length === 0) return { table: new Uint32Array(0), size: 0, names };
  const size = tableSize(names.length, options.maxSize);
  return {
    table: populate(
      names.map((name) => permutationOf(name, size)),
      size,
    ),
    size,
    names,
  };
}
