// Loads the datapath object with its maps pinned under one directory. Maps already pinned there are
// reused, so a restarted agent keeps the services and the connections of the one before it.
import path from 'node:path';
import { native, repoRoot, type BpfObject, type CgroupHook } from '../native/bpf.js';
import { writeIPv4 } from './layout.js';

export const DATAPATH_OBJECT = path.join(repoRoot, 'bpf', 'build', 'lb.bpf.o');

export const Programs = {
  fromPod: 'kbp_from_pod',
  toPod: 'kbp_to_pod',
  fromWorld: 'kbp_from_world',
  toWorld: 'kbp_to_world',
} as const;

/** Socket-address programs for host-network clients, by the cgroup hook each belongs at. */
export const SocketPrograms = {
  connect4: 'kbp_sock_connect',
  sendmsg4: 'kbp_sock_sendmsg',
  recvmsg4: 'kbp_sock_recvmsg',
  getpeername4: 'kbp_sock_getpeername',
} as const satisfies Record<CgroupHook, string>;

export interface DatapathOptions {
  pinDir: string;
  /** Source address given to a pod's own packets when it reaches itself through a service. */
  hairpinAddress: string;
  /** This node's address on its interface: the source of outside flows NATed to other nodes' backends. */
  nodeAddress?: string;
  objectPath?: string;
}

export async function loadDatapath(options: DatapathOptions): Promise<BpfObject> {
  const address = (ip: string): Buffer => {
    const b = Buffer.alloc(4);
    writeIPv4(b, ip, 0);
    return b;
  };
  const rodata = { hairpin_addr: address(options.hairpinAddress), ...(options.nodeAddress ? { node_addr: address(options.nodeAddress) } : {}) };
  return native().load(options.objectPath ?? DATAPATH_OBJECT, { pinRoot: options.pinDir, rodata });
}
