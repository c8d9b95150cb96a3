// Capped exponential backoff with jitter for the agent's sync retries: pure, the clock is the caller's.
export class Backoff {
  private failures = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last success. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Records a failure; the delay before the next attempt: min × 2^(failures-1), capped, times [0.5, 1.5). */
  fail(): number {
    const base = Math.min(this.minMs * 2 ** this.failures, this.maxMs);
    this.failures++;
    return base * (0.5 + this.random());
  }

  succeed(): void {
    this.failures = 0;
  }
}
