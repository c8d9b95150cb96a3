// The pipeline without a server: source events in (as the informers emit them), compiled service
// ports out, recompiling only what the events touch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServicePipeline } from '../../src/compile/pipeline.js';
import type { ObjectKind } from '../../src/model/events.js';

/** The pipeline driven as the Kubernetes source drives it. */
class Informed extends ServicePipeline {
  upsert(kind: ObjectKind, object: unknown): void {
    this.apply({ type: 'upsert', kind, object });
  }
  remove(kind: ObjectKind, object: { metadata: { name: string; namespace: string } }): void {
    this.apply({ type: 'delete', kind, key: `${object.metadata.namespace}/${object.metadata.name}` });
  }
  snapshot() {
    return this.compile();
  }
}

const svc = (name: string, ip: string, port = 80) => ({ metadata: { name, namespace: 'ns' }, spec: { clusterIP: ip, ports: [{ name: 'http', port }] } });
const slice = (name: string, service: string, ips: string[]) => ({
  metadata: { name, namespace: 'ns', labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080 }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
});

test('events become snapshots, recompiling only what they touch', () => {
  const k = new Informed({ name: 'node-a' });
  k.upsert('Service', svc('a', '10.96.0.1'));
  k.upsert('Service', svc('b', '10.96.0.2'));
  k.upsert('EndpointSlice', slice('a-1', 'a', ['10.244.1.1', '10.244.1.2']));
  assert.equal(k.pending, 2);
  const first = k.snapshot();
  assert.deepEqual(
    first.services.map((s) => [s.key, s.backends.length]),
    [
      ['ns/a:http/internal', 2],
      ['ns/b:http/internal', 0],
    ],
  );
  assert.equal(k.pending, 0);

  k.upsert('EndpointSlice', slice('b-1', 'b', ['10.244.2.1']));
  assert.equal(k.pending, 1, 'only service b is touched');
  const second = k.snapshot();
  assert.equal(
    second.services.find((s) => s.key === 'ns/a:http/internal'),
    first.services[0],
    'a was not recompiled',
  );
  assert.equal(second.services.find((s) => s.key === 'ns/b:http/internal')?.backends.length, 1);

  k.remove('Service', svc('a', '10.96.0.1'));
  assert.deepEqual(
    k.snapshot().services.map((s) => s.key),
    ['ns/b:http/internal'],
  );
});

test('an object that turns invalid is refused and stops counting; fixing it brings it back', () => {
  const k = new Informed({ name: 'node-a' });
  k.upsert('Service', svc('a', '10.96.0.1'));
  k.upsert('Service', svc('b', '10.96.0.2'));
  k.snapshot();
  k.upsert('Service', svc('a', '10.96.0.1', 70000));
  const broken = k.snapshot();
  assert.deepEqual(
    broken.services.map((s) => s.key),
    ['ns/b:http/internal'],
  );
  assert.equal(broken.rejected.length, 1);
  assert.match(broken.rejected[0]?.reason ?? '', /port/);
  k.upsert('Service', svc('a', '10.96.0.1'));
  const fixed = k.snapshot();
  assert.equal(fixed.services.length, 2);
  assert.equal(fixed.rejected.length, 0);
});

test("this node's Node object brings node ports to its addresses; other nodes change nothing", () => {
  const k = new Informed({ name: 'node-a' });
  const nodePort = {
    metadata: { name: 'np', namespace: 'ns' },
    spec: { type: 'NodePort', clusterIP: '10.96.0.9', ports: [{ name: 'http', port: 80, nodePort: 30080 }] },
  };
  const node = (name: string, address: string) => ({ metadata: { name }, status: { addresses: [{ type: 'InternalIP', address }] } });
  k.upsert('Service', nodePort);
  assert.deepEqual(
    k.snapshot().services.map((s) => s.key),
    ['ns/np:http/internal'],
    'no node address known yet',
  );
  k.upsert('Node', node('node-b', '192.168.0.2'));
  assert.equal(k.pending, 0);
  k.upsert('Node', node('node-a', '192.168.0.1'));
  const external = k.snapshot().services.find((s) => s.scope === 'external');
  assert.deepEqual(
    external?.frontends.map((f) => `${f.address}:${f.port}`),
    ['192.168.0.1:30080'],
  );
});
