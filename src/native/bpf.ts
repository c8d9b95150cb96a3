// The whole native surface of the addon (native/), declared in one place.
// The addon is a thin layer over libbpf: it loads, pins, attaches, reads and writes maps and test-runs
// programs. Policy (what to write where, in which order) lives in src/dataplane.
//
// Errors: every failure is thrown as a BpfError: an Error with `code` (the errno name, e.g. 'ENOENT'),
// `errno` (the positive number), `syscall` (the libbpf/kernel call that failed) and a message that
// names the object (map, program, interface) involved.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ErrorCode, KbpError } from '../errors.js';

export interface BpfError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export function isBpfError(err: unknown): err is BpfError {
  return err instanceof Error && typeof (err as Partial<BpfError>).code === 'string' && typeof (err as Partial<BpfError>).errno === 'number';
}

/** Kernel map types the project uses (values of enum bpf_map_type). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  HASH_OF_MAPS: 13,
} as const;

/** Flags for BpfMap.update (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
export const UpdateFlag = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

export interface MapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  id: number;
}

/**
 * An open BPF map. It owns one file descriptor, closed by close() (or when garbage collected).
 * For per-CPU maps, values are `valueSize rounded up to 8` × possibleCpus() bytes.
 */
export interface BpfMap {
  readonly fd: number;
  readonly info: MapInfo;
  /** The value for key, or null when the key is absent. */
  lookup(key: Buffer): Buffer | null;
  update(key: Buffer, value: Buffer, flags?: number): void;
  /** Returns false when the key was absent. */
  delete(key: Buffer): boolean;
  /** All keys, by get_next_key iteration. */
  keys(): Buffer[];
  /** Every entry, read in batches (BPF_MAP_LOOKUP_BATCH): keys and values packed back to back. */
  entries(): { keys: Buffer; values: Buffer; count: number };
  /**
   * Writes `count` entries whose keys and values are packed back to back (BPF_MAP_UPDATE_BATCH). For a
   * map of maps the values are inner map fds (u32), and the kernel waits for readers once per batch.
   */
  updateBatch(keys: Buffer, values: Buffer, count: number, flags?: number): void;
  /**
   * Deletes `count` keys packed back to back (BPF_MAP_DELETE_BATCH); every key must exist (ENOENT
   * otherwise). For a map of maps this waits for readers once per batch instead of once per key.
   */
  deleteBatch(keys: Buffer, count: number): void;
  /**
   * For an ARRAY made with BPF_F_MMAPABLE: all values at once through a shared mapping, each element
   * taking round_up(valueSize, 8) bytes. Far cheaper than element updates for a whole table.
   */
  writeMapped(data: Buffer): void;
  readMapped(): Buffer;
  /** Rewrites single u32 elements in place (packed u32 slot indices and values), each store atomic. */
  patchMapped(slots: Buffer, values: Buffer): void;
  /** For a map of maps: stores `inner` (by its fd) under key, replacing any previous inner map atomically. */
  setInner(key: Buffer, inner: BpfMap): void;
  /** For a map of maps: the kernel id of the inner map under key, or null. */
  innerId(key: Buffer): number | null;
  close(): void;
}

export interface BpfProgram {
  readonly name: string;
  readonly fd: number;
  /** The section name, e.g. "tc" or "xdp". */
  readonly section: string;
}

export interface TestRunResult {
  /** The program's return code (TC_ACT_*, XDP_*). */
  retval: number;
  /** The packet as the program left it. */
  data: Buffer;
  /** Average run time per repetition, in nanoseconds, as the kernel measured it. */
  durationNs: number;
}

export interface LoadOptions {
  /** Directory in bpffs where maps marked for pinning are pinned, and from which already pinned maps are reused. */
  pinRoot: string;
  /** Values for `const volatile` globals in .rodata, by name: each a Buffer of the variable's exact size. */
  rodata?: Record<string, Buffer>;
}

export interface BpfObject {
  readonly path: string;
  programs(): BpfProgram[];
  program(name: string): BpfProgram;
  /** A new handle (own fd, dup'ed) on one of the object's maps. */
  map(name: string): BpfMap;
  mapNames(): string[];
  close(): void;
}

export type TcDirection = 'ingress' | 'egress';
export type CgroupHook = 'connect4' | 'sendmsg4' | 'recvmsg4' | 'getpeername4';

export interface AttachTarget {
  /** Interface name, resolved inside `netns` (or the caller's namespace when absent). */
  ifname: string;
  /** Path of a network namespace file (e.g. /run/netns/NAME); the call enters it only for the duration of the call. */
  netns?: string;
}

export interface NativeAddon {
  /** Opens, loads (verifier) and pins a BPF ELF object. Reuses compatible maps already pinned in pinRoot. */
  load(objectPath: string, options: LoadOptions): Promise<BpfObject>;
  /** Creates a standalone map, e.g. an inner map for a map of maps (with the template's flags). */
  createMap(spec: { name: string; type: number; keySize: number; valueSize: number; maxEntries: number; flags?: number }): BpfMap;
  /** Opens a map by its pinned path. */
  openPinnedMap(pinPath: string): BpfMap;
  /** Opens a map by its kernel id (e.g. an inner map found with BpfMap.innerId). */
  mapFromId(id: number): BpfMap;
  /** Creates the clsact qdisc if absent and attaches prog at (ifname, direction), replacing our previous filter in place. */
  tcAttach(target: AttachTarget, direction: TcDirection, program: BpfProgram): void;
  /** Removes our filter from (ifname, direction); returns false when there was none. */
  tcDetach(target: AttachTarget, direction: TcDirection): boolean;
  /** The id of the program attached by us at (ifname, direction), or null. */
  tcQuery(target: AttachTarget, direction: TcDirection): number | null;
  /** Attaches an XDP program (driver mode when the device supports it, otherwise generic), replacing any previous one. */
  xdpAttach(target: AttachTarget, program: BpfProgram): void;
  xdpDetach(target: AttachTarget): boolean;
  /** Attaches a socket-address program to a cgroup (v2) directory at `hook`, replacing ours there. */
  cgroupAttach(cgroupPath: string, program: BpfProgram, hook: CgroupHook): void;
  /** Removes the program at `hook` of the cgroup; returns false when there was none. */
  cgroupDetach(cgroupPath: string, hook: CgroupHook): boolean;
  /**
   * BPF_PROG_TEST_RUN: runs the program `repeat` times on `packet` (an Ethernet frame), inside `netns`
   * when given (its FIB answers the program's lookups); an XDP program may be given `ifname` as the
   * interface it receives on.
   */
  testRun(program: BpfProgram, packet: Buffer, repeat: number, options?: { netns?: string; ifname?: string }): Promise<TestRunResult>;
  /** The cookie of the caller's network namespace, as bpf_get_netns_cookie() returns it. */
  netnsCookie(): bigint;
  /** Number of possible CPUs: the multiplier of per-CPU map values. */
  possibleCpus(): number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root: this file is dist/src/native/bpf.js after the build. */
export const repoRoot = path.resolve(here, '..', '..', '..');

let addon: NativeAddon | undefined;

/** Loads the compiled addon once; throws with a build hint when it is missing. */
export function native(): NativeAddon {
  if (addon) return addon;
  const file = path.join(repoRoot, 'native', 'build', 'Release', 'kbp_native.node');
  if (!existsSync(file)) {
    throw new KbpError(ErrorCode.AddonMissing, `native addon not built: ${file} is missing (run "npm run build")`);
  }
  addon = createRequire(import.meta.url)(file) as NativeAddon;
  return addon;
}
