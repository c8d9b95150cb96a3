// The TypeScript map layouts against the compiled object's BTF and the C header's enums: a field
// added on one side only fails here, not as corrupt map entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/native/bpf.js';
import { DATAPATH_OBJECT } from '../../src/dataplane/loader.js';
import { SIZES, STAT_REASONS, encodeSvcValue, decodeSvcValue } from '../../src/dataplane/layout.js';

test('struct sizes match the BTF of the datapath object', () => {
  const btf = execFileSync('bpftool', ['btf', 'dump', 'file', DATAPATH_OBJECT, 'format', 'raw'], { encoding: 'utf8' });
  for (const [name, size] of Object.entries(SIZES)) {
    const m = btf.match(new RegExp(`STRUCT '${name}' size=(\\d+)`));
    assert.ok(m, `struct ${name} is in the object's BTF`);
    assert.equal(Number(m[1]), size, `sizeof(struct ${name})`);
  }
});

test('stat reasons follow enum stat_reason in order', () => {
  const header = readFileSync(path.join(repoRoot, 'bpf', 'include', 'types.h'), 'utf8');
  const body = header.slice(header.indexOf('enum stat_reason {'), header.indexOf('STAT__MAX'));
  const names = [...body.matchAll(/^\s*STAT_([A-Z_]+)/gm)].map((m) => (m[1] ?? '').toLowerCase());
  assert.deepEqual(names, [...STAT_REASONS]);
});

test('service values round-trip', () => {
  const v = { svcId: 7, revnatId: 9, lbSize: 509, backendCount: 3, flags: 1, affinityTimeout: 10800 };
  assert.deepEqual(decodeSvcValue(encodeSvcValue(v)), v);
});
