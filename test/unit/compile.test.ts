// The compiler on manifest fixtures: golden text per case, plus behaviour through "which backend
// would this flow reach".
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/native/bpf.js';
import { readManifests } from '../../src/sources/manifests.js';
import { manifestEvents } from '../../src/sources/manifest-source.js';
import { ClusterState } from '../../src/model/state.js';
import { ServiceCompiler } from '../../src/compile/compiler.js';
import { ServicePipeline } from '../../src/compile/pipeline.js';
import type { LbService } from '../../src/compile/types.js';
import { assertGolden, describeServices } from '../helpers/golden.js';

const cases = path.join(repoRoot, 'test', 'testdata', 'compile');

/** A case's manifests through the agent's pipeline, as the manifest source feeds it. */
function compileCase(name: string) {
  const pipeline = new ServicePipeline({ name: 'node-a' });
  for (const event of manifestEvents(readManifests(path.join(cases, name)), new Map())) pipeline.apply(event);
  return pipeline.compile();
}

/** Every service of the state compiled at once. */
const compile = (state: ClusterState) => new ServiceCompiler().update(state, state.services.keys());

/** The backend a new flow with this hash reaches, as the datapath would pick it. */
function backendFor(s: LbService, hash: number): string | undefined {
  const b = s.table.length ? s.backends[s.table[hash % s.table.length] ?? 0] : undefined;
  return b && `${b.address}:${b.port}`;
}

function reachable(s: LbService): Set<string> {
  const out = new Set<string>();
  for (let h = 0; h < 5000; h++) {
    const b = backendFor(s, h * 2654435761);
    if (b) out.add(b);
  }
  return out;
}

describe('compiler golden cases', () => {
  for (const name of readdirSync(cases).sort()) {
    test(name, () => {
      const compiled = compileCase(name);
      assertGolden(path.join(cases, name, 'expected.txt'), describeServices(compiled.services, compiled.rejected));
    });
  }
});

describe('compiler behaviour', () => {
  const compiled = (name: string) => compileCase(name).services;
  const byKey = (name: string, key: string) => {
    const s = compiled(name).find((x) => x.key === key);
    assert.ok(s, `${key} compiled`);
    return s;
  };

  test('every ready backend is reachable', () => {
    assert.deepEqual([...reachable(byKey('basic', 'ns/web:http/internal'))].sort(), ['10.244.1.11:8080', '10.244.1.12:8080', '10.244.2.13:8080']);
  });

  test('a terminating backend is not reachable while a ready one exists, and is the fallback otherwise', () => {
    assert.deepEqual([...reachable(byKey('terminating', 'ns/mixed:http/internal'))], ['10.244.1.43:8080']);
    assert.deepEqual([...reachable(byKey('terminating', 'ns/fallback:http/internal'))], ['10.244.1.41:8080']);
  });

  test('internalTrafficPolicy Local reaches only this node', () => {
    assert.deepEqual([...reachable(byKey('internal-local', 'ns/agent:http/internal'))], ['10.244.1.61:8080']);
  });

  test('externalTrafficPolicy Local: outside traffic reaches only this node, the cluster IP every node', () => {
    assert.deepEqual([...reachable(byKey('external', 'ns/lb:http/external'))], ['10.244.1.91:8080']);
    assert.deepEqual([...reachable(byKey('external', 'ns/lb:http/internal'))].sort(), ['10.244.1.91:8080', '10.244.2.92:8080']);
  });

  test('Cluster policy gives outside traffic the very table of the cluster IP', () => {
    const services = compiled('external');
    const table = (key: string) => services.find((s) => s.key === key)?.table;
    assert.ok(table('ns/web:http/external'));
    assert.equal(table('ns/web:http/external'), table('ns/web:http/internal'));
  });

  test('zone hints narrow new flows to this zone only when every ready endpoint has one', () => {
    assert.deepEqual([...reachable(byKey('topology', 'ns/close:http/internal'))].sort(), ['10.244.1.1:8080', '10.244.3.1:8080']);
    assert.equal(reachable(byKey('topology', 'ns/partial:http/internal')).size, 2);
    assert.equal(reachable(byKey('topology', 'ns/elsewhere:http/internal')).size, 2);
  });

  test('a named targetPort resolves through the slice', () => {
    assert.deepEqual([...reachable(byKey('multiport', 'ns/app:http/internal'))].sort(), ['10.244.1.21:8080', '10.244.1.22:8080']);
  });

  test('10,000 ports are refused, and the other services keep compiling', () => {
    const state = new ClusterState({ name: 'node-a' });
    const huge = {
      kind: 'Service',
      metadata: { name: 'huge', namespace: 'ns' },
      spec: { clusterIP: '10.96.9.9', ports: Array.from({ length: 10_000 }, (_, i) => ({ name: `p${i}`, port: 1 + i })) },
    };
    const r = state.upsert(huge);
    assert.ok('rejection' in r);
    assert.match(r.rejection.reason, /more than 100 ports/);
    state.upsert({ kind: 'Service', metadata: { name: 'ok', namespace: 'ns' }, spec: { clusterIP: '10.96.9.10', ports: [{ name: 'http', port: 80 }] } });
    assert.deepEqual(
      compile(state).services.map((s) => s.key),
      ['ns/ok:http/internal'],
    );
  });

  test('the same endpoints in another order compile to the same tables', () => {
    const state = (order: number[]) => {
      const s = new ClusterState({ name: 'node-a' });
      s.upsert({ kind: 'Service', metadata: { name: 'w', namespace: 'ns' }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'http', port: 80 }] } });
      s.upsert({
        kind: 'EndpointSlice',
        metadata: { name: 'w-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'w' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080 }],
        endpoints: order.map((i) => ({ addresses: [`10.1.0.${i}`] })),
      });
      return compile(s).services[0];
    };
    assert.deepEqual(state([1, 2, 3, 4, 5]), state([5, 3, 1, 4, 2]));
  });
});
