// A cgroup (v2) of the test's own, holding only the test's processes: where socket-level programs
// may be attached. Removed again afterwards (its processes are killed first).
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCgroup {
  path: string;
  /** Moves a process (of the test's own) into the cgroup. */
  add(pid: number): void;
  destroy(): void;
}

function cgroup2Mount(): string {
  const line = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[2] === 'cgroup2');
  const mount = line?.split(' ')[1];
  if (!mount) throw new Error('no cgroup v2 hierarchy is mounted: socket-level programs need one');
  return mount;
}

export function createTestCgroup(name: string): TestCgroup {
  const dir = path.join(cgroup2Mount(), name);
  mkdirSync(dir);
  return {
    path: dir,
    add(pid) {
      writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
    },
    destroy() {
      for (const pid of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      // A killed process leaves the cgroup a moment later.
      for (let tries = 0; ; tries++) {
        try {
          rmdirSync(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || tries > 200) throw err;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        }
      }
    },
  };
}
