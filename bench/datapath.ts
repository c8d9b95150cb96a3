// The datapath suite on its own (bench/suites/datapath.ts has the method): per-packet cost of the tc
// and XDP programs through BPF_PROG_TEST_RUN, with the connection-tracking table full. As root.
//
// Usage: node dist/bench/datapath.js [--services 1,1000,10000,100000] [--quick] [--out FILE]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../src/native/bpf.js';
import { DEFAULT_SERVICES, QUICK_SERVICES, runDatapathSuite, type Figure } from './suites/datapath.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(repoRoot, 'bench', 'results', 'datapath.json') },
  },
});
const services = values.services?.split(',').map(Number) ?? (values.quick ? QUICK_SERVICES : DEFAULT_SERVICES);
if (services.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--services wants positive integers, got ${values.services ?? ''}`);

const started = performance.now();
const result = await runDatapathSuite({ services, quick: values.quick, log: (line) => console.error(line) });
mkdirSync(path.dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);

const cell = (f: Figure) => `${Math.round(f.medianNs)} (${Math.round(f.minNs)}..${Math.round(f.maxNs)}) ×${f.repeat}`;
console.log('median ns/packet (min..max) ×repeat');
for (const r of result.tc) {
  console.log(
    `tc  ${r.services}: new ${cell(r.newFlow)} | est walk ${cell(r.establishedWalk)} | warm ${cell(r.establishedWarm)} | reply ${cell(r.reply)} | not svc ${cell(r.notAService)} | ct ${r.conntrack.entries}/${r.conntrack.capacity}`,
  );
}
for (const r of result.xdp) {
  for (const [placement, p] of [
    ['local', r.local],
    ['remote', r.remote],
  ] as const) {
    console.log(
      `xdp ${r.services} ${placement}: new ${cell(p.newFlow)} | est walk ${cell(p.establishedWalk)} | warm ${cell(p.establishedWarm)} | ct ${p.conntrack.entries}/${p.conntrack.capacity}`,
    );
  }
}
console.log(`${values.out} written in ${Math.round((performance.now() - started) / 1000)} s`);
