// Small helpers that give a test's values the types they have at run time.
import assert from 'node:assert/strict';

/**
 * A suite variable a `before` hook assigns, as `T | undefined`. Such variables are declared with
 * their assigned type so tests use them directly, but an `after` hook also runs when `before`
 * failed part-way, and then some are still undefined: the hook reads them through this.
 */
export function ifSet<T>(value: T): T | undefined {
  return value;
}

/** The first item of a list the test needs non-empty: a failure, not a TypeError further on, when it is empty. */
export function first<T>(items: readonly T[]): T {
  const [item] = items;
  assert.ok(item !== undefined, 'expected a non-empty list');
  return item;
}
