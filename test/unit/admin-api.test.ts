// The admin API's routes against a source made in memory: success, bad input (400), missing token
// (401), unknown service (404), error replies with catalog codes, drift between wanted and live maps,
// and an OpenAPI document that validates and lists every route.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { buildAdminServer, type AdminSource, type AgentStatus } from '../../src/api/server.js';
import type { ErrorReply } from '../../src/api/shared.js';
import type { MaglevView, ServiceView } from '../../src/inspect/shapes.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { ErrorCode, KbpError } from '../../src/errors.js';
import { CtDir, IPPROTO, STAT_REASONS } from '../../src/dataplane/layout.js';
import type { Counters } from '../../src/dataplane/stats.js';
import { MemoryServiceMaps } from '../helpers/memory-maps.js';
import { lbService } from '../../harness/services.js';
import type { BackendList } from '../../src/api/routes/backends.js';
import type { ConntrackPage } from '../../src/api/routes/conntrack.js';
import type { ServiceList } from '../../src/api/routes/services.js';
import { first, ifSet } from '../helpers/types.js';

const TOKEN = 'test-token-0123456789';

/** GET /v1/bench: the stored results fakeSource serves. */
interface StoredBench {
  datapath: { rows: { services: number; new_flow_ns: number }[] };
}
/** The OpenAPI document SwaggerParser takes. */
type OpenApiDocument = Awaited<ReturnType<typeof SwaggerParser.validate>>;
const web = lbService(
  'shop/web:http',
  [{ address: '10.96.0.10', port: 80, protocol: 'TCP' }],
  [1, 2, 3].map((i) => ({ address: `10.244.1.${i}`, port: 8080 })),
);
const dns = lbService('kube-system/dns:dns', [{ address: '10.96.0.53', port: 53, protocol: 'UDP' }], [{ address: '10.244.1.9', port: 5353, protocol: 'UDP' }]);

function fakeSource(maps: MemoryServiceMaps): AdminSource {
  const counters = Object.fromEntries(STAT_REASONS.map((r) => [r, { packets: r === 'ct_new' ? 5 : 0, bytes: r === 'ct_new' ? 300 : 0 }])) as Counters;
  const backendId = [...maps.state.backends.entries()].find(([, b]) => b.ip === '10.244.1.1')?.[0] ?? 0;
  const svcId = [...maps.state.frontends.values()].find((f) => f.key.vip === '10.96.0.10')?.value.svcId ?? 0;
  return {
    status: () => ({
      node: 'node-a',
      ready: true,
      generation: 3,
      lastSyncAt: new Date().toISOString(),
      lastError: null,
      consecutiveFailures: 0,
      nextRetryAt: null,
      lastSyncOps: 0,
      lastSyncMs: 1.5,
      services: 2,
      backends: 4,
      interfaces: ['veth1'],
      rejected: [{ kind: 'Service', key: 'shop/old', reason: 'headless' }],
    }),
    counters: () => counters,
    metrics: () => Promise.resolve('# HELP x y\nx 1\n'),
    services: () => [web, dns],
    live: () => maps.dump(),
    conntrack: () => ({
      nowNs: 1_000_000_000_000n,
      entries: [
        {
          key: { saddr: '10.244.1.50', daddr: '10.96.0.10', sport: 40000, dport: 80, proto: IPPROTO.TCP, dir: CtDir.service },
          entry: {
            expiresNs: 1_030_000_000_000n,
            packets: 7n,
            bytes: 900n,
            backendId,
            revnatId: 1,
            svcId,
            clientIp: '10.244.1.50',
            flags: 0,
            clientPort: 0,
            natPort: 0,
          },
        },
        {
          key: { saddr: '10.244.1.1', daddr: '10.244.1.50', sport: 8080, dport: 40000, proto: IPPROTO.TCP, dir: CtDir.reply },
          entry: {
            expiresNs: 1_030_000_000_000n,
            packets: 6n,
            bytes: 800n,
            backendId,
            revnatId: 1,
            svcId,
            clientIp: '10.244.1.50',
            flags: 0,
            clientPort: 0,
            natPort: 0,
          },
        },
      ],
    }),
    benchResults: () => ({ datapath: { rows: [{ services: 1000, new_flow_ns: 700 }] } }),
    benchChart: (run, suite) => (run === 'r1' && suite === 'e2e' ? '<svg xmlns="http://www.w3.org/2000/svg"/>' : null),
    runDatapathBench: (repeat) => Promise.resolve({ from_pod_not_a_service: repeat > 0 ? 20 : 0 }),
  };
}

describe('admin API routes', () => {
  let app: FastifyInstance;
  const maps = new MemoryServiceMaps();

  before(async () => {
    new Reconciler(maps).sync([web, dns]);
    app = await buildAdminServer(fakeSource(maps), { token: TOKEN });
  });
  after(() => ifSet(app)?.close());

  const get = (url: string) => app.inject({ method: 'GET', url });

  test('health, readiness, status, stats, metrics, rejected', async () => {
    const health = await get('/healthz');
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json<{ consecutiveFailures: number; nextRetryAt: null }>().consecutiveFailures, 0);
    assert.deepEqual((await get('/readyz')).json(), { ready: true });
    assert.equal((await get('/v1/status')).json<AgentStatus>().generation, 3);
    assert.deepEqual((await get('/v1/stats')).json<Counters>().ct_new, { packets: 5, bytes: 300 });
    const metrics = await get('/metrics');
    assert.match(String(metrics.headers['content-type']), /text\/plain/);
    assert.match(metrics.body, /^x 1$/m);
    assert.equal((await get('/v1/rejected')).json<Pick<AgentStatus, 'rejected'>>().rejected[0]?.key, 'shop/old');
  });

  test('services: frontends, backends with their Maglev shares, no drift when the maps agree', async () => {
    const { services, orphanFrontends } = (await get('/v1/services')).json<ServiceList>();
    assert.deepEqual(
      services.map((s) => `${s.namespace}/${s.name}`),
      ['kube-system/dns', 'shop/web'],
    );
    assert.deepEqual(orphanFrontends, []);
    const one = (await get('/v1/services/shop/web')).json<ServiceView>();
    assert.deepEqual(one.drift, []);
    assert.deepEqual(one.counters, { connections: 1, packets: 7, bytes: 900 });
    const port = first(one.ports);
    assert.deepEqual(port.frontends, ['10.96.0.10:80/TCP']);
    const shares = port.backends.map((b) => b.share);
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9, 'shares sum to 1');
    assert.ok(
      shares.every((s) => s > 0.3 && s < 0.37),
      `Maglev balance ${shares.join(',')}`,
    );
  });

  test('drift: a table changed behind the agent is reported, as is a stray frontend', async () => {
    const svcId = [...maps.state.frontends.values()].find((f) => f.key.vip === '10.96.0.10')?.value.svcId ?? 0;
    const table = maps.state.tables.get(svcId);
    assert.ok(table);
    const saved = Uint32Array.from(table);
    table.fill(table[0] ?? 0);
    maps.state.frontends.set('stray', {
      key: { vip: '10.96.9.9', port: 1, proto: 6, scope: 0 },
      value: { svcId: 999, revnatId: 0, lbSize: 0, backendCount: 0, flags: 0, affinityTimeout: 0 },
    });
    try {
      const one = (await get('/v1/services/shop/web')).json<ServiceView>();
      assert.match(one.drift.join('\n'), /Maglev table differs in \d+ of 509 slots/);
      assert.deepEqual((await get('/v1/services')).json<ServiceList>().orphanFrontends, ['10.96.9.9:1/TCP/internal (service 999)']);
    } finally {
      table.set(saved);
      maps.state.frontends.delete('stray');
    }
  });

  test('backends, Maglev tables, conntrack (paged, by service)', async () => {
    const backends = (await get('/v1/backends')).json<BackendList>().backends;
    assert.equal(backends.length, 4);
    assert.deepEqual(backends.find((b) => b.address === '10.244.1.9')?.services, ['kube-system/dns:dns/internal']);
    const maglev = (await get('/v1/maglev/shop/web')).json<MaglevView>();
    const table = first(maglev.tables);
    assert.equal(table.size, 509);
    assert.equal(Object.keys(table.shares).length, 3);
    const ct = (await get('/v1/conntrack?service=shop/web&limit=10')).json<ConntrackPage>();
    assert.equal(ct.total, 1, 'the client leg only');
    const connection = first(ct.connections);
    assert.deepEqual(
      [connection.client, connection.frontend, connection.backend, connection.expiresInSeconds],
      ['10.244.1.50:40000', '10.96.0.10:80', '10.244.1.1:8080', 30],
    );
    assert.equal((await get('/v1/conntrack?service=kube-system/dns')).json<ConntrackPage>().total, 0);
    assert.equal((await get('/v1/conntrack?offset=1')).json<ConntrackPage>().connections.length, 0);
  });

  test('bad input is a 400 with a message', async () => {
    for (const url of [
      '/v1/conntrack?limit=abc',
      '/v1/conntrack?limit=100000',
      '/v1/conntrack?service=Not_A_Service',
      '/v1/services/UPPER/x',
      '/v1/maglev/ns/bad_name',
    ]) {
      const r = await get(url);
      assert.equal(r.statusCode, 400, url);
      assert.ok(r.json<ErrorReply>().message, url);
      assert.equal(r.json<ErrorReply>().code, ErrorCode.BadRequest, url);
    }
    const body = await app.inject({ method: 'POST', url: '/v1/bench/datapath', headers: { authorization: `Bearer ${TOKEN}` }, payload: { repeat: -1 } });
    assert.equal(body.statusCode, 400);
    const big = await app.inject({
      method: 'POST',
      url: '/v1/bench/datapath',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ repeat: 1, pad: 'x'.repeat(100_000) }),
    });
    assert.equal(big.statusCode, 413, 'bodies are bounded');
    assert.equal(big.json<ErrorReply>().code, ErrorCode.BodyTooLarge);
  });

  test('unknown services are a 404', async () => {
    for (const url of ['/v1/services/shop/nope', '/v1/maglev/shop/nope', '/v1/conntrack?service=shop/nope'])
      assert.equal((await get(url)).statusCode, 404, url);
    for (const url of ['/v1/services/shop/nope', '/v1/nothing-here']) assert.equal((await get(url)).json<ErrorReply>().code, ErrorCode.NotFound, url);
  });

  test('acting routes need the bearer token', async () => {
    assert.equal((await app.inject({ method: 'POST', url: '/v1/bench/datapath', payload: { repeat: 10 } })).statusCode, 401);
    assert.equal(
      (await app.inject({ method: 'POST', url: '/v1/bench/datapath', headers: { authorization: 'Bearer wrong' }, payload: { repeat: 10 } })).statusCode,
      401,
    );
    assert.equal((await app.inject({ method: 'POST', url: '/v1/bench/datapath', payload: { repeat: 10 } })).json<ErrorReply>().code, ErrorCode.Unauthorized);
    const ok = await app.inject({ method: 'POST', url: '/v1/bench/datapath', headers: { authorization: `Bearer ${TOKEN}` }, payload: { repeat: 10 } });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { repeat: 10, results: { from_pod_not_a_service: 20 } });
    assert.deepEqual((await get('/v1/bench')).json<StoredBench>().datapath.rows[0]?.new_flow_ns, 700);
  });

  test("a stored run's charts are served as SVG; unknown runs, suites and odd names are not", async () => {
    const chart = await get('/v1/bench/r1/e2e.svg');
    assert.equal(chart.statusCode, 200);
    assert.match(String(chart.headers['content-type']), /^image\/svg\+xml/);
    assert.match(chart.body, /^<svg /);
    assert.equal((await get('/v1/bench/r1/control.svg')).json<ErrorReply>().code, ErrorCode.NotFound);
    assert.equal((await get('/v1/bench/r2/e2e.svg')).statusCode, 404);
    assert.equal((await get('/v1/bench/r1/passwd.svg')).statusCode, 400);
    assert.equal((await get('/v1/bench/..%2f..%2fetc/e2e.svg')).statusCode, 400);
  });

  test('without a configured token, acting routes are off', async () => {
    const open = await buildAdminServer(fakeSource(maps));
    try {
      assert.equal((await open.inject({ method: 'POST', url: '/v1/bench/datapath', payload: { repeat: 10 } })).statusCode, 401);
    } finally {
      await open.close();
    }
  });

  test('every error reply has one shape and a code from the catalog', async () => {
    const failing = await buildAdminServer({
      ...fakeSource(maps),
      counters: () => {
        throw new KbpError(ErrorCode.DatapathNotLoaded, 'datapath not loaded');
      },
      benchResults: () => {
        throw new Error('unexpected');
      },
    });
    const codes = new Set<string>(Object.values(ErrorCode));
    try {
      const replies = await Promise.all(
        ['/v1/stats', '/v1/bench', '/v1/nothing-here', '/v1/conntrack?limit=0', '/v1/maglev/shop/nope'].map((url) => failing.inject({ method: 'GET', url })),
      );
      replies.push(await failing.inject({ method: 'POST', url: '/v1/bench/datapath', payload: { repeat: 1 } }));
      for (const r of replies) {
        const body = r.json<ErrorReply>();
        assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], r.body);
        assert.equal(body.statusCode, r.statusCode);
        assert.ok(codes.has(body.code), body.code);
      }
      assert.deepEqual(
        replies.map((r) => [r.statusCode, r.json<ErrorReply>().code]),
        [
          [500, ErrorCode.DatapathNotLoaded],
          [500, ErrorCode.Internal],
          [404, ErrorCode.NotFound],
          [400, ErrorCode.BadRequest],
          [404, ErrorCode.NotFound],
          [401, ErrorCode.Unauthorized],
        ],
      );
    } finally {
      await failing.close();
    }
  });

  test('the admin page and the API docs are served', async () => {
    const page = await get('/');
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /kube-bpf-proxy/);
    assert.equal((await get('/docs')).statusCode < 400, true);
  });

  test('the OpenAPI document validates and lists every route', async () => {
    const doc = (await get('/docs/json')).json<OpenApiDocument>();
    await SwaggerParser.validate(structuredClone(doc));
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const route of [
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'GET /v1/status',
      'GET /v1/stats',
      'GET /v1/rejected',
      'GET /v1/services',
      'GET /v1/services/{namespace}/{name}',
      'GET /v1/backends',
      'GET /v1/maglev/{namespace}/{name}',
      'GET /v1/conntrack',
      'GET /v1/bench',
      'POST /v1/bench/datapath',
      'GET /v1/bench/{run}/{suite}.svg',
    ]) {
      assert.ok(listed.includes(route), `${route} in ${listed.join(', ')}`);
    }
  });
});
