// CIDR strings ("address/prefix"), as Service specs carry them (loadBalancerSourceRanges).
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  address: string;
  prefixLength: number;
  family: 4 | 6;
}

/** The parts of "address/prefix", or null when it is not a CIDR of IPv4 or IPv6. */
export function parseCidr(s: string): Cidr | null {
  const [address = '', prefix = '', ...rest] = s.split('/');
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : null;
  if (family === null || rest.length > 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) return null;
  return { address, prefixLength: Number(prefix), family };
}

/** Whether the IPv4 CIDR holds the IPv4 address (false for anything that is not both IPv4). */
export function cidrContains(cidr: string, address: string): boolean {
  const parsed = parseCidr(cidr);
  if (parsed?.family !== 4 || !isIPv4(address)) return false;
  const blocks = new BlockList();
  blocks.addSubnet(parsed.address, parsed.prefixLength, 'ipv4');
  return blocks.check(address, 'ipv4');
}
