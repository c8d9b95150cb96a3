// The benchmark bed at a small scale, for every proxy mode: one cluster (a real API server, selectorless
// services with hand-written slices), then per mode a fresh node with the proxy running in it; from
// the client pod the measured service answers over HTTP (fortio's echo), its whoami names one of its
// endpoints, a UDP datagram comes back (fortio's udp-echo), and other services answer too. Without a
// proxy the client reaches the endpoints directly. ipvs cannot run on a kernel without IP_VS: it
// must say why, in kube-proxy's words. Nothing of the run may be left afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { run } from '../../harness/exec.js';
import { createBenchCluster, endpointOf, type BenchCluster, type BenchNode } from '../../harness/bench-bed.js';
import { PROXY_MODES, startProxy, type ProxyMode, type RunningProxy, type StartOptions } from '../../harness/proxies.js';
import { startPodClient, type PodClient } from '../../harness/processes.js';
import { ifSet } from '../helpers/types.js';

const SERVICES = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function namespacesOf(runId: string): Promise<string[]> {
  return (await run('ip', ['netns', 'list']))
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((ns) => ns.startsWith(`kbp-${runId}-`));
}

const pinsOf = (runId: string): string[] => readdirSync('/sys/fs/bpf').filter((d) => d.startsWith(`kbp-${runId}`));

/** Processes still running with this run's kubeconfig on their command line (a proxy left behind). */
function processesUsing(kubeconfig: string): string[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        return cmdline.includes(kubeconfig) ? [`${pid}: ${cmdline}`] : [];
      } catch {
        return [];
      }
    });
}

describe('the benchmark bed: every proxy mode on a fresh node against one API server', { timeout: 240_000 }, () => {
  let cluster: BenchCluster;

  before(async () => {
    cluster = await createBenchCluster({ services: SERVICES });
    console.log(`# ${SERVICES} services and slices written in ${cluster.populateSeconds.toFixed(2)} s`);
  });
  after(async () => {
    const bed = ifSet(cluster);
    if (!bed) return;
    await bed.destroy();
    assert.deepEqual(await namespacesOf(bed.runId), [], 'namespaces of the run left behind');
    assert.deepEqual(pinsOf(bed.runId), [], 'pin directories of the run left behind');
    assert.deepEqual(processesUsing(bed.kubeconfig), [], 'processes of the run left behind');
  });

  test('the objects: services in creation order with unique ClusterIPs, the measured one last with its five endpoints', () => {
    assert.equal(cluster.serviceIPs.length, SERVICES);
    assert.equal(new Set(cluster.serviceIPs).size, SERVICES);
    assert.ok(!cluster.serviceIPs.includes('10.96.0.1') && !cluster.serviceIPs.includes('10.96.0.0'));
    assert.equal(cluster.serviceIPs.at(-1), cluster.measured.clusterIP);
    assert.equal(cluster.measured.endpoints.length, 5);
    assert.equal(new Set(cluster.measured.endpoints).size, 5);
  });

  /** Traffic from the client pod through `proxy` (or, for 'none', straight to the endpoints). */
  async function exercise(mode: ProxyMode, node: BenchNode, proxy: RunningProxy, client: PodClient): Promise<void> {
    const { measured } = cluster;
    const direct = mode === 'none';
    // Without a proxy the floor is the endpoints themselves, on their target ports.
    const host = direct ? (measured.endpoints[0] ?? '') : measured.clusterIP;
    const http = await client.request({ op: 'status', host, port: direct ? 8080 : measured.httpPort });
    assert.equal(http.status, 200, `HTTP to ${host}: ${JSON.stringify(http)}`);

    const served = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const who = await client.request({ op: 'status', host, port: direct ? 8081 : measured.whoamiPort });
      assert.equal(who.status, 200, `whoami at ${host}: ${JSON.stringify(who)}`);
      served.add(who.body ?? '');
    }
    for (const endpoint of served) assert.ok(measured.endpoints.includes(endpoint), `whoami named ${endpoint}, not one of ${measured.endpoints.join(', ')}`);
    if (direct) assert.deepEqual([...served], [host]);

    const udp = await client.request({ op: 'udp', host, port: direct ? 8078 : measured.udpPort });
    assert.deepEqual([udp.outcome, udp.backend], ['answered', 'who'], `UDP echo at ${host}: ${JSON.stringify(udp)}`);

    // 20 other services, picked at random; without a proxy, one of their endpoints each.
    const others = cluster.serviceIPs.slice(0, -1);
    for (let i = 0; i < 20; i++) {
      const j = Math.floor(Math.random() * others.length);
      const target = direct ? endpointOf(j, i % 5) : (others[j] ?? '');
      const r = await client.request({ op: 'status', host: target, port: direct ? 8080 : 80 });
      assert.equal(r.status, 200, `service ${j} at ${target}: ${JSON.stringify(r)}`);
    }
    if (direct) {
      assert.equal(proxy.usage(), null);
      assert.equal(proxy.pid, null);
      return;
    }

    // A change through the bed: the measured service down to one spare endpoint, then back.
    const spare = node.spareEndpoint(2);
    assert.ok(!measured.endpoints.includes(spare));
    await cluster.setMeasuredEndpoints([...measured.endpoints.map((address) => ({ address, ready: false })), { address: spare, ready: true }]);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const who = await client.request({ op: 'status', host, port: measured.whoamiPort, timeoutMs: 1000 });
      if (who.body === spare) break;
      assert.ok(Date.now() < deadline, `the spare endpoint ${spare} not served within 15 s (last: ${JSON.stringify(who)})`);
      await sleep(100);
    }
    await cluster.setMeasuredEndpoints(measured.endpoints.map((address) => ({ address, ready: true })));
    const usage = proxy.usage();
    assert.ok(usage && usage.cpuSeconds > 0 && usage.peakRssMiB > 0, `usage: ${JSON.stringify(usage)}`);
    console.log(`# ${mode}: ${usage.cpuSeconds.toFixed(2)} CPU s (children ${usage.childCpuSeconds.toFixed(2)}), peak RSS ${usage.peakRssMiB.toFixed(0)} MiB`);
  }

  const cases: { label: string; mode: ProxyMode; options: StartOptions }[] = [
    ...PROXY_MODES.map((mode) => ({ label: mode, mode, options: {} })),
    { label: 'iptables (legacy x_tables)', mode: 'iptables', options: { iptables: 'legacy' } },
  ];
  for (const { label, mode, options } of cases) {
    test(`${label}: the measured service answers over HTTP, whoami and UDP, and other services answer`, async () => {
      const node = await cluster.newNode();
      let proxy: RunningProxy | undefined;
      let client: PodClient | undefined;
      try {
        const started = Date.now();
        const result = await startProxy(mode, node, cluster, options);
        if (mode === 'ipvs' && !existsSync('/proc/net/ip_vs')) {
          // No IP_VS in this kernel: kube-proxy must refuse, and say why.
          assert.equal(result.ok, false, 'ipvs started on a kernel without IP_VS');
          assert.ok(result.reason.trim().length > 0, 'ipvs failed without a reason');
          console.log(`# ipvs: ${result.reason}`);
          return;
        }
        assert.ok(result.ok, result.ok ? '' : `${mode} did not start: ${result.reason}`);
        proxy = result.proxy;
        console.log(`# ${label}: first sync ${Date.now() - started} ms after start; ${proxy.command.join(' ') || '(no process)'}`);
        client = await startPodClient(node.client.ns);
        await exercise(mode, node, proxy, client);
      } finally {
        client?.close();
        await proxy?.stop();
        await node.destroy();
      }
      const left = (await namespacesOf(cluster.runId)).filter((ns) => ns !== `kbp-${cluster.runId}-fabric`);
      assert.deepEqual(left, [], `namespaces of the ${mode} node left behind`);
      assert.ok(!existsSync(node.pinDir), `${node.pinDir} left behind`);
    });
  }
});
