// Running commands for the sandbox: plain, and inside a network namespace (nsenter switches only the
// network namespace, so bpffs under /sys/fs/bpf stays visible, unlike `ip netns exec`).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { run } from '../src/exec.js';

export { run };

export function netnsPath(ns: string): string {
  return `/run/netns/${ns}`;
}

/** Runs a command to completion inside a network namespace. */
export function runIn(ns: string, cmd: string, args: readonly string[]): Promise<string> {
  return run('nsenter', [`--net=${netnsPath(ns)}`, '--', cmd, ...args]);
}

/** Starts a long-running process inside a network namespace. */
export function spawnIn(ns: string, cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn('nsenter', [`--net=${netnsPath(ns)}`, '--', cmd, ...args], options);
}
