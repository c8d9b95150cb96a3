// --nodeport-addresses, as kube-proxy reads it: CIDRs that pick, among this node's own IPv4
// addresses, those node ports are served on ("primary", the default, means the Node object's).
import { BlockList, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ErrorCode, KbpError } from '../errors.js';

export function parseCidrs(list: string): BlockList {
  const blocks = new BlockList();
  for (const cidr of list
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)) {
    const [address = '', prefix = '', ...rest] = cidr.split('/');
    const bits = Number(prefix);
    if (!isIPv4(address) || rest.length > 0 || !/^\d{1,2}$/.test(prefix) || bits > 32) {
      throw new KbpError(ErrorCode.InvalidConfig, `--nodeport-addresses: "${cidr}" is not an IPv4 CIDR`);
    }
    blocks.addSubnet(address, bits, 'ipv4');
  }
  return blocks;
}

/** The addresses of this network namespace's interfaces (loopback excluded) within the CIDRs. */
export function nodePortAddresses(list: string): string[] {
  const blocks = parseCidrs(list);
  return Object.values(networkInterfaces())
    .flatMap((addrs) => addrs ?? [])
    .filter((a) => a.family === 'IPv4' && !a.internal && blocks.check(a.address, 'ipv4'))
    .map((a) => a.address);
}
