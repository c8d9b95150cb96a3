// The demo (`npm run demo`): a throwaway single-node sandbox (docs/ARCHITECTURE.md §6)
// with three web pods and a client pod, the agent running in the node namespace on the example
// manifests, and real traffic through the ClusterIP. Everything it made is removed on exit, Ctrl-C
// included.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../src/native/bpf.js';
import { createNodeSandbox, type NodeSandbox } from './topology.js';
import { startAgent, startPodClient, startPodServer, type AgentProcess, type PodClient } from './processes.js';
import { NODE_NAME } from './cluster.js';

interface DemoFlags {
  requests: string;
  keep?: boolean;
}

function table(title: string, counts: Record<string, number>): void {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`\n${title}`);
  for (const [backend, n] of Object.entries(counts).sort()) {
    const share = total ? (100 * n) / total : 0;
    console.log(`  ${backend.padEnd(8)} ${String(n).padStart(6)}  ${share.toFixed(1).padStart(5)}%  ${'#'.repeat(Math.round(share / 2))}`);
  }
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const requests = Number(flags.requests);
  const manifests = mkdtempSync(path.join(tmpdir(), 'kbp-demo-'));
  let sandbox: NodeSandbox | undefined;
  let client: PodClient | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      client?.close();
      await sandbox?.destroy();
      rmSync(manifests, { recursive: true, force: true });
    })());
  const onSignal = (): void => {
    console.log('\ninterrupted: tearing the sandbox down');
    void cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    sandbox = await createNodeSandbox();
    console.log(`sandbox ${sandbox.runId}: node namespace ${sandbox.nodeNs}, pins in ${sandbox.pinDir}`);
    const clientPod = await sandbox.addPod('client');
    for (const name of ['web-1', 'web-2', 'web-3']) {
      const pod = await sandbox.addPod(name);
      await startPodServer(pod.ns, name);
      console.log(`  pod ${name.padEnd(7)} ${pod.ip}`);
    }
    console.log(`  pod client  ${clientPod.ip}`);

    cpSync(path.join(repoRoot, 'examples', 'demo'), manifests, { recursive: true });
    const agent = await startAgent(sandbox.nodeNs, ['--manifests', manifests, '--node-name', NODE_NAME, '--pin-dir', sandbox.pinDir]);
    console.log(`agent running in ${sandbox.nodeNs}, serving ${manifests}`);
    client = await startPodClient(clientPod.ns);

    const first = await client.request({ op: 'http', host: '10.96.0.10', port: 80, count: requests });
    table(`${requests} HTTP requests from the client pod to ClusterIP 10.96.0.10:80 (failures: ${first.failures ?? 0})`, first.byBackend ?? {});

    const udp: Record<string, number> = {};
    for (let i = 0; i < 10; i++) {
      const r = await client.request({ op: 'udp', host: '10.96.0.53', port: 53 });
      const key = r.backend ?? r.outcome ?? '?';
      udp[key] = (udp[key] ?? 0) + 1;
    }
    table('10 UDP queries to ClusterIP 10.96.0.53:53', udp);

    // Remove web-3 from the EndpointSlice, as the endpoint controller would when the pod goes away.
    const file = path.join(manifests, 'web.yaml');
    const doc = readFileSync(file, 'utf8');
    const generation = await nextSyncAfter(agent, () =>
      writeFileSync(file, doc.replace(/ {2}- addresses: \[10\.244\.1\.13\][\s\S]*?targetRef: \{ kind: Pod, name: web-3, namespace: demo \}\n/, '')),
    );
    const second = await client.request({ op: 'http', host: '10.96.0.10', port: 80, count: requests });
    table(`after removing web-3 from the slice (sync ${generation}): ${requests} more requests`, second.byBackend ?? {});

    const refused = await client.request({ op: 'connect', host: '10.96.0.99', port: 80 });
    console.log(`\na ClusterIP with no service behind it: ${refused.outcome} after ${refused.ms} ms (not for us: the packet goes on untouched)`);

    if (flags.keep) {
      console.log('\nsandbox kept running; Ctrl-C to tear it down');
      await new Promise(() => undefined);
    }
    const code = await agent.stop();
    console.log(`\nagent stopped (exit ${code}); the pinned dataplane stayed until teardown`);
  } finally {
    await cleanup();
    console.log('sandbox removed');
  }
}

/** Makes a change, then waits for the agent to report the sync that follows it. */
function nextSyncAfter(agent: AgentProcess, change: () => void): Promise<number> {
  const synced = new Promise<number>((resolve) => {
    const onMessage = (m: { generation?: number }): void => {
      if (m.generation === undefined) return;
      agent.child.off('message', onMessage);
      resolve(m.generation);
    };
    agent.child.on('message', onMessage);
  });
  change();
  return synced;
}

await new Command()
  .name('demo')
  .description('build a throwaway sandbox of network namespaces, run the agent on the example manifests and send traffic')
  .option('--requests <n>', 'HTTP requests to send through the ClusterIP', '300')
  .option('--keep', 'keep the sandbox running until Ctrl-C')
  .action(runDemo)
  .parseAsync();
