// Small helpers that give a test's values the types they have at run time.

/**
 * A suite variable a `before` hook assigns, as `T | undefined`. Such variables are declared with
 * their assigned type so tests use them directly, but an `after` hook also runs when `before`
 * failed part-way, and then some are still undefined: the hook reads them through this.
 */
export function ifSet<T>(value: T): T | undefined {
  return value;
}
