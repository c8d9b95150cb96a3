// Reads the datapath's per-reason counters, summed over CPUs.
import type { BpfMap } from '../native/bpf.js';
import { STAT_REASONS, encodeU32, sumStatValue, type StatReason } from './layout.js';

export type Counters = Record<StatReason, { packets: number; bytes: number }>;

export function readCounters(stats: BpfMap, cpus: number): Counters {
  const out = {} as Counters;
  STAT_REASONS.forEach((reason, index) => {
    const value = stats.lookup(encodeU32(index));
    const sum = value ? sumStatValue(value, cpus) : { packets: 0n, bytes: 0n };
    out[reason] = { packets: Number(sum.packets), bytes: Number(sum.bytes) };
  });
  return out;
}
