// The admin page: one self-contained HTML document (no build step, no external assets) that reads
// the admin API every two seconds: services and backends with their state and Maglev shares, live
// counters, and the latest stored benchmark run's charts.
export const ADMIN_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kube-bpf-proxy</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; background: #f7f8fa; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
  .muted { color: #667; } .ok { color: #127a3a; } .bad { color: #b3261e; }
  table { border-collapse: collapse; background: #fff; } td, th { padding: 3px 10px; border-bottom: 1px solid #e3e6ea; text-align: left; }
  th { font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .svc { background: #fff; border: 1px solid #e3e6ea; border-radius: 6px; padding: .6em .9em; margin: .5em 0; }
  .bar { display: inline-block; height: 10px; background: #3867d6; vertical-align: middle; }
  .bar.terminating { background: #e0a100; } .bar.standby { background: #bbb; }
  .chart div { margin: 2px 0; white-space: nowrap; } .chart .label { display: inline-block; width: 32em; }
</style>
</head>
<body>
<h1>kube-bpf-proxy</h1>
<div id="status" class="muted">loading…</div>
<h2>Services</h2>
<div id="services"></div>
<h2>Counters</h2>
<table id="counters"><thead><tr><th>reason</th><th>packets</th><th>bytes</th><th>packets/s</th></tr></thead><tbody></tbody></table>
<h2>Benchmarks</h2>
<div id="bench" class="chart"></div>
<script>
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
};
const get = (path) => fetch(path).then((r) => r.json());
let previous = null;

async function refresh() {
  const [status, list, stats] = await Promise.all([get('/v1/status'), get('/v1/services'), get('/v1/stats')]);
  const state = status.ready ? el('span', { class: 'ok' }, 'ready') : el('span', { class: 'bad' }, 'not ready');
  document.getElementById('status').replaceChildren(state, \` · sync \${status.generation} · \${status.services} service ports · \${status.backends} backends · \${status.rejected.length} not served\`);

  const services = document.getElementById('services');
  services.replaceChildren(...list.services.map((s) => {
    const box = el('div', { class: 'svc', 'data-service': s.namespace + '/' + s.name }, el('strong', {}, s.namespace + '/' + s.name));
    if (s.drift.length) box.append(el('div', { class: 'bad' }, 'drift: ' + s.drift.join('; ')));
    for (const p of s.ports) {
      const rows = p.backends.map((b) => el('tr', {},
        el('td', {}, b.address + ':' + b.port), el('td', {}, b.state + (b.local ? ', local' : '')),
        el('td', { class: 'num' }, (b.share * 100).toFixed(1) + ' %'),
        el('td', {}, el('span', { class: 'bar ' + b.state, style: 'width:' + Math.round(b.share * 300) + 'px' }))));
      box.append(el('div', { class: 'muted' }, \`\${p.port || '(unnamed)'} · \${p.scope} · \${p.frontends.join(', ')} · M=\${p.maglevSize}\`), el('table', {}, ...rows));
    }
    return box;
  }));

  const now = Date.now();
  const body = document.querySelector('#counters tbody');
  body.replaceChildren(...Object.entries(stats).filter(([, c]) => c.packets > 0).map(([reason, c]) => {
    const rate = previous ? (c.packets - (previous.stats[reason]?.packets ?? 0)) / ((now - previous.at) / 1000) : 0;
    return el('tr', { 'data-reason': reason }, el('td', {}, reason), el('td', { class: 'num' }, String(c.packets)), el('td', { class: 'num' }, String(c.bytes)), el('td', { class: 'num' }, rate.toFixed(1)));
  }));
  previous = { stats, at: now };
}

async function bench() {
  const results = await get('/v1/bench');
  const chart = document.getElementById('bench');
  const [name, run] = Object.entries(results)[0] ?? [];
  if (!run) return chart.replaceChildren(el('span', { class: 'muted' }, 'no stored results'));
  const suites = ['e2e', 'control', 'datapath'].filter((s) => s === 'datapath' ? run.datapath : run.options?.suites?.includes(s));
  chart.replaceChildren(
    el('div', { class: 'muted' }, \`run \${name} · \${run.machine?.cpus ?? '?'} CPUs · kernel \${run.machine?.kernel ?? '?'} · commit \${(run.machine?.commit ?? '').slice(0, 8)}\`),
    ...suites.map((s) => el('div', {}, el('img', { src: \`/v1/bench/\${name}/\${s}.svg\`, alt: s + ' chart', 'data-suite': s }))),
  );
}

refresh().catch(console.error);
bench().catch(console.error);
setInterval(() => refresh().catch(console.error), 2000);
</script>
</body>
</html>
`;
