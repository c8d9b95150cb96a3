// The manifest directory source: files added, edited, renamed over, removed, and broken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readManifests, watchManifests, type ManifestSnapshot } from '../../src/sources/manifests.js';

const service = (name: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: { name: ${name}, namespace: ns }\nspec: { clusterIP: 10.96.0.1, ports: [{ name: http, port: 80 }] }\n`;
const names = (s: ManifestSnapshot) => s.objects.map((o) => (o as { metadata: { name: string } }).metadata.name).sort();

test('the directory is followed through adds, edits, renames, removals and broken files', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kbp-manifests-'));
  const snapshots: ManifestSnapshot[] = [];
  let wake: (() => void) | undefined;
  const stop = watchManifests(
    dir,
    (s) => {
      snapshots.push(s);
      wake?.();
    },
    { debounceMs: 20 },
  );
  const next = async (change: () => void): Promise<ManifestSnapshot> => {
    const waiting = new Promise<void>((r) => (wake = r));
    change();
    await waiting;
    const last = snapshots[snapshots.length - 1];
    assert.ok(last);
    return last;
  };
  try {
    assert.deepEqual(names(snapshots[0] ?? { objects: [], rejected: [] }), [], 'an empty directory at start');
    assert.deepEqual(names(await next(() => writeFileSync(path.join(dir, 'a.yaml'), service('a')))), ['a']);
    assert.deepEqual(names(await next(() => writeFileSync(path.join(dir, 'a.yaml'), `${service('a')}---\n${service('b')}`))), ['a', 'b']);
    assert.deepEqual(
      names(
        await next(() => {
          writeFileSync(
            path.join(dir, '.c.tmp'),
            JSON.stringify({ kind: 'List', items: [JSON.parse(JSON.stringify({ kind: 'Service', metadata: { name: 'c' } }))] }),
          );
          renameSync(path.join(dir, '.c.tmp'), path.join(dir, 'c.json'));
        }),
      ),
      ['a', 'b', 'c'],
    );
    const broken = await next(() => writeFileSync(path.join(dir, 'broken.yaml'), 'kind: Service\n  bad: [indent'));
    assert.deepEqual(names(broken), ['a', 'b', 'c'], 'a broken file does not take the others down');
    assert.equal(broken.rejected[0]?.key, 'broken.yaml');
    assert.equal(broken.rejected[0].code, 'KBP_INVALID_MANIFEST');
    assert.deepEqual(names(await next(() => unlinkSync(path.join(dir, 'a.yaml')))), ['c']);
  } finally {
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a directory that disappears delivers no (empty) snapshot, only an error', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kbp-manifests-'));
  writeFileSync(path.join(dir, 'a.yaml'), service('a'));
  const snapshots: ManifestSnapshot[] = [];
  const errors: Error[] = [];
  const stop = watchManifests(dir, (s) => snapshots.push(s), { debounceMs: 20, rescanMs: 50, onError: (e) => errors.push(e) });
  try {
    rmSync(dir, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(snapshots.map(names), [['a']], 'only the first, good snapshot');
    assert.ok(errors.length > 0);
  } finally {
    stop();
  }
});

test('a YAML alias bomb is refused as a broken file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kbp-manifests-'));
  try {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++)
      levels.push(
        `l${i}: &l${i} [${Array(10)
          .fill(i === 1 ? '*a' : `*l${i - 1}`)
          .join(', ')}]`,
      );
    writeFileSync(path.join(dir, 'bomb.yaml'), `${levels.join('\n')}\nkind: Service\n`);
    writeFileSync(path.join(dir, 'ok.yaml'), service('ok'));
    const snapshot = readManifests(dir);
    assert.deepEqual(names(snapshot), ['ok']);
    assert.equal(snapshot.rejected[0]?.key, 'bomb.yaml');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
