// Building and reading Ethernet/IPv4/TCP/UDP/ICMP frames for packet tests, with checksum checks.
import { readIPv4, writeIPv4 } from '../src/dataplane/layout.js';

export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;
const CLIENT_MAC = Buffer.from('02000000000a', 'hex');
const HOST_MAC = Buffer.from('020000000001', 'hex');

export interface FrameSpec {
  proto: 'TCP' | 'UDP';
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  tcpFlags?: number;
  seq?: number;
  ack?: number;
  payload?: Buffer;
  /** Leave the UDP checksum at 0 (no checksum). */
  noUdpChecksum?: boolean;
  /** Ethernet addresses as 12 hex digits (defaults: a client sending to the host). */
  srcMac?: string;
  dstMac?: string;
}

function onesSum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += (buf[buf.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function pseudoSum(saddr: Buffer, daddr: Buffer, proto: number, length: number): number {
  const p = Buffer.alloc(12);
  saddr.copy(p, 0);
  daddr.copy(p, 4);
  p.writeUInt8(proto, 9);
  p.writeUInt16BE(length, 10);
  return onesSum(p);
}

export function checksum(buf: Buffer, initial = 0): number {
  return ~onesSum(buf, initial) & 0xffff;
}

export function buildFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const l4len = (spec.proto === 'TCP' ? 20 : 8) + payload.length;
  const frame = Buffer.alloc(14 + 20 + l4len);
  (spec.dstMac ? Buffer.from(spec.dstMac, 'hex') : HOST_MAC).copy(frame, 0);
  (spec.srcMac ? Buffer.from(spec.srcMac, 'hex') : CLIENT_MAC).copy(frame, 6);
  frame.writeUInt16BE(0x0800, 12);
  const ip = frame.subarray(14, 34);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(20 + l4len, 2);
  ip.writeUInt16BE(0x4000, 6);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(spec.proto === 'TCP' ? 6 : 17, 9);
  writeIPv4(ip, spec.saddr, 12);
  writeIPv4(ip, spec.daddr, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  const l4 = frame.subarray(34);
  l4.writeUInt16BE(spec.sport, 0);
  l4.writeUInt16BE(spec.dport, 2);
  if (spec.proto === 'TCP') {
    l4.writeUInt32BE(spec.seq ?? 1000, 4);
    l4.writeUInt32BE(spec.ack ?? 0, 8);
    l4.writeUInt8(5 << 4, 12);
    l4.writeUInt8(spec.tcpFlags ?? TCP_FLAGS.SYN, 13);
    l4.writeUInt16BE(64240, 14);
    payload.copy(l4, 20);
    l4.writeUInt16BE(checksum(l4, pseudoSum(ip.subarray(12, 16), ip.subarray(16, 20), 6, l4len)), 16);
  } else {
    l4.writeUInt16BE(l4len, 4);
    payload.copy(l4, 8);
    if (!spec.noUdpChecksum) {
      const sum = checksum(l4, pseudoSum(ip.subarray(12, 16), ip.subarray(16, 20), 17, l4len));
      l4.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
    }
  }
  return frame;
}

export interface ParsedFrame {
  srcMac: string;
  dstMac: string;
  proto: number;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  tcpFlags: number;
  seq: number;
  ack: number;
  icmpType: number;
  icmpCode: number;
  /** The datagram quoted by an ICMP error. */
  quoted: Buffer;
  ipChecksumOk: boolean;
  l4ChecksumOk: boolean;
  payload: Buffer;
}

export function parseFrame(frame: Buffer): ParsedFrame {
  const ip = frame.subarray(14);
  const ihl = ((ip[0] ?? 0) & 0xf) * 4;
  const totLen = ip.readUInt16BE(2);
  const proto = ip.readUInt8(9);
  const l4 = ip.subarray(ihl, totLen);
  const out: ParsedFrame = {
    dstMac: frame.subarray(0, 6).toString('hex'),
    srcMac: frame.subarray(6, 12).toString('hex'),
    proto,
    saddr: readIPv4(ip, 12),
    daddr: readIPv4(ip, 16),
    sport: 0,
    dport: 0,
    tcpFlags: 0,
    seq: 0,
    ack: 0,
    icmpType: -1,
    icmpCode: -1,
    quoted: Buffer.alloc(0),
    ipChecksumOk: checksum(ip.subarray(0, ihl)) === 0,
    l4ChecksumOk: false,
    payload: Buffer.alloc(0),
  };
  const pseudo = pseudoSum(ip.subarray(12, 16), ip.subarray(16, 20), proto, l4.length);
  if (proto === 6 || proto === 17) {
    out.sport = l4.readUInt16BE(0);
    out.dport = l4.readUInt16BE(2);
  }
  if (proto === 6) {
    out.seq = l4.readUInt32BE(4);
    out.ack = l4.readUInt32BE(8);
    out.tcpFlags = l4.readUInt8(13);
    out.payload = l4.subarray(((l4[12] ?? 0) >> 4) * 4);
    out.l4ChecksumOk = checksum(l4, pseudo) === 0;
  } else if (proto === 17) {
    out.payload = l4.subarray(8);
    out.l4ChecksumOk = l4.readUInt16BE(6) === 0 || checksum(l4, pseudo) === 0;
  } else if (proto === 1) {
    out.icmpType = l4.readUInt8(0);
    out.icmpCode = l4.readUInt8(1);
    out.quoted = l4.subarray(8);
    out.l4ChecksumOk = checksum(l4) === 0;
  }
  return out;
}
