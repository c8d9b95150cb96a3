// Byte layouts of the BPF map keys and values. Each C struct of bpf/include/types.h is declared here
// once, as its members in order; offsets follow C's layout rules, encode/decode and the TypeScript
// types are derived, and test/unit/layout.test.ts holds every member against the object's BTF.
// Addresses and ports are in network byte order (as in packets); ids, counters and flags in host order.
import { endianness } from 'node:os';
import { ErrorCode, KbpError } from '../errors.js';
import type { Protocol } from '../model/types.js';

const hostLE = endianness() === 'LE';

function writeU16(buf: Buffer, value: number, offset: number): void {
  if (hostLE) buf.writeUInt16LE(value, offset);
  else buf.writeUInt16BE(value, offset);
}
function writeU32(buf: Buffer, value: number, offset: number): void {
  if (hostLE) buf.writeUInt32LE(value, offset);
  else buf.writeUInt32BE(value, offset);
}
function writeU64(buf: Buffer, value: bigint, offset: number): void {
  if (hostLE) buf.writeBigUInt64LE(value, offset);
  else buf.writeBigUInt64BE(value, offset);
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

export const SvcScope = { internal: 0, external: 1, localOrigin: 2 } as const;
export const SvcFlag = { affinity: 1 << 0, dropWhenEmpty: 1 << 1, sourceRanges: 1 << 2, localOrigin: 1 << 3 } as const;
export const BackendFlag = { terminating: 1 << 0, local: 1 << 1 } as const;
export const CtDir = { service: 0, reply: 1, external: 2, externalReply: 3 } as const;
export const CtFlag = { seenReply: 1 << 0, closing: 1 << 1, hairpin: 1 << 2, fin: 1 << 3 } as const;
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
  'ct_midflow',
  'ct_retired',
] as const;
export type StatReason = (typeof STAT_REASONS)[number];

/**
 * Scalar members as the C headers type them: u* in host order, be* in network order, ipv4 a
 * __be32 address shown as dotted text.
 */
const SCALARS = {
  u8: { size: 1, read: (b: Buffer, o: number) => b.readUInt8(o), write: (b: Buffer, v: number, o: number) => b.writeUInt8(v, o) },
  u16: { size: 2, read: readU16, write: writeU16 },
  u32: { size: 4, read: readU32, write: writeU32 },
  u64: { size: 8, read: readU64, write: writeU64 },
  be16: { size: 2, read: (b: Buffer, o: number) => b.readUInt16BE(o), write: (b: Buffer, v: number, o: number) => b.writeUInt16BE(v, o) },
  be32: { size: 4, read: (b: Buffer, o: number) => b.readUInt32BE(o), write: (b: Buffer, v: number, o: number) => b.writeUInt32BE(v, o) },
  ipv4: { size: 4, read: readIPv4, write: (b: Buffer, v: string, o: number) => writeIPv4(b, v, o) },
} as const;
export type Scalar = keyof typeof SCALARS;
type ValueOf<S extends Scalar> = S extends 'u64' ? bigint : S extends 'ipv4' ? string : number;
type Members = Record<string, Scalar>;
type StructValue<M extends Members> = { [K in keyof M]: ValueOf<M[K]> };

export interface Member {
  /** The TypeScript name; the C member is its snake_case form. */
  name: string;
  cName: string;
  type: Scalar;
  offset: number;
  size: number;
}

/** A C struct, declared once: encoding, decoding and single-member reads follow from its members. */
export interface StructLayout<M extends Members> {
  /** The C struct's name. */
  name: string;
  size: number;
  members: readonly Member[];
  encode(value: StructValue<M>): Buffer;
  decode(buf: Buffer, offset?: number): StructValue<M>;
  read<K extends keyof M & string>(buf: Buffer, member: K, offset?: number): ValueOf<M[K]>;
}

/** The members in order, laid out as C does: each at a multiple of its size, the whole padded to the largest. */
function struct<M extends Members>(name: string, members: M): StructLayout<M> {
  const laid: Member[] = [];
  let end = 0;
  let align = 1;
  for (const [member, type] of Object.entries(members)) {
    const size = SCALARS[type].size;
    const offset = Math.ceil(end / size) * size;
    laid.push({ name: member, cName: member.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), type, offset, size });
    end = offset + size;
    align = Math.max(align, size);
  }
  const size = Math.ceil(end / align) * align;
  const byName = Object.fromEntries(laid.map((m) => [m.name, m])) as { [K in keyof M]: Member };
  // The members' types vary per member; each scalar reads and writes its own kind of value.
  const scalar = (m: Member) => SCALARS[m.type] as unknown as { read(b: Buffer, o: number): unknown; write(b: Buffer, v: unknown, o: number): void };
  return {
    name,
    size,
    members: laid,
    encode: (value) => {
      const buf = Buffer.alloc(size);
      for (const m of laid) scalar(m).write(buf, value[m.name], m.offset);
      return buf;
    },
    decode: (buf, offset = 0) => Object.fromEntries(laid.map((m) => [m.name, scalar(m).read(buf, offset + m.offset)])) as StructValue<M>,
    read: (buf, member, offset = 0) => scalar(byName[member]).read(buf, offset + byName[member].offset) as ValueOf<M[typeof member]>,
  };
}

export const svcKeyV4 = struct('svc_key_v4', { vip: 'ipv4', port: 'be16', proto: 'u8', scope: 'u8' });
export type SvcKey = ReturnType<typeof svcKeyV4.decode>;

export const svcValV4 = struct('svc_val_v4', { svcId: 'u32', revnatId: 'u32', lbSize: 'u32', backendCount: 'u16', flags: 'u16', affinityTimeout: 'u32' });
export type SvcValue = ReturnType<typeof svcValV4.decode>;

export const backendV4 = struct('backend_v4', { ip: 'ipv4', port: 'be16', proto: 'u8', flags: 'u8' });
export type BackendValue = ReturnType<typeof backendV4.decode>;

export const revnatV4 = struct('revnat_v4', { vip: 'ipv4', port: 'be16' });
export type RevnatValue = ReturnType<typeof revnatV4.decode>;

export const ctKeyV4 = struct('ct_key_v4', { saddr: 'ipv4', daddr: 'ipv4', sport: 'be16', dport: 'be16', proto: 'u8', dir: 'u8' });
export type CtKey = ReturnType<typeof ctKeyV4.decode>;

export const ctEntryV4 = struct('ct_entry_v4', {
  expiresNs: 'u64',
  packets: 'u64',
  bytes: 'u64',
  backendId: 'u32',
  revnatId: 'u32',
  svcId: 'u32',
  clientIp: 'ipv4',
  flags: 'u16',
  clientPort: 'be16',
  natPort: 'be16',
});
export type CtEntry = ReturnType<typeof ctEntryV4.decode>;

/** The LPM key of a loadBalancerSourceRanges entry: prefixlen counts svc_id's 32 bits, svc_id is big-endian so it is a prefix. */
export const srcRangeKeyV4 = struct('src_range_key_v4', { prefixlen: 'u32', svcId: 'be32', addr: 'ipv4' });

/** A loadBalancerSourceRanges entry of one service. */
export interface SourceRangeKey {
  svcId: number;
  address: string;
  prefixLength: number;
}
export function encodeSourceRangeKey(k: SourceRangeKey): Buffer {
  return srcRangeKeyV4.encode({ prefixlen: 32 + k.prefixLength, svcId: k.svcId, addr: k.address });
}
export function decodeSourceRangeKey(b: Buffer): SourceRangeKey {
  const k = srcRangeKeyV4.decode(b);
  return { svcId: k.svcId, address: k.addr, prefixLength: k.prefixlen - 32 };
}

export const statVal = struct('stat_val', { packets: 'u64', bytes: 'u64' });

/** Every struct the agent reads or writes, for the layout test. */
export const STRUCTS = [svcKeyV4, svcValV4, backendV4, revnatV4, ctKeyV4, ctEntryV4, srcRangeKeyV4, statVal] as const;

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

/** Sums a PERCPU_ARRAY value of struct stat_val over all CPUs. */
export function sumStatValue(perCpu: Buffer, cpus: number): { packets: bigint; bytes: bigint } {
  let packets = 0n;
  let bytes = 0n;
  for (let cpu = 0; cpu < cpus; cpu++) {
    const v = statVal.decode(perCpu, cpu * statVal.size);
    packets += v.packets;
    bytes += v.bytes;
  }
  return { packets, bytes };
}
