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

/**
 * Like spawnIn, for a program that has no IPC channel to notice the harness gone: it gets SIGKILL
 * when the process that started it dies (setpriv sets the parent-death signal, then execs it, so
 * the child's pid and command line are the program's own).
 */
export function spawnTiedIn(ns: string, cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawnIn(ns, 'setpriv', ['--pdeathsig', 'SIGKILL', '--', cmd, ...args], options);
}
