// Clearing conntrack entries the datapath would otherwise keep using. A UDP flow has no end the
// kernel can see, so a flow pinned to a backend that left its service would keep going there (or
// into a void) for as long as the client keeps sending: kube-proxy clears such entries, and so do we.
import type { BpfMap } from '../native/bpf.js';
import { ctEntryV4, ctKeyV4 } from './layout.js';

/** "svcId/backendId" of the flows to forget. */
export function flowPairKey(svcId: number, backendId: number): string {
  return `${svcId}/${backendId}`;
}

/** Deletes both legs of every flow of the given (service, backend) pairs; returns how many entries went. */
export function purgeFlows(ct: BpfMap, pairs: ReadonlySet<string>): number {
  if (pairs.size === 0) return 0;
  const { keys, values, count } = ct.entries();
  const doomed: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * ctEntryV4.size;
    if (pairs.has(flowPairKey(ctEntryV4.read(values, 'svcId', at), ctEntryV4.read(values, 'backendId', at))))
      doomed.push(keys.subarray(i * ctKeyV4.size, (i + 1) * ctKeyV4.size));
  }
  // One by one: an entry may expire from the LRU between the read and the delete.
  return doomed.filter((k) => ct.delete(k)).length;
}
