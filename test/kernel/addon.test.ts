// The native addon against the real kernel: map I/O, map-in-map swaps, pin reuse, errors with codes,
// and attachment inside a network namespace the test makes (never the machine's own).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MapType, UpdateFlag, native, repoRoot, type BpfObject } from '../../src/native/bpf.js';
import { MAGLEV_TABLE_FLAGS, decodeTable, encodeTable, encodeU32, decodeU32 } from '../../src/dataplane/layout.js';
import { loadDatapath, Programs, SocketPrograms } from '../../src/dataplane/loader.js';
import { HAIRPIN_ADDRESS, ensureBpffs, removePinDir, uniquePinDir } from '../helpers/datapath.js';
import { ifSet } from '../helpers/types.js';

const u32 = encodeU32;

describe('native addon', () => {
  const pinDir = uniquePinDir('addon');
  let obj: BpfObject;

  before(async () => {
    ensureBpffs();
    obj = await loadDatapath({ pinDir, hairpinAddress: HAIRPIN_ADDRESS });
  });
  after(() => {
    ifSet(obj)?.close();
    removePinDir(pinDir);
  });

  test('an object lists its programs and maps', () => {
    const sections = new Map<string, string>([
      ...Object.values(Programs).map((name): [string, string] => [name, name === Programs.fromWorld ? 'xdp' : 'tc']),
      ...Object.entries(SocketPrograms).map(([hook, name]): [string, string] => [name, `cgroup/${hook}`]),
    ]);
    assert.deepEqual(
      obj
        .programs()
        .map((p) => p.name)
        .sort(),
      [...sections.keys()].sort(),
    );
    assert.ok(obj.programs().every((p) => p.fd > 0 && p.section === sections.get(p.name)));
    assert.ok(obj.mapNames().includes('svc_v4'));
    assert.equal(obj.map('backends_v4').info.keySize, 4);
  });

  test('map update, lookup, delete, keys, entries and batches', () => {
    const m = native().createMap({ name: 'kbp_test', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 64 });
    try {
      m.update(u32(1), Buffer.from('aaaaaaaa'));
      assert.deepEqual(m.lookup(u32(1)), Buffer.from('aaaaaaaa'));
      assert.equal(m.lookup(u32(2)), null);
      m.updateBatch(Buffer.concat([u32(2), u32(3)]), Buffer.from('bbbbbbbbcccccccc'), 2);
      assert.deepEqual(
        m
          .keys()
          .map((k) => decodeU32(k))
          .sort(),
        [1, 2, 3],
      );
      const all = m.entries();
      assert.equal(all.count, 3);
      assert.equal(all.values.length, 24);
      assert.equal(m.delete(u32(1)), true);
      assert.equal(m.delete(u32(1)), false);
      m.deleteBatch(Buffer.concat([u32(2), u32(3)]), 2);
      assert.equal(m.entries().count, 0);
    } finally {
      m.close();
    }
  });

  test('per-CPU values hold one slot per possible CPU', () => {
    const stats = obj.map('stats');
    assert.equal(stats.lookup(u32(0))?.length, 16 * native().possibleCpus());
  });

  test('inner maps of different sizes are swapped into a map of maps and found again by id', () => {
    const outer = obj.map('maglev_v4');
    for (const size of [251, 509]) {
      const inner = native().createMap({ name: 'kbp_inner', type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: size, flags: MAGLEV_TABLE_FLAGS });
      const table = Uint32Array.from({ length: size }, (_, i) => i * 3);
      table[size - 1] = 7;
      inner.writeMapped(encodeTable(table));
      assert.deepEqual(decodeTable(inner.readMapped()), table, 'read back through the mapping');
      outer.setInner(u32(999), inner);
      inner.close();
      const id = outer.innerId(u32(999));
      assert.ok(id !== null);
      const back = native().mapFromId(id);
      assert.equal(back.info.maxEntries, size);
      assert.deepEqual(back.lookup(u32(size - 1)), u32(7), 'what was written through the mapping is what the kernel reads');
      assert.deepEqual(back.lookup(u32(2)), u32(6));
      back.close();
    }
    assert.equal(outer.delete(u32(999)), true);
    assert.equal(outer.innerId(u32(999)), null);
  });

  test('loading again with the same pin directory reuses the pinned maps', async () => {
    obj.map('revnat_v4').update(u32(42), Buffer.alloc(8, 1));
    const again = await loadDatapath({ pinDir, hairpinAddress: HAIRPIN_ADDRESS });
    try {
      assert.deepEqual(again.map('revnat_v4').lookup(u32(42)), Buffer.alloc(8, 1));
    } finally {
      again.close();
    }
  });

  test('an upgrade replaces pinned counters of an older layout, and refuses to guess for service state', async () => {
    const dir = uniquePinDir('upgrade');
    ensureBpffs();
    execFileSync('mkdir', ['-p', dir]);
    // Maps as an earlier version would have pinned them: fewer counters; a backend value of another size.
    const pinOld = (name: string, spec: { type: number; keySize: number; valueSize: number; maxEntries: number; flags?: number }) => {
      const m = native().createMap({ name, ...spec });
      try {
        execFileSync('bpftool', ['map', 'pin', 'id', String(m.info.id), path.join(dir, name)]);
      } finally {
        m.close();
      }
    };
    try {
      pinOld('stats', { type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 16, maxEntries: 13 });
      const replaced: string[] = [];
      const upgraded = await loadDatapath({ pinDir: dir, hairpinAddress: HAIRPIN_ADDRESS, onReplacedPin: (m) => replaced.push(m) });
      try {
        assert.deepEqual(replaced, ['stats']);
        assert.equal(upgraded.map('stats').info.maxEntries, native().openPinnedMap(path.join(dir, 'stats')).info.maxEntries);
        assert.ok(upgraded.map('stats').info.maxEntries > 13);
      } finally {
        upgraded.close();
      }
      execFileSync('rm', ['-f', path.join(dir, 'backends_v4')]);
      pinOld('backends_v4', { type: MapType.HASH, keySize: 4, valueSize: 16, maxEntries: 1024, flags: 1 });
      await assert.rejects(loadDatapath({ pinDir: dir, hairpinAddress: HAIRPIN_ADDRESS }), { code: 'KBP_INCOMPATIBLE_PINS', message: /backends_v4 .*remove/ });
    } finally {
      removePinDir(dir);
    }
  });

  test('failures are errors with an errno code, the errno, the call and the object', async () => {
    const svc = obj.map('svc_v4');
    assert.throws(() => svc.lookup(Buffer.alloc(3)), { code: 'EINVAL', syscall: 'lookup', message: /map "svc_v4".*3 bytes, expected 8/ });
    const revnat = obj.map('revnat_v4');
    revnat.update(u32(77), Buffer.alloc(8));
    assert.throws(() => revnat.update(u32(77), Buffer.alloc(8), UpdateFlag.NOEXIST), {
      code: 'EEXIST',
      errno: 17,
      syscall: 'bpf_map_update_elem',
      message: /map "revnat_v4"/,
    });
    assert.throws(() => native().openPinnedMap(path.join(pinDir, 'no_such_map')), { code: 'ENOENT', syscall: 'bpf_obj_get' });
    assert.throws(() => obj.program('no_such_program'), { code: 'ENOENT' });
    assert.throws(() => native().tcAttach({ ifname: 'kbp-no-such0' }, 'ingress', obj.program(Programs.fromPod)), { code: 'ENODEV', message: /kbp-no-such0/ });
    await assert.rejects(native().load(path.join(repoRoot, 'bpf', 'build', 'missing.bpf.o'), { pinRoot: pinDir }), { code: 'ENOENT' });
    await assert.rejects(loadDatapath({ pinDir, hairpinAddress: HAIRPIN_ADDRESS, objectPath: path.join(repoRoot, 'bpf', 'build', 'baseline.bpf.o') }), {
      code: 'ENOENT',
      syscall: 'rodata',
    });
  });

  describe('attachment inside a network namespace', () => {
    const ns = `kbp-addon-${process.pid}-${randomBytes(2).toString('hex')}`;
    const target = { ifname: 'veth0', netns: `/run/netns/${ns}` };
    const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });

    before(() => {
      execFileSync('ip', ['netns', 'add', ns]);
      inNs('ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1');
      inNs('ip', 'link', 'set', 'veth0', 'up');
      inNs('ip', 'link', 'set', 'veth1', 'up');
    });
    after(() => {
      execFileSync('ip', ['netns', 'del', ns]);
    });

    test('tc: attach, query, replace in place, detach', () => {
      const from = obj.program(Programs.fromPod);
      const to = obj.program(Programs.toPod);
      assert.equal(native().tcQuery(target, 'ingress'), null);
      native().tcAttach(target, 'ingress', from);
      native().tcAttach(target, 'egress', to);
      const first = native().tcQuery(target, 'ingress');
      assert.ok(first !== null && first > 0);
      native().tcAttach(target, 'ingress', to);
      assert.notEqual(native().tcQuery(target, 'ingress'), first, 'replaced by the other program');
      assert.equal(inNs('tc', 'filter', 'show', 'dev', 'veth0', 'ingress').match(/handle 0x/g)?.length, 1, 'still one filter');
      assert.equal(native().tcDetach(target, 'ingress'), true);
      assert.equal(native().tcDetach(target, 'ingress'), false);
      assert.equal(native().tcQuery(target, 'ingress'), null);
      assert.equal(native().tcDetach(target, 'egress'), true);
    });

    test('xdp: attach and detach', async () => {
      const xdpPins = uniquePinDir('addon-xdp');
      const xdp = await native().load(path.join(repoRoot, 'bpf', 'build', 'baseline.bpf.o'), { pinRoot: xdpPins });
      try {
        native().xdpAttach(target, xdp.program('kbp_baseline_xdp'));
        assert.match(inNs('ip', 'link', 'show', 'veth0'), /xdp/);
        assert.equal(native().xdpDetach(target), true);
        assert.doesNotMatch(inNs('ip', 'link', 'show', 'veth0'), /xdp/);
        assert.equal(native().xdpDetach(target), false);
      } finally {
        xdp.close();
        removePinDir(xdpPins);
      }
    });
  });
});
