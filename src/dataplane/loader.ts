// Loads the datapath object with its maps pinned under one directory. Maps already pinned there are
// reused, so a restarted agent keeps the services and the connections of the one before it.
import path from 'node:path';
import { native, repoRoot, type BpfObject } from '../native/bpf.js';
import { writeIPv4 } from './layout.js';

export const DATAPATH_OBJECT = path.join(repoRoot, 'bpf', 'build', 'lb.bpf.o');

export const Programs = {
  fromPod: 'kbp_from_pod',
  toPod: 'kbp_to_pod',
} as const;

export interface DatapathOptions {
  pinDir: string;
  /** Source address given to a pod's own packets when it reaches itself through a service. */
  hairpinAddress: string;
  objectPath?: string;
}

export async function loadDatapath(options: DatapathOptions): Promise<BpfObject> {
  const hairpin = Buffer.alloc(4);
  writeIPv4(hairpin, options.hairpinAddress, 0);
  return native().load(options.objectPath ?? DATAPATH_OBJECT, { pinRoot: options.pinDir, rodata: { hairpin_addr: hairpin } });
}
