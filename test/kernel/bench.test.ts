// The benchmark as CI runs it: `npm run bench -- --quick --suite all` on the smallest scale. No
// figure is asserted; the run must produce a result that validates against its schema, samples from
// every mode that can run here, the reason for the one that cannot, and its charts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Check } from 'typebox/value';
import { BenchRun } from '../../bench/schema.js';
import { repoRoot } from '../../src/native/bpf.js';
import { run } from '../../src/exec.js';

test('npm run bench -- --quick --suite all: a valid result with samples from every runnable mode', { timeout: 900_000 }, async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'kbp-bench-'));
  try {
    await promisify(execFile)('npm', ['run', '--silent', 'bench', '--', '--quick', '--suite', 'all', '--out', out], {
      cwd: repoRoot,
      maxBuffer: 64 * 1024 * 1024,
    });
    const result = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as unknown;
    if (!Check(BenchRun, result)) assert.fail('run.json does not validate against bench/schema.ts');
    assert.deepEqual(result.failures, []);
    const [scale] = result.scales;
    assert.ok(scale, 'one scale was run');
    for (const m of scale.modes) {
      if (!m.runnable) {
        assert.equal(m.mode, 'ipvs', `${m.mode} runs here`);
        assert.ok((m.reason ?? '').length > 0, 'the reason ipvs cannot run is recorded');
        continue;
      }
      const round = m.rounds[0];
      assert.ok(round?.e2e, `${m.mode} has end-to-end samples`);
      for (const [load, r] of Object.entries(round.e2e)) assert.ok(r.figures.requests > 0, `${m.mode} ${load} completed requests`);
      if (m.mode !== 'none') {
        assert.ok(round.control && round.control.coldSeconds !== null, `${m.mode} has a cold-start figure`);
        assert.ok(Object.values(round.control.changeMs).flat().length > 0, `${m.mode} has endpoint-change samples`);
        assert.ok(m.command.length > 0, `${m.mode}'s command line is recorded`);
      }
    }
    assert.deepEqual(
      scale.modes.map((m) => m.mode),
      ['kube-bpf-proxy', 'iptables', 'nftables', 'ipvs', 'none'],
    );
    assert.ok((result.datapath?.tc.length ?? 0) > 0 && (result.datapath?.xdp.length ?? 0) > 0, 'datapath samples');
    for (const chart of ['e2e', 'control', 'datapath']) assert.ok(existsSync(path.join(out, `${chart}.svg`)), `${chart}.svg written`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  assert.doesNotMatch(await run('ip', ['netns', 'list']), /kbp-bed-/, 'no namespace of the run is left');
});
