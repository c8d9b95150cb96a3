// Loads the datapath object with its maps pinned under one directory. Maps already pinned there are
// reused, so a restarted agent keeps the services and the connections of the one before it.
import { rmSync } from 'node:fs';
import { endianness } from 'node:os';
import path from 'node:path';
import { ErrorCode, KbpError } from '../errors.js';
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

/**
 * Pinned maps an upgrade may replace when their layout changed: counters (they restart from zero),
 * source ranges (rewritten by the next sync), and per-socket or per-client memory whose loss only
 * lets a client land on another backend for its next connection. The others hold service and flow
 * state whose ids name each other; replacing one alone would send live connections astray.
 */
const REPLACEABLE_PINS = new Set(['stats', 'lb_src_v4', 'sock_revnat_v4', 'affinity_v4']);

/** Conntrack lifetimes after a flow's last packet, in seconds, named after kube-proxy's flags. */
export interface ConntrackTimeouts {
  tcpEstablished: number;
  tcpCloseWait: number;
  udp: number;
  udpStream: number;
}

/** The object's rodata variable of each lifetime. */
const CONNTRACK_RODATA: Record<keyof ConntrackTimeouts, string> = {
  tcpEstablished: 'ct_tcp_established_ns',
  tcpCloseWait: 'ct_tcp_close_wait_ns',
  udp: 'ct_udp_ns',
  udpStream: 'ct_udp_stream_ns',
};

export interface DatapathOptions {
  pinDir: string;
  /** Source address given to a pod's own packets when it reaches itself through a service. */
  hairpinAddress: string;
  /** This node's address on its interface: the source of outside flows NATed to other nodes' backends. */
  nodeAddress?: string;
  /** Conntrack lifetimes; each unset one keeps the object's default (bpf/include/config.h). */
  conntrack?: Partial<ConntrackTimeouts>;
  objectPath?: string;
  /** Told of every pinned map replaced because its layout changed (see REPLACEABLE_PINS). */
  onReplacedPin?: (map: string) => void;
}

export async function loadDatapath(options: DatapathOptions): Promise<BpfObject> {
  const address = (ip: string): Buffer => {
    const b = Buffer.alloc(4);
    writeIPv4(b, ip, 0);
    return b;
  };
  const u64 = (value: bigint): Buffer => {
    const b = Buffer.alloc(8);
    if (endianness() === 'LE') b.writeBigUInt64LE(value);
    else b.writeBigUInt64BE(value);
    return b;
  };
  const lifetimes = (Object.keys(CONNTRACK_RODATA) as (keyof ConntrackTimeouts)[]).flatMap((name) => {
    const seconds = options.conntrack?.[name];
    return seconds === undefined ? [] : [[CONNTRACK_RODATA[name], u64(BigInt(Math.round(seconds * 1e9)))] as const];
  });
  const rodata = {
    hairpin_addr: address(options.hairpinAddress),
    host_netns_cookie: u64(native().netnsCookie()),
    ...(options.nodeAddress ? { node_addr: address(options.nodeAddress) } : {}),
    ...Object.fromEntries(lifetimes),
  };
  for (const replaced = new Set<string>(); ;) {
    try {
      return await native().load(options.objectPath ?? DATAPATH_OBJECT, { pinRoot: options.pinDir, rodata });
    } catch (err) {
      // libbpf names the pinned map it could not reuse.
      const map = /map '([^']+)': error reusing pinned map/.exec((err as Error).message)?.[1];
      if (map === undefined || replaced.has(map)) throw err;
      if (!REPLACEABLE_PINS.has(map)) {
        throw new KbpError(
          ErrorCode.IncompatiblePins,
          `the pinned map ${path.join(options.pinDir, map)} has another layout than this version's, and holds service or flow state: remove ${options.pinDir} to start afresh (live connections through this node are then lost)`,
          { cause: err },
        );
      }
      rmSync(path.join(options.pinDir, map));
      replaced.add(map);
      options.onReplacedPin?.(map);
    }
  }
}
