// The demo as a user runs it: traffic through the ClusterIP, and nothing left behind afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../src/native/bpf.js';
import { run } from '../../src/exec.js';

test('the demo serves traffic through the ClusterIP and leaves nothing behind', { timeout: 120_000 }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist', 'harness', 'demo.js'), '--requests', '300']);
  const runId = stdout.match(/^sandbox (\w+):/m)?.[1];
  assert.ok(runId, stdout);
  assert.match(stdout, /300 HTTP requests .* \(failures: 0\)/);
  for (const pod of ['web-1', 'web-2', 'web-3']) assert.match(stdout, new RegExp(`^  ${pod}\\s+\\d+`, 'm'));
  assert.match(stdout, /after removing web-3 .*\n {2}web-1 .*\n {2}web-2 .*\n\n/, 'web-3 served nothing after its removal');
  assert.match(stdout, /sandbox removed/);
  assert.doesNotMatch(await run('ip', ['netns', 'list']), new RegExp(`kbp-${runId}-`));
  assert.equal(existsSync(`/sys/fs/bpf/kbp-${runId}`), false);
});
