// The agent's own settings: its node name when no flag gives one, durations in kube-proxy's format, and the retry schedule of failed syncs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/agent/backoff.js';
import { parseDuration } from '../../src/cli/duration.js';
import { resolveNodeName } from '../../src/cli/node-name.js';
import { ErrorCode } from '../../src/errors.js';

test('node name: the flag or NODE_NAME, else the host name, trimmed and lower-cased (kube-proxy GetHostname)', () => {
  assert.equal(resolveNodeName('worker-3', 'ignored'), 'worker-3');
  assert.equal(resolveNodeName(undefined, ' Worker-7.Example.COM\n'), 'worker-7.example.com');
  assert.throws(
    () => resolveNodeName(' ', 'host'),
    (err: { code?: string }) => err.code === ErrorCode.InvalidConfig,
  );
});

test('retry backoff: doubles from the minimum to the cap, jitter within [0.5, 1.5), reset by a success', () => {
  const draws = [0, 0.999, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
  const backoff = new Backoff(200, 10_000, () => draws.shift() ?? 0.5);
  assert.equal(backoff.fail(), 100); // 200 × 0.5
  assert.ok(Math.abs(backoff.fail() - 400 * 1.499) < 1e-9);
  assert.deepEqual([backoff.fail(), backoff.fail(), backoff.fail(), backoff.fail(), backoff.fail()], [800, 1600, 3200, 6400, 10_000]);
  assert.equal(backoff.fail(), 10_000, 'capped');
  assert.equal(backoff.consecutiveFailures, 8);
  backoff.succeed();
  assert.equal(backoff.consecutiveFailures, 0);
  assert.equal(backoff.fail(), 200 * (0.5 + 0.5));
});

test('durations as kube-proxy writes them (Go time.ParseDuration)', () => {
  assert.equal(parseDuration('24h0m0s'), 86_400);
  assert.equal(parseDuration('1h'), 3600);
  assert.equal(parseDuration('1.5m'), 90);
  assert.equal(parseDuration('250ms'), 0.25);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('0s'), 0);
  for (const bad of ['', '10', 'h', '1d', '5s garbage', '-1s']) {
    assert.throws(
      () => parseDuration(bad),
      (err: { code?: string }) => err.code === ErrorCode.InvalidConfig,
      bad,
    );
  }
});
