// The pin directory must be on a BPF filesystem: pins anywhere else fail, and `ip netns exec`, which
// remounts /sys, hides the host's /sys/fs/bpf. Checked before anything is created there.
import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, KbpError } from '../errors.js';
import { run } from '../exec.js';

/** statfs(2) f_type of a BPF filesystem (linux/magic.h). */
const BPF_FS_MAGIC = 0xcafe4a11;

const onBpffs = (dir: string): boolean => statfsSync(dir).type === BPF_FS_MAGIC;

/** The deepest part of `dir` that exists (the root at worst). */
function existingAncestor(dir: string): string {
  let at = path.resolve(dir);
  while (!existsSync(at)) at = path.dirname(at);
  return at;
}

export interface BpffsOptions {
  /** Mount a bpffs at the pin directory's parent when that is not on one (needs CAP_SYS_ADMIN). */
  mount: boolean;
}

/**
 * Makes `pinDir` exist on a bpffs: found there, or (when allowed) on a bpffs mounted at its parent.
 * Otherwise a KBP_NOT_BPFFS error that says what to do. Returns the mount point it created, if any.
 */
export async function ensurePinDir(pinDir: string, options: BpffsOptions): Promise<string | null> {
  const existing = existingAncestor(pinDir);
  let mounted: string | null = null;
  if (!onBpffs(existing)) {
    const parent = path.dirname(path.resolve(pinDir));
    if (!options.mount || existing !== parent) {
      throw new KbpError(
        ErrorCode.NotBpffs,
        `the pin directory ${pinDir} is not on a bpffs (${existing} is not one): mount one (mount -t bpf bpffs ${parent}), ` +
          `pass --mount-bpffs to let the agent mount it at ${parent}, or choose --pin-dir inside a bpffs` +
          ' (inside a network namespace, enter it with nsenter --net=, not ip netns exec, which remounts /sys)',
      );
    }
    await run('mount', ['-t', 'bpf', 'bpffs', parent]);
    mounted = parent;
  }
  mkdirSync(pinDir, { recursive: true });
  return mounted;
}
