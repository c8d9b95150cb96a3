// A loaded datapath in a private bpffs directory for packet tests, removed again afterwards.
import { mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { native, type BpfMap, type BpfObject } from '../../src/native/bpf.js';
import { loadDatapath } from '../../src/dataplane/loader.js';
import { KernelServiceMaps, openServiceMaps } from '../../src/dataplane/kernel-maps.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { readCounters, type Counters } from '../../src/dataplane/stats.js';

export const TC_ACT = { OK: 0, SHOT: 2, REDIRECT: 7 } as const;
export const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export const HAIRPIN_ADDRESS = '169.254.42.1';

export function ensureBpffs(): void {
  try {
    execFileSync('mountpoint', ['-q', '/sys/fs/bpf']);
  } catch {
    execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
  }
}

export function uniquePinDir(label: string): string {
  return `/sys/fs/bpf/kbp-test-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export interface LoadedDatapath {
  obj: BpfObject;
  reconciler: Reconciler;
  ct: BpfMap;
  stats: BpfMap;
  counters(): Counters;
  close(): void;
}

export async function loadTestDatapath(pinDir: string, options: { nodeAddress?: string } = {}): Promise<LoadedDatapath> {
  ensureBpffs();
  mkdirSync(pinDir, { recursive: true });
  const obj = await loadDatapath({ pinDir, hairpinAddress: HAIRPIN_ADDRESS, ...options });
  const reconciler = new Reconciler(new KernelServiceMaps(native(), openServiceMaps(obj)));
  const ct = obj.map('ct_v4');
  const stats = obj.map('stats');
  const cpus = native().possibleCpus();
  return {
    obj,
    reconciler,
    ct,
    stats,
    counters: () => readCounters(stats, cpus),
    close: () => obj.close(),
  };
}

export function removePinDir(pinDir: string): void {
  rmSync(pinDir, { recursive: true, force: true });
}
