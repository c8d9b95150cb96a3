// How the agent sees its node: --nodeport-addresses picks node-port addresses over the Node object's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { nodePortAddresses, parseCidrs } from '../../src/cli/nodeport-addresses.js';
import { ClusterState } from '../../src/model/state.js';

test('--nodeport-addresses takes IPv4 CIDRs and refuses anything else with a clear code', () => {
  assert.ok(parseCidrs('10.0.0.0/8, 192.168.1.0/24').check('10.1.2.3', 'ipv4'));
  for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fd00::/8', 'ten/8', '10.0.0.0/8/1']) {
    assert.throws(() => parseCidrs(bad), { code: 'KBP_INVALID_CONFIG' }, bad);
  }
});

test('0.0.0.0/0 selects every IPv4 address of the namespace but loopback; a CIDR outside them none', () => {
  const all = Object.values(networkInterfaces())
    .flatMap((a) => a ?? [])
    .filter((a) => a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
  assert.deepEqual(nodePortAddresses('0.0.0.0/0'), all);
  assert.deepEqual(nodePortAddresses('240.0.0.0/8'), []);
});

test("chosen node-port addresses stand, whatever the Node object's addresses say", () => {
  const state = new ClusterState({ name: 'node-a', nodePortAddresses: ['192.0.2.1'] });
  state.upsert({
    kind: 'Node',
    metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1' } },
    status: { addresses: [{ type: 'InternalIP', address: '10.0.0.11' }] },
  });
  assert.deepEqual(state.node, { name: 'node-a', zone: 'z1', addresses: ['192.0.2.1'] });
});
