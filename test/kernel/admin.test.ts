// The admin API, the inspect CLI and the admin page against a running agent with traffic flowing:
// counters follow the requests sent, conntrack lists a live connection, the CLI prints what the API
// says, and the page (in headless Chromium, inside the node's namespace) shows the services and
// updates its counters. The agent's admin API listens on 127.0.0.1 inside the node namespace, so
// everything that talks to it runs there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { createNodeSandbox, type NodeSandbox, type Pod } from '../../harness/topology.js';
import { startAgent, startPodClient, startPodServer, type AgentProcess, type PodClient } from '../../harness/processes.js';
import { netnsPath, runIn } from '../../harness/exec.js';
import { repoRoot } from '../../src/native/bpf.js';
import { HAIRPIN_ADDRESS } from '../helpers/datapath.js';
import { serviceManifest, writeManifest } from '../helpers/manifests.js';
import type { DatapathBench } from '../../src/api/routes/bench.js';
import type { ConntrackPage } from '../../src/api/routes/conntrack.js';
import type { Counters } from '../../src/dataplane/stats.js';
import type { ServiceView } from '../../src/inspect/shapes.js';
import { ifSet } from '../helpers/types.js';
import { NODE_NAME } from '../../harness/cluster.js';

const VIP = '10.96.0.10';
const ADMIN = '127.0.0.1:10249';
const TOKEN = 'admin-test-token';
const CHROMIUM = '/usr/bin/chromium';
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

describe('admin API, inspect CLI and admin page on a running agent', { timeout: 240_000 }, () => {
  let sandbox: NodeSandbox;
  let dir: string;
  let agent: AgentProcess | undefined;
  let client: PodClient;
  let admin: PodClient;
  let clientPod: Pod;

  /** GET on the admin API from inside the node namespace: the body, and the body parsed when it is JSON. */
  async function api(pathname: string): Promise<{ status: number; body: string; json: unknown }> {
    const r = await admin.request({ op: 'status', host: '127.0.0.1', port: 10249, path: pathname });
    assert.equal(r.outcome, 'answered', `${pathname}: ${r.outcome}`);
    const body = r.body ?? '';
    return { status: r.status ?? 0, body, json: body.startsWith('{') || body.startsWith('[') ? JSON.parse(body) : body };
  }

  /** `kbproxy inspect …` inside the node namespace; its exit code and output. */
  async function inspect(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    try {
      const out = await runIn(sandbox.nodeNs, process.execPath, [cli, 'inspect', ...args]);
      return { code: 0, out, err: '' };
    } catch (err) {
      const e = (err as { cause?: { code?: number; stdout?: string; stderr?: string } }).cause ?? {};
      return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? (err as Error).message };
    }
  }

  before(async () => {
    sandbox = await createNodeSandbox();
    dir = mkdtempSync(path.join(tmpdir(), 'kbp-test-admin-'));
    clientPod = await sandbox.addPod('client');
    const web: Pod[] = [];
    for (const name of ['web-1', 'web-2', 'web-3']) {
      const pod = await sandbox.addPod(name);
      await startPodServer(pod.ns, name);
      web.push(pod);
    }
    writeManifest(
      dir,
      'web.yaml',
      serviceManifest(
        'web',
        VIP,
        [
          { name: 'http', port: 80, targetPort: 8080 },
          { name: 'line', port: 9000, targetPort: 9000 },
        ],
        [
          { name: 'http', port: 8080 },
          { name: 'line', port: 9000 },
        ],
        web.map((p) => ({ ip: p.ip })),
      ),
    );
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    agent = await startAgent(sandbox.nodeNs, [
      '--manifests',
      dir,
      '--node-name',
      NODE_NAME,
      '--pin-dir',
      sandbox.pinDir,
      '--hairpin-address',
      HAIRPIN_ADDRESS,
      '--admin-address',
      ADMIN,
      '--admin-token-file',
      tokenFile,
    ]);
    client = await startPodClient(clientPod.ns);
    admin = await startPodClient(sandbox.nodeNs);
  });

  after(async () => {
    ifSet(client)?.close();
    ifSet(admin)?.close();
    await agent?.kill().catch(() => undefined);
    await ifSet(sandbox)?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('counters in /v1/stats and /metrics grow by the connections sent (±1%)', async () => {
    const metric = (text: string) => Number(/^kbproxy_datapath_packets_total\{reason="ct_new"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const before = { stats: ((await api('/v1/stats')).json as Counters).ct_new.packets, metrics: metric((await api('/metrics')).body) };
    const sent = 400;
    const r = await client.request({ op: 'http', host: VIP, port: 80, count: sent, concurrency: 8 });
    assert.equal(r.failures, 0);
    // One new flow per request: each HTTP request here opens its own connection.
    const grown = ((await api('/v1/stats')).json as Counters).ct_new.packets - before.stats;
    const grownMetric = metric((await api('/metrics')).body) - before.metrics;
    for (const [what, n] of [
      ['/v1/stats', grown],
      ['/metrics', grownMetric],
    ] as const) {
      assert.ok(Math.abs(n - sent) <= sent * 0.01, `${what}: ${n} new flows for ${sent} connections`);
    }
    assert.match((await api('/metrics')).body, /^kbproxy_bpf_map_entries\{map="ct_v4"\} [1-9]/m, 'map fill levels');
  });

  test('/v1/conntrack lists a live connection with its backend', async () => {
    const opened = await client.request({ op: 'session-open', id: 'live', host: VIP, port: 9000 });
    const served = await client.request({ op: 'session-ask', id: 'live' });
    try {
      const page = (await api('/v1/conntrack?service=test/web&limit=1000')).json as ConntrackPage;
      const mine = page.connections.find((c) => c.client === `${clientPod.ip}:${opened.localPort}`);
      assert.ok(mine, `connection from ${clientPod.ip}:${opened.localPort} among ${page.total}`);
      assert.equal(mine.frontend, `${VIP}:9000`);
      // Typed as mine.backend is (string | null), which is looked up in them.
      const backends: (string | null)[] = ((await api('/v1/services/test/web')).json as ServiceView).ports.flatMap((p) =>
        p.backends.map((b) => `${b.address}:${b.port}`),
      );
      assert.ok(backends.includes(mine.backend), `backend ${String(mine.backend)}`);
      assert.match(served.backend ?? '', /^web-\d$/);
    } finally {
      await client.request({ op: 'session-close', id: 'live' });
    }
  });

  test('the CLI prints what the API says, and fails clearly when the agent is unreachable', async () => {
    for (const [view, pathname] of [
      ['services', '/v1/services'],
      ['backends', '/v1/backends'],
      ['rejected', '/v1/rejected'],
    ] as const) {
      const r = await inspect(view, '--json', '--admin-address', ADMIN);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out), (await api(pathname)).json, view);
    }
    const maglev = await inspect('maglev', 'test/web', '--json', '--admin-address', ADMIN);
    assert.deepEqual(JSON.parse(maglev.out), (await api('/v1/maglev/test/web')).json);
    const table = await inspect('services', '--admin-address', ADMIN);
    assert.match(table.out, /^SERVICE\s+PORT\s+SCOPE/m);
    assert.match(table.out, /^test\/web\s+http\s+internal\s+10\.96\.0\.10:80\/TCP\s+3\/3\s+509\s+-$/m);
    const down = await inspect('stats', '--admin-address', '127.0.0.1:1');
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach the agent's admin API at 127\.0\.0\.1:1/);
  });

  test('the token-guarded benchmark route runs test-run on the loaded programs', async () => {
    const post = (headers: Record<string, string>) =>
      admin.request({
        op: 'status',
        host: '127.0.0.1',
        port: 10249,
        path: '/v1/bench/datapath',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"repeat":1000}',
      });
    assert.equal((await post({})).status, 401);
    const r = await post({ authorization: `Bearer ${TOKEN}` });
    assert.equal(r.status, 200, r.body);
    const { results } = JSON.parse(r.body ?? '{}') as DatapathBench;
    assert.ok(results.from_pod_not_a_service !== undefined && results.from_pod_not_a_service > 0, r.body);
  });

  test('the admin page shows the services and its counters move with traffic (headless Chromium)', async () => {
    // Chromium runs in the node namespace, where the admin API listens.
    const wrapper = path.join(dir, 'chromium-in-node-ns');
    writeFileSync(wrapper, `#!/bin/sh\nexec nsenter --net=${netnsPath(sandbox.nodeNs)} -- ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    statSync(CHROMIUM); // fails loudly when Chromium is missing (scripts/bootstrap installs it)
    const browser = await chromium.launch({ executablePath: wrapper, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.goto(`http://${ADMIN}/`);
      await page.waitForSelector('[data-service="test/web"]');
      const ctNew = async () => Number((await page.textContent('[data-reason="ct_new"] td:nth-child(2)')) ?? 0);
      await page.waitForSelector('[data-reason="ct_new"]');
      const before = await ctNew();
      await client.request({ op: 'http', host: VIP, port: 80, count: 50, concurrency: 4 });
      await page.waitForFunction((n) => Number(document.querySelector('[data-reason="ct_new"] td:nth-child(2)')?.textContent ?? 0) >= n + 50, before, {
        timeout: 10_000,
      });
      assert.ok((await page.locator('.bar').count()) >= 3, 'Maglev share bars');
      const artifacts = path.join(repoRoot, 'test-artifacts');
      mkdirSync(artifacts, { recursive: true });
      const shot = path.join(artifacts, 'admin-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10_000, 'a screenshot with something on it');
    } finally {
      await browser.close();
    }
  });
});
