// The import graph points one way: the agent (src/) never imports the harness or the tests, and
// inside src/ every import goes down the layers below, from the CLI to the foundations. A module
// that needs something from a layer above it belongs elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../../src/native/bpf.js';

/** src/ top-level folders and files, lowest first: each may import only those before it. */
const LAYERS = [
  ['errors'],
  ['log', 'exec'],
  ['model'],
  ['maglev'],
  ['compile'],
  ['native'],
  ['dataplane'],
  ['inspect'],
  ['api'],
  ['sources'],
  ['agent'],
  ['cli'],
];
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import of a file, resolved to a path inside the repository. */
function imports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((f) => f.startsWith('.'))
    .map((f) => path.relative(repoRoot, path.resolve(path.dirname(file), f)));
}

/** The layer name of a path under src/: its first folder, or the file itself. */
const layerOf = (rel: string): string => (rel.split(path.sep)[1] ?? '').replace(/\.(js|ts)$/, '');

test('every import inside src/ goes down the layers, and none leaves src/', () => {
  const wrong: string[] = [];
  for (const file of tsFiles(path.join(repoRoot, 'src'))) {
    const from = path.relative(repoRoot, file);
    const own = rank.get(layerOf(from));
    assert.ok(own !== undefined, `${from} is in no layer: add its folder to LAYERS`);
    for (const target of imports(file)) {
      if (!target.startsWith(`src${path.sep}`)) wrong.push(`${from} imports ${target}, outside the agent`);
      else if (layerOf(target) !== layerOf(from) && (rank.get(layerOf(target)) ?? Infinity) >= own)
        wrong.push(`${from} imports ${target}, a layer not below its own`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the harness and the benchmarks use the agent and the harness only (the benchmarks also their own suites), never the tests', () => {
  const wrong: string[] = [];
  const allowed = { harness: /^(src|harness)\//, bench: /^(src|harness|bench)\// };
  for (const dir of ['harness', 'bench'] as const) {
    for (const file of tsFiles(path.join(repoRoot, dir))) {
      for (const target of imports(file)) {
        if (!allowed[dir].test(target)) wrong.push(`${path.relative(repoRoot, file)} imports ${target}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

test('the published package holds the agent only', () => {
  const files = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { files: string[] }).files;
  assert.ok(
    files.every((f) => /^(dist\/src\/|bpf\/build\/|native\/build\/)/.test(f)),
    `package.json files: ${files.join(', ')}`,
  );
});
