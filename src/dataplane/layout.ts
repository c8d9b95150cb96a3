// Byte layouts of the BPF map keys and values, mirroring bpf/include/types.h field by field.
// Addresses and ports are in network byte order (as in packets); ids, counters and flags in host order.
import { endianness } from 'node:os';
import type { Protocol } from '../compile/types.js';
import { ErrorCode, KbpError } from '../errors.js';

const hostLE = endianness() === 'LE';

function writeU16(buf: Buffer, value: number, offset: number): void {
  if (hostLE) buf.writeUInt16LE(value, offset);
  else buf.writeUInt16BE(value, offset);
}
function writeU32(buf: Buffer, value: number, offset: number): void {
  if (hostLE) buf.writeUInt32LE(value, offset);
  else buf.writeUInt32BE(value, offset);
}
function readU16(buf: Buffer, offset: number): number {
  return hostLE ? buf.readUInt16LE(offset) : buf.readUInt16BE(offset);
}
function readU32(buf: Buffer, offset: number): number {
  return hostLE ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
}
function readU64(buf: Buffer, offset: number): bigint {
  return hostLE ? buf.readBigUInt64LE(offset) : buf.readBigUInt64BE(offset);
}

export function writeIPv4(buf: Buffer, address: string, offset: number): void {
  const parts = address.split('.');
  if (parts.length !== 4) throw new KbpError(ErrorCode.InvalidAddress, `not an IPv4 address: ${address}`);
  parts.forEach((p, i) => buf.writeUInt8(Number(p), offset + i));
}
export function readIPv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

export const IPPROTO: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const protocolByNumber = new Map(Object.entries(IPPROTO).map(([name, n]) => [n, name as Protocol]));
export function protocolName(n: number): Protocol | `proto-${number}` {
  return protocolByNumber.get(n) ?? `proto-${n}`;
}

export const SvcScope = { internal: 0, external: 1 } as const;
export const SvcFlag = { affinity: 1 << 0, localOnly: 1 << 1, sourceRanges: 1 << 2 } as const;
export const BackendFlag = { terminating: 1 << 0, local: 1 << 1 } as const;
export const CtDir = { service: 0, reply: 1, external: 2, externalReply: 3 } as const;
export const CtFlag = { seenReply: 1 << 0, closing: 1 << 1, hairpin: 1 << 2 } as const;
/** Inner Maglev maps may each have their own size (BPF_F_INNER_MAP) and are written through mmap. */
export const BPF_F_INNER_MAP = 0x1000;
export const BPF_F_MMAPABLE = 0x400;
export const MAGLEV_TABLE_FLAGS = BPF_F_INNER_MAP | BPF_F_MMAPABLE;

/** enum stat_reason, in order. */
export const STAT_REASONS = [
  'pass',
  'ct_new',
  'ct_hit',
  'revnat',
  'hairpin',
  'affinity_hit',
  'reject_no_backend',
  'drop_no_backend',
  'drop_malformed',
  'drop_no_slot',
  'drop_no_backend_entry',
  'drop_ct_full',
  'drop_rewrite',
  'external_local',
  'external_remote',
  'external_reply',
  'drop_no_local_backend',
  'drop_source_range',
  'drop_nat_ports',
  'drop_no_route',
  'sock_translated',
] as const;
export type StatReason = (typeof STAT_REASONS)[number];

/** Byte sizes of each C struct; checked against the object's BTF by a test. */
export const SIZES = {
  svc_key_v4: 8,
  svc_val_v4: 20,
  backend_v4: 8,
  revnat_v4: 8,
  ct_key_v4: 16,
  ct_entry_v4: 48,
  affinity_key_v4: 8,
  affinity_val: 16,
  stat_val: 16,
  src_range_key_v4: 12,
} as const;

export interface SvcKey {
  vip: string;
  port: number;
  proto: number;
  scope: number;
}
export function encodeSvcKey(k: SvcKey): Buffer {
  const b = Buffer.alloc(SIZES.svc_key_v4);
  writeIPv4(b, k.vip, 0);
  b.writeUInt16BE(k.port, 4);
  b.writeUInt8(k.proto, 6);
  b.writeUInt8(k.scope, 7);
  return b;
}
export function decodeSvcKey(b: Buffer): SvcKey {
  return { vip: readIPv4(b, 0), port: b.readUInt16BE(4), proto: b.readUInt8(6), scope: b.readUInt8(7) };
}

export interface SvcValue {
  svcId: number;
  revnatId: number;
  lbSize: number;
  backendCount: number;
  flags: number;
  affinityTimeout: number;
}
export function encodeSvcValue(v: SvcValue): Buffer {
  const b = Buffer.alloc(SIZES.svc_val_v4);
  writeU32(b, v.svcId, 0);
  writeU32(b, v.revnatId, 4);
  writeU32(b, v.lbSize, 8);
  writeU16(b, v.backendCount, 12);
  writeU16(b, v.flags, 14);
  writeU32(b, v.affinityTimeout, 16);
  return b;
}
export function decodeSvcValue(b: Buffer): SvcValue {
  return {
    svcId: readU32(b, 0),
    revnatId: readU32(b, 4),
    lbSize: readU32(b, 8),
    backendCount: readU16(b, 12),
    flags: readU16(b, 14),
    affinityTimeout: readU32(b, 16),
  };
}

export interface BackendValue {
  ip: string;
  port: number;
  proto: number;
  flags: number;
}
export function encodeBackend(v: BackendValue): Buffer {
  const b = Buffer.alloc(SIZES.backend_v4);
  writeIPv4(b, v.ip, 0);
  b.writeUInt16BE(v.port, 4);
  b.writeUInt8(v.proto, 6);
  b.writeUInt8(v.flags, 7);
  return b;
}
export function decodeBackend(b: Buffer): BackendValue {
  return { ip: readIPv4(b, 0), port: b.readUInt16BE(4), proto: b.readUInt8(6), flags: b.readUInt8(7) };
}

export interface RevnatValue {
  vip: string;
  port: number;
}
export function encodeRevnat(v: RevnatValue): Buffer {
  const b = Buffer.alloc(SIZES.revnat_v4);
  writeIPv4(b, v.vip, 0);
  b.writeUInt16BE(v.port, 4);
  return b;
}
export function decodeRevnat(b: Buffer): RevnatValue {
  return { vip: readIPv4(b, 0), port: b.readUInt16BE(4) };
}

/** A u32 map key or array value in host order (ids, slots). */
export function encodeU32(n: number): Buffer {
  const b = Buffer.alloc(4);
  writeU32(b, n, 0);
  return b;
}
export function decodeU32(b: Buffer, offset = 0): number {
  return readU32(b, offset);
}

/** A Maglev table (backend ids by slot) as its mmapable array holds it: 8 bytes per u32 element. */
const TABLE_STRIDE = 8;
export function encodeTable(backendIds: Uint32Array): Buffer {
  const out = Buffer.alloc(backendIds.length * TABLE_STRIDE);
  for (let slot = 0; slot < backendIds.length; slot++) writeU32(out, backendIds[slot] ?? 0, slot * TABLE_STRIDE);
  return out;
}
export function decodeTable(mapped: Buffer): Uint32Array {
  const table = new Uint32Array(mapped.length / TABLE_STRIDE);
  for (let slot = 0; slot < table.length; slot++) table[slot] = readU32(mapped, slot * TABLE_STRIDE);
  return table;
}

export interface CtKey {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  proto: number;
  dir: number;
}
export function decodeCtKey(b: Buffer): CtKey {
  return {
    saddr: readIPv4(b, 0),
    daddr: readIPv4(b, 4),
    sport: b.readUInt16BE(8),
    dport: b.readUInt16BE(10),
    proto: b.readUInt8(12),
    dir: b.readUInt8(13),
  };
}
export function encodeCtKey(k: CtKey): Buffer {
  const b = Buffer.alloc(SIZES.ct_key_v4);
  writeIPv4(b, k.saddr, 0);
  writeIPv4(b, k.daddr, 4);
  b.writeUInt16BE(k.sport, 8);
  b.writeUInt16BE(k.dport, 10);
  b.writeUInt8(k.proto, 12);
  b.writeUInt8(k.dir, 13);
  return b;
}

export interface CtEntry {
  expiresNs: bigint;
  packets: bigint;
  bytes: bigint;
  backendId: number;
  revnatId: number;
  svcId: number;
  clientIp: string;
  flags: number;
  clientPort: number;
  natPort: number;
}
export function decodeCtEntry(b: Buffer): CtEntry {
  return {
    expiresNs: readU64(b, 0),
    packets: readU64(b, 8),
    bytes: readU64(b, 16),
    backendId: readU32(b, 24),
    revnatId: readU32(b, 28),
    svcId: readU32(b, 32),
    clientIp: readIPv4(b, 36),
    flags: readU16(b, 40),
    clientPort: b.readUInt16BE(42),
    natPort: b.readUInt16BE(44),
  };
}

/** A loadBalancerSourceRanges entry: the LPM key (svc_id, then the address, as one prefix). */
export interface SourceRangeKey {
  svcId: number;
  address: string;
  prefixLength: number;
}
export function encodeSourceRangeKey(k: SourceRangeKey): Buffer {
  const b = Buffer.alloc(SIZES.src_range_key_v4);
  writeU32(b, 32 + k.prefixLength, 0);
  b.writeUInt32BE(k.svcId, 4);
  writeIPv4(b, k.address, 8);
  return b;
}
export function decodeSourceRangeKey(b: Buffer): SourceRangeKey {
  return { prefixLength: readU32(b, 0) - 32, svcId: b.readUInt32BE(4), address: readIPv4(b, 8) };
}

/** Sums a PERCPU_ARRAY value of struct stat_val over all CPUs. */
export function sumStatValue(perCpu: Buffer, cpus: number): { packets: bigint; bytes: bigint } {
  let packets = 0n;
  let bytes = 0n;
  for (let cpu = 0; cpu < cpus; cpu++) {
    packets += readU64(perCpu, cpu * SIZES.stat_val);
    bytes += readU64(perCpu, cpu * SIZES.stat_val + 8);
  }
  return { packets, bytes };
}
