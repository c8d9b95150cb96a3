// Maglev tables in the kernel: a same-size table is patched in place (no map swap), any other size
// is swapped in whole; either way the kernel's table is the one asked for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeU32 } from '../../src/dataplane/layout.js';
import { KernelServiceMaps, openServiceMaps } from '../../src/dataplane/kernel-maps.js';
import { native } from '../../src/native/bpf.js';
import { loadTestDatapath, removePinDir, uniquePinDir, type LoadedDatapath } from '../helpers/datapath.js';
import { lbService } from '../../harness/services.js';
import { ifSet } from '../helpers/types.js';

const pinDir = uniquePinDir('tables');
let dp: LoadedDatapath;

before(async () => {
  dp = await loadTestDatapath(pinDir);
});
after(() => {
  ifSet(dp)?.close();
  removePinDir(pinDir);
});

const web = (backends: number[]) =>
  lbService(
    'ns/web:http',
    [{ address: '10.96.0.10', port: 80, protocol: 'TCP' }],
    backends.map((i) => ({ address: `10.244.1.${i}`, port: 8080 })),
  );

test('one backend replaced: the same inner map, patched; grown past the table size: a fresh map', () => {
  const maglev = dp.obj.map('maglev_v4');
  const innerOf = (svcId: number) => maglev.innerId(encodeU32(svcId));
  try {
    dp.reconciler.sync([web([1, 2, 3])]);
    const svcId = [...dp.reconciler.state.frontends.values()][0]?.value.svcId ?? 0;
    const first = innerOf(svcId);
    assert.ok(first !== null);

    dp.reconciler.sync([web([1, 2, 4])]); // 3 backends before and after: the same M
    assert.equal(innerOf(svcId), first, 'patched in place');
    const patched = new KernelServiceMaps(native(), openServiceMaps(dp.obj)).dump();
    assert.deepEqual(patched.tables, dp.reconciler.state.tables);
    dp.reconciler.sync([web([1, 2, 4, 5, 6, 7])]); // 6 backends: a larger M (1021 slots, not 509)
    assert.notEqual(innerOf(svcId), first, 'swapped');

    // What the reconciler believes is what the kernel holds, slot for slot.
    const kernel = new KernelServiceMaps(native(), openServiceMaps(dp.obj)).dump();
    assert.deepEqual(kernel.tables, dp.reconciler.state.tables);
    assert.ok(
      [...(kernel.tables.get(svcId) ?? [])].every((id) => kernel.backends.has(id)),
      'every slot names a live backend',
    );
  } finally {
    maglev.close();
  }
});
