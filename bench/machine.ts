// The facts of the machine and checkout a run was made on, recorded in every result file.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Type, type Static } from 'typebox';
import { repoRoot } from '../src/native/bpf.js';

export const Machine = Type.Object({
  hostname: Type.String(),
  kernel: Type.String(),
  os: Type.String(),
  cpuModel: Type.String(),
  cpus: Type.Integer(),
  memoryGiB: Type.Number(),
  node: Type.String(),
  commit: Type.String(),
  /** Uncommitted changes in the checkout when the run started. */
  dirty: Type.Boolean(),
});
export type Machine = Static<typeof Machine>;

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineFacts(): Machine {
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  return {
    hostname: os.hostname(),
    kernel: os.release(),
    os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? os.type(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    commit: git(['rev-parse', 'HEAD']),
    dirty: git(['status', '--porcelain']) !== '',
  };
}

/** Seconds the machine's CPUs spent in system and softirq time so far (/proc/stat, all CPUs). */
export function kernelCpuSeconds(): { system: number; softirq: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq …, in USER_HZ (100 per second on Linux).
  const hz = 100;
  return { system: (fields[2] ?? 0) / hz, softirq: (fields[6] ?? 0) / hz };
}
