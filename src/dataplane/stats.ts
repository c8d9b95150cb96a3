// Reads the datapath's per-reason counters, summed over CPUs.
import { Type, type Static } from 'typebox';
import type { BpfMap } from '../native/bpf.js';
import { STAT_REASONS, encodeU32, sumStatValue, type StatReason } from './layout.js';

/** One reason's count (the admin API serves it with this schema). */
export const Counter = Type.Object({ packets: Type.Integer(), bytes: Type.Integer() });
export type Counters = Record<StatReason, Static<typeof Counter>>;

export function readCounters(stats: BpfMap, cpus: number): Counters {
  const out = {} as Counters;
  STAT_REASONS.forEach((reason, index) => {
    const value = stats.lookup(encodeU32(index));
    const sum = value ? sumStatValue(value, cpus) : { packets: 0n, bytes: 0n };
    out[reason] = { packets: Number(sum.packets), bytes: Number(sum.bytes) };
  });
  return out;
}
