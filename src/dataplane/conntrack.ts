// Clearing conntrack entries: flows the datapath would otherwise keep using, and expired ones. A UDP
// flow has no end the kernel can see, so a flow pinned to a backend that left its service would keep
// going there (or into a void) for as long as the client keeps sending: kube-proxy clears such
// entries, and so do we. Expired entries are not used by the datapath but hold their slot until the
// LRU evicts them, so a full table would evict live idle flows before dead ones: collected here.
import type { BpfMap } from '../native/bpf.js';
import { ctEntryV4, ctKeyV4 } from './layout.js';

/** "svcId/backendId" of the flows to forget. */
export function flowPairKey(svcId: number, backendId: number): string {
  return `${svcId}/${backendId}`;
}

/** Deletes the entries `doomed(values, offset)` picks; returns how many there were and how many went. */
function deleteWhere(ct: BpfMap, doomed: (values: Buffer, at: number) => boolean): { entries: number; deleted: number } {
  const { keys, values, count } = ct.entries();
  const keysToDelete: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    if (doomed(values, i * ctEntryV4.size)) keysToDelete.push(keys.subarray(i * ctKeyV4.size, (i + 1) * ctKeyV4.size));
  }
  // One by one: an entry may leave the LRU between the read and the delete.
  return { entries: count, deleted: keysToDelete.filter((k) => ct.delete(k)).length };
}

/** Deletes both legs of every flow of the given (service, backend) pairs; returns how many entries went. */
export function purgeFlows(ct: BpfMap, pairs: ReadonlySet<string>): number {
  if (pairs.size === 0) return 0;
  return deleteWhere(ct, (values, at) => pairs.has(flowPairKey(ctEntryV4.read(values, 'svcId', at), ctEntryV4.read(values, 'backendId', at)))).deleted;
}

/** Deletes the entries expired by `nowNs` (the kernel's CLOCK_MONOTONIC); the table's size before, and how many went. */
export function collectExpired(ct: BpfMap, nowNs: bigint): { entries: number; deleted: number } {
  return deleteWhere(ct, (values, at) => ctEntryV4.read(values, 'expiresNs', at) < nowNs);
}
