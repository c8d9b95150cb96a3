// The proxies the benchmark compares, each started the way its users run it, inside a bench node's
// namespace (harness/bench-bed.ts) against the bed's API server: our agent, the real kube-proxy in
// its iptables, nftables and ipvs modes, and no proxy at all (the floor: clients address endpoints
// directly). Nothing here runs in the machine's own network namespace, and nothing here changes a
// setting that is not the node namespace's own.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchCluster, BenchNode } from './bench-bed.js';
import { clusterCidr, NODE_NAME } from './bench-bed.js';
import { k8sBinDir } from './cluster.js';
import { runIn, spawnTiedIn } from './exec.js';
import { agentCommand, startAgent } from './processes.js';

export type ProxyMode = 'kube-bpf-proxy' | 'iptables' | 'nftables' | 'ipvs' | 'none';
export const PROXY_MODES: readonly ProxyMode[] = ['kube-bpf-proxy', 'iptables', 'nftables', 'ipvs', 'none'];

export interface ProxyUsage {
  /** CPU seconds (user + system) of the proxy process, and of the children it waited for (iptables-restore, nft). */
  cpuSeconds: number;
  /** The part of cpuSeconds spent in those children. */
  childCpuSeconds: number;
  /** Peak resident memory of the proxy process itself (VmHWM), MiB. */
  peakRssMiB: number;
}

export interface RunningProxy {
  mode: ProxyMode;
  /** The exact command line run inside the node namespace (binary and every flag); [] for 'none'. */
  command: string[];
  /** Environment variables set for it beyond the harness's own environment. */
  environment: Record<string, string>;
  /** null for 'none'. */
  pid: number | null;
  /** Where its stdout and stderr go (null for 'none'). */
  logFile: string | null;
  /** CPU and peak RSS so far; null for 'none' and once the process is gone. */
  usage(): ProxyUsage | null;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
}

export type StartResult = { ok: true; proxy: RunningProxy } | { ok: false; reason: string };

export interface StartOptions {
  /** How long the first sync may take (default: 2 min, or 30 ms a service when that is longer). */
  timeoutMs?: number;
  /**
   * Which iptables kube-proxy's iptables and ipvs modes drive (it runs `iptables-restore` from its
   * PATH): the machine's default (`iptables --version` says which; Debian's is nft), or the legacy
   * x_tables one, as the kube-proxy image's iptables-wrapper would pick on a node using it.
   */
  iptables?: 'default' | 'legacy';
}

const IPTABLES_TOOLS = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'];

const CLK_TCK = 100; // USER_HZ: /proc's clock ticks are 1/100 s on Linux
const STOP_GRACE_MS = 10_000;

/** /proc/PID/stat and status of a running process: CPU (own, waited-for children) and VmHWM. */
export function processUsage(pid: number): ProxyUsage | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state is field 3; utime, stime, cutime, cstime are fields 14 to 17.
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const [utime = 0, stime = 0, cutime = 0, cstime = 0] = f.slice(11, 15);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const children = (cutime + cstime) / CLK_TCK;
    return { cpuSeconds: (utime + stime) / CLK_TCK + children, childCpuSeconds: children, peakRssMiB: Number(hwm ?? 0) / 1024 };
  } catch {
    return null; // exited
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

function running(mode: ProxyMode, command: string[], environment: Record<string, string>, child: ChildProcess, logFile: string): RunningProxy {
  const pid = child.pid ?? null;
  return {
    mode,
    command,
    environment,
    pid,
    logFile,
    usage: () => (pid === null || child.exitCode !== null || child.signalCode !== null ? null : processUsage(pid)),
    stop: () => stopChild(child),
  };
}

function logTail(file: string, lines = 8): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Why kube-proxy gave up, in its own words: its "Error running ProxyServer" line (or cobra's
 * "command failed", or a fatal "F…" line), else its last error lines, else the end of its log.
 */
export function kubeProxyFailure(log: string): string {
  const lines = log.split('\n');
  const fatal = lines.filter((l) => /^F\d{4} /.test(l) || l.includes('"Error running ProxyServer"'));
  const failed = lines.filter((l) => l.includes('"command failed"'));
  const errors = lines.filter((l) => /^E\d{4} /.test(l) || l.startsWith('Error: '));
  const picked = fatal.length ? fatal : failed.length ? failed : errors.length ? errors.slice(-3) : lines.slice(-8);
  return picked.join('\n').trim();
}

/**
 * Whether kube-proxy has done its first sync, from inside the node namespace: every family's
 * `kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family=…}` on its metrics port is set.
 */
async function synced(ns: string): Promise<boolean> {
  const script = `fetch('http://127.0.0.1:10249/metrics', { signal: AbortSignal.timeout(1000) })
    .then((r) => r.text())
    .then((t) => console.log(t), () => undefined)`;
  const text = await runIn(ns, process.execPath, ['-e', script]).catch(() => '');
  const stamps = [...text.matchAll(/^kubeproxy_sync_proxy_rules_last_timestamp_seconds(?:\{[^}]*\})? (\S+)$/gm)].map((m) => Number(m[1]));
  return stamps.length > 0 && stamps.every((t) => t > 0);
}

function defaultTimeout(cluster: BenchCluster): number {
  return Math.max(120_000, cluster.serviceIPs.length * 30);
}

/** The kube-proxy command line for a mode: its defaults, except what would reach outside the node namespace. */
export function kubeProxyCommand(mode: 'iptables' | 'nftables' | 'ipvs', kubeconfig: string, binDir = k8sBinDir()): string[] {
  return [
    path.join(binDir, 'kube-proxy'),
    `--kubeconfig=${kubeconfig}`,
    `--hostname-override=${NODE_NAME}`,
    `--proxy-mode=${mode}`,
    `--cluster-cidr=${clusterCidr}`,
    // kube-proxy's conntrack tuning would write nf_conntrack_max (one value for the whole machine,
    // read-only outside the first network namespace) and, when that is already at its target,
    // /sys/module/nf_conntrack/parameters/hashsize (also machine-wide): 0 leaves the limit as it is
    // and skips both. Its other conntrack settings (the TCP established and close-wait timeouts)
    // are the node namespace's own and keep their defaults.
    '--conntrack-max-per-core=0',
  ];
}

/**
 * A directory whose `modprobe` refuses, first on kube-proxy's PATH: kube-proxy runs `modprobe ip_vs`
 * itself (ipvs mode through its IPVS library, nftables mode while clearing ipvs leftovers), and a
 * kernel module is the machine's, never the node namespace's. (This machine's kernel has no module
 * support and no modprobe, so nothing changes here; elsewhere nothing gets loaded.)
 */
function noModprobeDir(workDir: string): string {
  const dir = path.join(workDir, 'no-modprobe');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'modprobe'), '#!/bin/sh\necho "modprobe $*: refused in the bench bed (kernel modules are machine-wide)" >&2\nexit 1\n', {
    mode: 0o755,
  });
  return dir;
}

/** A directory of the iptables tools as the legacy x_tables multi-binary (it dispatches on its name). */
function legacyIptablesDir(workDir: string): string {
  const dir = path.join(workDir, 'iptables-legacy');
  const multi = ['/usr/sbin/xtables-legacy-multi', '/sbin/xtables-legacy-multi'].find((f) => existsSync(f));
  if (!multi) throw new Error('iptables legacy requested, but xtables-legacy-multi is not installed');
  mkdirSync(dir, { recursive: true });
  for (const tool of IPTABLES_TOOLS) if (!existsSync(path.join(dir, tool))) symlinkSync(multi, path.join(dir, tool));
  return dir;
}

async function startKubeProxy(
  mode: 'iptables' | 'nftables' | 'ipvs',
  node: BenchNode,
  cluster: BenchCluster,
  timeoutMs: number,
  iptables: 'default' | 'legacy',
): Promise<StartResult> {
  const command = kubeProxyCommand(mode, cluster.kubeconfig);
  const [bin = '', ...args] = command;
  const dirs = [noModprobeDir(cluster.workDir), ...(iptables === 'legacy' && mode !== 'nftables' ? [legacyIptablesDir(cluster.workDir)] : [])];
  const environment = { PATH: [...dirs, process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(':') };
  const logFile = path.join(cluster.workDir, `${node.ns}-${mode}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawnTiedIn(node.ns, bin, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...environment } });
  } finally {
    closeSync(fd);
  }
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let exit: [number | null, NodeJS.Signals | null] | undefined;
  void exited.then((e) => (exit = e));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      if (exit) {
        const [code, signal] = exit;
        return { ok: false, reason: kubeProxyFailure(readFileSync(logFile, 'utf8')) || `kube-proxy exited (${code ?? signal ?? ''}) with nothing in its log` };
      }
      if (await synced(node.ns)) return { ok: true, proxy: running(mode, command, environment, child, logFile) };
      if (Date.now() > deadline) {
        await stopChild(child);
        return {
          ok: false,
          reason: `kube-proxy (${mode}) did not finish its first sync within ${Math.round(timeoutMs / 1000)} s; its log ends:\n${logTail(logFile)}`,
        };
      }
    }
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

async function startOurs(node: BenchNode, cluster: BenchCluster, timeoutMs: number): Promise<StartResult> {
  const args = ['--kubeconfig', cluster.kubeconfig, '--node-name', NODE_NAME, '--pin-dir', node.pinDir];
  const logFile = path.join(cluster.workDir, `${node.ns}-kube-bpf-proxy.log`);
  try {
    const agent = await startAgent(node.ns, args, { logFile, readyTimeoutMs: timeoutMs });
    const environment = { KBP_LOG_LEVEL: process.env.KBP_LOG_LEVEL ?? 'info' };
    return { ok: true, proxy: running('kube-bpf-proxy', agentCommand(args), environment, agent.child, logFile) };
  } catch (err) {
    // startAgent killed it; say why in its words.
    return { ok: false, reason: `${err instanceof Error ? err.message : String(err)}\n${logTail(logFile)}`.trim() };
  }
}

/**
 * Starts a proxy in `node`'s namespace against `cluster`'s API server and resolves once it has
 * programmed its first full sync (our agent: it says so; kube-proxy: its sync timestamp metric):
 * a start gate only, the benchmark measures "programmed" by traffic. A mode that cannot run here
 * (ipvs without IP_VS in the kernel) resolves `{ ok: false, reason }` in kube-proxy's own words;
 * nothing is left running then.
 */
export async function startProxy(mode: ProxyMode, node: BenchNode, cluster: BenchCluster, options: StartOptions = {}): Promise<StartResult> {
  const timeoutMs = options.timeoutMs ?? defaultTimeout(cluster);
  switch (mode) {
    case 'none':
      return { ok: true, proxy: { mode, command: [], environment: {}, pid: null, logFile: null, usage: () => null, stop: () => Promise.resolve() } };
    case 'kube-bpf-proxy':
      return startOurs(node, cluster, timeoutMs);
    case 'iptables':
    case 'nftables':
    case 'ipvs':
      return startKubeProxy(mode, node, cluster, timeoutMs, options.iptables ?? 'default');
  }
}
