// The agent's start where a new user gets it wrong: a pin directory that is not on a bpffs, and no
// node name given. Each agent runs in network and mount namespaces of its own (unshare): nothing it
// mounts or pins outlives it, and it sees no interface of the machine.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agentCommand } from '../../harness/processes.js';

interface Run {
  code: number | null;
  ms: number;
  logs: { msg?: string; err?: { message?: string; code?: string }; node?: string; mountPoint?: string }[];
}

/** Starts the agent in fresh namespaces; resolves when it exits or, with `untilReady`, when it is ready (then inspects and stops it). */
async function runAgent(args: string[], untilReady?: (pid: number) => void): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, KBP_LOG_LEVEL: 'info' };
  delete env.NODE_NAME;
  const child = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', ...agentCommand(args)], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    env,
  });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const started = performance.now();
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  if (untilReady) {
    const ready = new Promise<void>((resolve) => child.on('message', (m: { ready?: boolean }) => m.ready && resolve()));
    await Promise.race([ready, exited]);
    if (child.exitCode === null && child.pid !== undefined) {
      untilReady(child.pid);
      child.kill('SIGTERM');
    }
  }
  const [code] = await exited;
  clearTimeout(killer);
  const logs = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Run['logs'][number]);
  return { code, ms: performance.now() - started, logs };
}

describe('agent start', { timeout: 60_000 }, () => {
  let dir = '';
  let manifests = '';
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kbp-start-'));
    manifests = path.join(dir, 'manifests');
    mkdirSync(manifests);
    writeFileSync(path.join(manifests, 'none.yaml'), '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a pin directory that is not on a bpffs: exits within 2 s with an error that says what to do', async () => {
    const run = await runAgent(['--manifests', manifests, '--pin-dir', path.join(dir, 'pins')]);
    assert.equal(run.code, 1);
    assert.ok(run.ms < 2000, `exited after ${Math.round(run.ms)} ms`);
    const fatal = run.logs.find((l) => l.msg === 'agent failed to start');
    assert.equal(fatal?.err?.code, 'KBP_NOT_BPFFS');
    assert.match(fatal.err.message ?? '', /is not on a bpffs.*--mount-bpffs/);
  });

  test('with --mount-bpffs it mounts one at the parent and starts; no node name given: the host name', async () => {
    const parent = path.join(dir, 'bpf');
    mkdirSync(parent);
    let fsType = '';
    const run = await runAgent(['--manifests', manifests, '--pin-dir', path.join(parent, 'pins'), '--mount-bpffs', '--admin-address', ''], (pid) => {
      // Seen from the agent's own mount namespace, where the mount lives.
      fsType = execFileSync('nsenter', [`--mount=/proc/${pid}/ns/mnt`, 'stat', '-f', '-c', '%T', path.join(parent, 'pins')], { encoding: 'utf8' }).trim();
    });
    assert.equal(run.code, 0);
    assert.equal(fsType, 'bpf_fs');
    assert.equal(run.logs.find((l) => l.msg === 'mounted a bpffs for the pins')?.mountPoint, parent);
    assert.equal(run.logs.find((l) => l.msg === 'agent ready')?.node, hostname().trim().toLowerCase());
  });
});
