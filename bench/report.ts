// What a run shows a person: an SVG chart per suite (vega-lite, rendered without a browser) and the
// README's tables in Markdown (`node dist/bench/report.js RUN.json`).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchRun } from './schema.js';

interface Bar {
  services: string;
  mode: string;
  group: string;
  median: number;
  min: number;
  max: number;
}

/** Medians with min-max whiskers, one panel per group, modes along x, scales side by side: bars, or points on a log scale (a bar has no base there). */
function barChart(title: string, unit: string, bars: Bar[], logScale = false): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: bars },
    facet: { column: { field: 'group', type: 'nominal', title: null } },
    spec: {
      width: 180,
      height: 160,
      encoding: {
        x: { field: 'mode', type: 'nominal', title: null, axis: { labelAngle: -40 } },
        xOffset: { field: 'services', type: 'nominal' },
        color: { field: 'services', type: 'nominal', title: 'services' },
      },
      layer: [
        {
          mark: logScale ? { type: 'point', filled: true, size: 90 } : 'bar',
          encoding: { y: { field: 'median', type: 'quantitative', title: unit, scale: logScale ? { type: 'log' } : {} } },
        },
        { mark: { type: 'rule', color: 'black' }, encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

function e2eCharts(run: BenchRun): TopLevelSpec[] {
  const bars = (key: string): Bar[] =>
    run.scales.flatMap((s) =>
      s.modes.flatMap((m) =>
        Object.entries(m.summary.e2e ?? {}).flatMap(([load, figures]) => {
          const f = figures[key];
          return f ? [{ services: String(s.services), mode: m.mode, group: load, median: f.median, min: f.min, max: f.max }] : [];
        }),
      ),
    );
  return [
    barChart('End to end: p99 latency (lower is better)', 'µs', bars('p99')),
    barChart('End to end: rate (higher is better)', 'per second', bars('rate')),
  ];
}

function controlCharts(run: BenchRun): TopLevelSpec[] {
  const cold: Bar[] = run.scales.flatMap((s) =>
    s.modes.flatMap((m) => {
      const c = m.summary.control?.coldSeconds;
      return c ? [{ services: String(s.services), mode: m.mode, group: 'all services answer', median: c.median, min: c.min, max: c.max }] : [];
    }),
  );
  const change: Bar[] = run.scales.flatMap((s) =>
    s.modes.flatMap((m) => {
      const all = m.summary.control?.changeMs.all;
      return all
        ? [{ services: String(s.services), mode: m.mode, group: 'endpoint change, p50 (point) to p99 (whisker)', median: all.p50, min: all.p50, max: all.p99 }]
        : [];
    }),
  );
  return [
    barChart('Control plane: from cold (lower is better)', 's', cold, true),
    barChart('Control plane: one change served (lower is better)', 'ms', change, true),
  ];
}

function datapathCharts(run: BenchRun): TopLevelSpec[] {
  const dp = run.datapath;
  const figure = (services: number, name: string, f: { medianNs: number; minNs: number; maxNs: number }) => ({
    services,
    case: name,
    median: f.medianNs,
    min: f.minNs,
    max: f.maxNs,
  });
  const rows = [
    ...(dp?.tc ?? []).flatMap((r) => [
      figure(r.services, 'tc new flow', r.newFlow),
      figure(r.services, 'tc established (walk)', r.establishedWalk),
      figure(r.services, 'tc established (warm)', r.establishedWarm),
      figure(r.services, 'tc reply', r.reply),
      figure(r.services, 'tc not a service', r.notAService),
    ]),
    ...(dp?.xdp ?? []).flatMap((r) => [
      figure(r.services, 'xdp local new flow', r.local.newFlow),
      figure(r.services, 'xdp local warm', r.local.establishedWarm),
      figure(r.services, 'xdp remote new flow', r.remote.newFlow),
      figure(r.services, 'xdp remote warm', r.remote.establishedWarm),
    ]),
  ];
  if (rows.length === 0) return [];
  return [
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: 'Datapath: ns per packet (BPF_PROG_TEST_RUN)',
      data: { values: rows },
      width: 520,
      height: 260,
      encoding: {
        x: { field: 'services', type: 'quantitative', scale: { type: 'log' }, title: 'services installed' },
        color: { field: 'case', type: 'nominal', legend: { labelLimit: 300 } },
      },
      layer: [
        { mark: { type: 'line', point: true }, encoding: { y: { field: 'median', type: 'quantitative', title: 'ns/packet', scale: { type: 'log' } } } },
        { mark: 'rule', encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
      ],
    },
  ];
}

async function svgOf(specs: TopLevelSpec[]): Promise<string> {
  const whole: TopLevelSpec = specs.length === 1 && specs[0] ? specs[0] : { vconcat: specs as never, config: {} };
  const view = new vega.View(vega.parse(compile(whole).spec), { renderer: 'none' });
  return view.toSVG();
}

/** Writes <suite>.svg for every suite the run has figures of; returns the files written. */
export async function writeCharts(run: BenchRun, dir: string): Promise<string[]> {
  const charts: [string, TopLevelSpec[]][] = [
    ['e2e', e2eCharts(run)],
    ['control', controlCharts(run)],
    ['datapath', datapathCharts(run)],
  ];
  const written: string[] = [];
  for (const [suite, specs] of charts) {
    if (specs.length === 0 || specs.every((s) => ((s as { data?: { values?: unknown[] } }).data?.values?.length ?? 1) === 0)) continue;
    const file = path.join(dir, `${suite}.svg`);
    writeFileSync(file, await svgOf(specs));
    written.push(file);
  }
  return written;
}

/** The README's tables of a run, in Markdown. */
export function markdown(run: BenchRun): string {
  const lines: string[] = [];
  for (const s of run.scales) {
    lines.push(`\n**${s.services.toLocaleString('en')} services** (${run.options.rounds} rounds, medians, min–max)\n`);
    lines.push(
      '| mode | CRR fixed p50 / p99 / p99.9 µs | CRR max conn/s | keep-alive max req/s | UDP p99 µs | all answer from cold | change p50 / p99 ms | CPU s | peak RSS MiB |',
    );
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of s.modes) {
      if (!m.runnable) {
        lines.push(`| ${m.mode} | not runnable here: ${m.reason ?? ''} | | | | | | | |`);
        continue;
      }
      const e = m.summary.e2e ?? {};
      const med = (load: string, key: string) => (e[load]?.[key] ? String(e[load][key].median) : '–');
      const c = m.summary.control;
      lines.push(
        `| ${m.mode} | ${med('crr_fixed', 'p50')} / ${med('crr_fixed', 'p99')} / ${med('crr_fixed', 'p999')} | ${med('crr_max', 'rate')} | ${med('keepalive_max', 'rate')} | ${med('udp_fixed', 'p99')} | ${c?.coldSeconds ? `${c.coldSeconds.median} s` : '–'} | ${c?.changeMs.all ? `${c.changeMs.all.p50} / ${c.changeMs.all.p99}` : '–'} | ${m.summary.cpuSeconds?.median ?? '–'} | ${m.summary.peakRssMiB?.median ?? '–'} |`,
      );
    }
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node dist/bench/report.js RUN.json');
  process.stdout.write(`${markdown(JSON.parse(readFileSync(file, 'utf8')) as BenchRun)}\n`);
}
