// Starting the sandbox's processes inside their namespaces: pod servers, pod clients (driven over
// IPC) and the agent itself, the way a hostNetwork DaemonSet pod runs in the node's namespace.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnIn } from './exec.js';
import type { ClientReply, ClientRequest } from './pod-client-protocol.js';
import type { KubeReply, KubeRequest } from './kube-client-protocol.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cliPath = path.join(here, '..', 'src', 'cli', 'main.js');

/** The command line `startAgent` runs (inside the namespace): node, the CLI, `agent` and `args`. */
export function agentCommand(args: readonly string[]): string[] {
  return [process.execPath, cliPath, 'agent', ...args];
}

async function waitReady(child: ChildProcess, what: string, timeoutMs = 10_000): Promise<void> {
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      child.on('message', (m: { ready?: boolean }) => m.ready && resolve());
      child.on('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`)));
    });
  } finally {
    clearTimeout(timer);
  }
}

export async function startPodServer(ns: string, name: string): Promise<ChildProcess> {
  const child = spawnIn(ns, process.execPath, [path.join(here, 'pod-server.js'), name], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await waitReady(child, `server ${name}`);
  return child;
}

/**
 * A whoami server in a pod (harness/whoami-server.ts): each answer names the local address the
 * connection arrived at. It exits with the IPC channel, so killing the test kills it too.
 */
export async function startWhoamiServer(ns: string, port: number): Promise<ChildProcess> {
  const child = spawnIn(ns, process.execPath, [path.join(here, 'whoami-server.js'), String(port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await waitReady(child, `whoami server in ${ns}`);
  return child;
}

export interface IpcChild<Req, Rep> {
  pid: number;
  request(req: Req): Promise<Rep>;
  close(): void;
}

/**
 * A helper process in a namespace that answers requests over IPC ({seq, req} -> {seq, reply}) and
 * says {ready: true} once it listens. `script`: a file of the harness, or an absolute path.
 */
export async function startIpcChild<Req, Rep>(ns: string, script: string, args: readonly string[], what: string): Promise<IpcChild<Req, Rep>> {
  const child = spawnIn(ns, process.execPath, [path.resolve(here, script), ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await waitReady(child, what);
  let seq = 0;
  const waiting = new Map<number, (reply: Rep) => void>();
  child.on('message', (m: { seq?: number; reply?: Rep }) => {
    if (m.seq !== undefined && m.reply) waiting.get(m.seq)?.(m.reply);
  });
  return {
    pid: child.pid ?? 0,
    request(req) {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        waiting.set(id, (reply) => {
          waiting.delete(id);
          resolve(reply);
        });
        child.send({ seq: id, req }, (err) => err && reject(err));
      });
    },
    close() {
      child.kill('SIGKILL');
    },
  };
}

export type PodClient = IpcChild<ClientRequest, ClientReply>;

export function startPodClient(ns: string): Promise<PodClient> {
  return startIpcChild(ns, 'pod-client.js', [], 'client');
}

export type KubeClient = IpcChild<KubeRequest, KubeReply>;

/** A Kubernetes client inside `ns` (where the API server is reachable), using `kubeconfig`. */
export function startKubeClient(ns: string, kubeconfig: string): Promise<KubeClient> {
  return startIpcChild(ns, 'kube-client.js', [kubeconfig], 'kube client');
}

export interface AgentProcess {
  child: ChildProcess;
  /** Resolves with the next sync that wrote to the maps, and the agent's own time for it (ms). */
  nextProgramming(): Promise<number>;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export interface AgentOptions {
  /** Inherit the agent's stderr (its stdout is inherited unless `logFile` is given). */
  log?: boolean;
  /** Write the agent's stdout and stderr to this file instead. */
  logFile?: string;
  /** How long the first programmed sync may take (default 30 s); the agent is killed after it. */
  readyTimeoutMs?: number;
}

/** Starts `kbproxy agent` inside a node namespace; resolves once it reports its first sync programmed. */
export async function startAgent(ns: string, args: readonly string[], options: AgentOptions = {}): Promise<AgentProcess> {
  const [cmd = process.execPath, ...rest] = agentCommand(args);
  const fd = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawnIn(ns, cmd, rest, {
      stdio: ['ignore', fd ?? 'inherit', fd ?? (options.log ? 'inherit' : 'ignore'), 'ipc'],
      env: { ...process.env, KBP_LOG_LEVEL: process.env.KBP_LOG_LEVEL ?? 'info' },
    });
  } finally {
    if (fd !== undefined) closeSync(fd); // the child holds its own copy
  }
  await waitReady(child, 'agent', options.readyTimeoutMs ?? 30_000);
  const exited = once(child, 'exit') as Promise<[number | null]>;
  return {
    child,
    nextProgramming() {
      return new Promise((resolve) => {
        const onMessage = (m: { ops?: number; syncMs?: number }): void => {
          if (!m.ops) return;
          child.off('message', onMessage);
          resolve(m.syncMs ?? NaN);
        };
        child.on('message', onMessage);
      });
    },
    async stop() {
      child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
