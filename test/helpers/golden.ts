// Golden files: expected output kept as readable text beside its input, regenerated with
// UPDATE_GOLDEN=1 (never written by hand), compared line by line otherwise.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { backendKey, frontendKey, type LbService } from '../../src/compile/types.js';
import type { Rejection } from '../../src/model/types.js';

export function describeServices(services: readonly LbService[], rejected: readonly Rejection[]): string {
  const lines: string[] = [];
  // In key order: the description does not depend on the order the pipeline compiled in.
  for (const s of [...services].sort((a, b) => a.key.localeCompare(b.key))) {
    const usable = new Set(s.table).size;
    const external =
      s.scope === 'internal'
        ? ` when-empty=${s.whenEmpty}`
        : ` when-empty=${s.whenEmpty} local-origin-twin=${s.localOriginTwin} ranges=${s.sourceRanges.join(',') || '-'} health=${s.healthCheckNodePort ?? '-'}`;
    lines.push(
      `SVC ${s.key} ${s.frontends.map((f) => `${frontendKey(f)}(${f.kind})`).join(',')} backends=${s.backends.length} usable=${usable} M=${s.table.length} affinity=${s.affinityTimeoutSeconds}${external}`,
    );
    const slots = new Uint32Array(s.backends.length);
    for (const i of s.table) slots[i] = (slots[i] ?? 0) + 1;
    s.backends.forEach((b, i) => {
      const flags = [b.terminating ? 'terminating' : '', b.local ? 'local' : ''].filter(Boolean).join(',');
      lines.push(`  BE ${backendKey(b)}${flags ? ` ${flags}` : ''} slots=${slots[i] ?? 0}`);
    });
  }
  for (const r of rejected) lines.push(`NOT SERVED ${r.kind} ${r.key}: ${r.reason}`);
  return `${lines.join('\n')}\n`;
}

export function assertGolden(file: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== '1') assert.fail(`${file} is missing: run with UPDATE_GOLDEN=1 to create it`);
    writeFileSync(file, actual);
    return;
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 rewrites it after review)`);
}
