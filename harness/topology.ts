// The test topology of docs/ARCHITECTURE.md §6 for one node: a node namespace playing the host, and pod namespaces
// each linked to it by a veth pair (pod side "eth0", host side in the node namespace). Nothing is
// linked to the machine's own interfaces. Every name carries the run id; destroy() removes it all.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { run, runIn } from './exec.js';

export interface Pod {
  name: string;
  ns: string;
  ip: string;
  /** The pod's interface as the node sees it. */
  hostIf: string;
}

export interface NodeSandbox {
  runId: string;
  nodeNs: string;
  /** Per-run bpffs directory for the agent's pins. */
  pinDir: string;
  gateway: string;
  pods: Pod[];
  addPod(name: string): Promise<Pod>;
  destroy(): Promise<void>;
}

export function newRunId(): string {
  return `${(process.pid % 1296).toString(36).padStart(2, '0')}${randomBytes(2).toString('hex')}`;
}

export interface NodeSandboxOptions {
  runId?: string;
  /** Names the node's namespace and pin directory within the run (default "node"). */
  name?: string;
  /** The node's pod /24, as its first three octets (default "10.244.1"). */
  podPrefix?: string;
  /**
   * Pods compute their own TCP/UDP checksums instead of leaving them to the (virtual) NIC, as
   * packets that crossed a real network arrive: what an XDP program on another node sees.
   */
  fullChecksums?: boolean;
}

async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await runIn(ns, 'sysctl', ['-qw', `${key}=${value}`]);
}

/** Kills what still runs in a namespace, then deletes it; quiet when it is already gone. */
export async function removeNetns(ns: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', ns]).catch(() => '');
  for (const pid of pids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* already exited */
    }
  }
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
}

export async function createNodeSandbox(options: NodeSandboxOptions = {}): Promise<NodeSandbox> {
  const runId = options.runId ?? newRunId();
  const name = options.name ?? 'node';
  const nodeNs = `kbp-${runId}-${name}`;
  const pinDir = name === 'node' ? `/sys/fs/bpf/kbp-${runId}` : `/sys/fs/bpf/kbp-${runId}-${name}`;
  const podPrefix = options.podPrefix ?? '10.244.1';
  const gateway = `${podPrefix}.1`;
  // Only namespaces this sandbox made: a name that was taken is never deleted on the way out.
  const namespaces: string[] = [];
  const pods: Pod[] = [];

  const sandbox: NodeSandbox = {
    runId,
    nodeNs,
    pinDir,
    gateway,
    pods,
    async addPod(name: string): Promise<Pod> {
      const index = pods.length + 10;
      const ns = `kbp-${runId}-${name}`;
      const hostIf = `kbp${runId}h${index}`;
      const ip = `${podPrefix}.${index}`;
      await run('ip', ['netns', 'add', ns]);
      namespaces.push(ns);
      await runIn(nodeNs, 'ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', `kbp${runId}p${index}`]);
      await runIn(nodeNs, 'ip', ['link', 'set', `kbp${runId}p${index}`, 'netns', ns]);
      await runIn(ns, 'ip', ['link', 'set', `kbp${runId}p${index}`, 'name', 'eth0']);
      await runIn(ns, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'eth0']);
      await runIn(ns, 'ip', ['link', 'set', 'lo', 'up']);
      await runIn(ns, 'ip', ['link', 'set', 'eth0', 'up']);
      if (options.fullChecksums) await runIn(ns, 'ethtool', ['-K', 'eth0', 'tx', 'off']);
      await runIn(ns, 'ip', ['route', 'add', gateway, 'dev', 'eth0', 'scope', 'link']);
      await runIn(ns, 'ip', ['route', 'add', 'default', 'via', gateway, 'dev', 'eth0']);
      await runIn(nodeNs, 'ip', ['addr', 'add', `${gateway}/32`, 'dev', hostIf]);
      await runIn(nodeNs, 'ip', ['link', 'set', hostIf, 'up']);
      await runIn(nodeNs, 'ip', ['route', 'add', `${ip}/32`, 'dev', hostIf, 'scope', 'link']);
      const pod = { name, ns, ip, hostIf };
      pods.push(pod);
      return pod;
    },
    async destroy(): Promise<void> {
      for (const ns of [...namespaces].reverse()) await removeNetns(ns);
      rmSync(pinDir, { recursive: true, force: true });
    },
  };

  try {
    await run('ip', ['netns', 'add', nodeNs]);
    namespaces.unshift(nodeNs);
    await runIn(nodeNs, 'ip', ['link', 'set', 'lo', 'up']);
    await sysctl(nodeNs, 'net.ipv4.ip_forward', '1');
  } catch (err) {
    await sandbox.destroy();
    throw err;
  }
  return sandbox;
}
