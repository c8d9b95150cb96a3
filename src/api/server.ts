// The agent's admin HTTP API (Fastify, schema first): health and readiness the kube-proxy way,
// Prometheus metrics, and the dataplane as it is: services, backends, Maglev tables, connections,
// counters, refused objects, benchmarks. Reads only, except POST routes, which need the bearer token.
// The OpenAPI document is served at /docs/json, a browsable page at /docs, the admin page at /.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type, type Static, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { LbService } from '../compile/types.js';
import type { CtEntry, CtKey } from '../dataplane/layout.js';
import type { MapState } from '../dataplane/state.js';
import type { Counters } from '../dataplane/stats.js';
import { MaglevView, ServiceView } from '../inspect/shapes.js';
import { backendViews, connectionViews, countConnections, maglevView, orphanFrontends, serviceViews } from '../inspect/views.js';
import { ErrorCode, KbpError } from '../errors.js';
import { ADMIN_PAGE } from './page.js';
import * as S from './schemas.js';

export type AgentStatus = Static<typeof S.Status>;

export interface AdminSource {
  status(): AgentStatus;
  counters(): Counters;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  /** The compiled services the agent last programmed. */
  services(): readonly LbService[];
  /** The service maps as the kernel holds them now. */
  live(): MapState;
  /** Conntrack as the kernel holds it now, and the kernel's clock (CLOCK_MONOTONIC, ns). */
  conntrack(): { entries: { key: CtKey; entry: CtEntry }[]; nowNs: bigint };
  /** Stored benchmark results by name. */
  benchResults(): Record<string, unknown>;
  /** Runs BPF_PROG_TEST_RUN on the loaded programs; ns/packet by case. */
  runDatapathBench(repeat: number): Promise<Record<string, number>>;
}

export interface AdminOptions {
  /** Bearer token for the routes that act (POST); without one they always answer 401. */
  token?: string;
}

/** Healthy while the last sync is recent, or while no change has needed one (kube-proxy semantics). */
const HEALTHY_WITHIN_MS = 60_000;

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function buildAdminServer(source: AdminSource, options: AdminOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(swagger, {
    openapi: { info: { title: 'kube-bpf-proxy admin API', version: '1' }, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const requireToken = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!options.token || !given || !sameSecret(given, options.token)) {
      await reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: options.token ? 'a valid bearer token is required' : 'no admin token is configured: acting routes are off' });
    }
  };
  const notFound = (reply: FastifyReply, what: string) => reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `${what} is not served by this agent` });

  app.get('/healthz', { schema: { summary: 'Healthy while syncs are recent (kube-proxy semantics)', response: { 200: Type.Object({ healthy: Type.Boolean(), lastSyncAt: Type.Union([Type.String(), Type.Null()]), lastError: Type.Union([Type.String(), Type.Null()]) }), 503: Type.Object({ healthy: Type.Boolean(), lastSyncAt: Type.Union([Type.String(), Type.Null()]), lastError: Type.Union([Type.String(), Type.Null()]) }) } } }, async (_req, reply) => {
    const s = source.status();
    const fresh = s.lastSyncAt !== null && Date.now() - Date.parse(s.lastSyncAt) < HEALTHY_WITHIN_MS;
    const healthy = s.ready && (fresh || s.lastError === null);
    return reply.code(healthy ? 200 : 503).send({ healthy, lastSyncAt: s.lastSyncAt, lastError: s.lastError });
  });
  app.get('/readyz', { schema: { summary: 'Ready once the first full sync is programmed', response: { 200: Type.Object({ ready: Type.Boolean() }), 503: Type.Object({ ready: Type.Boolean() }) } } }, async (_req, reply) => {
    const { ready } = source.status();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', response: { 200: Type.String() } } }, async (_req, reply) => reply.type('text/plain; version=0.0.4').send(await source.metrics()));
  app.get('/v1/status', { schema: { summary: 'Sync status', response: { 200: S.Status } } }, async () => source.status());
  app.get('/v1/stats', { schema: { summary: 'Datapath counters by reason, summed over CPUs', response: { 200: S.Stats } } }, async () => source.counters());
  app.get('/v1/rejected', { schema: { summary: 'Objects refused or not served, and why', response: { 200: Type.Object({ rejected: Type.Array(S.Rejection) }) } } }, async () => ({ rejected: source.status().rejected }));

  /** Service views with their live connections counted. */
  const countedViews = (services: readonly LbService[], live: MapState) => {
    const views = serviceViews(services, live);
    const { entries, nowNs } = source.conntrack();
    countConnections(views, connectionViews(entries, live, nowNs));
    return views;
  };
  app.get('/v1/services', { schema: { summary: 'Every service: frontends, backends, Maglev shares, connections, drift', response: { 200: S.ServiceList } } }, async () => {
    const services = source.services();
    const live = source.live();
    return { services: countedViews(services, live), orphanFrontends: orphanFrontends(services, live) };
  });
  app.get('/v1/services/:namespace/:name', { schema: { summary: 'One service', params: S.ServiceParams, response: { 200: ServiceView, 404: S.ErrorReply } } }, async (req, reply) => {
    const key = `${req.params.namespace}/${req.params.name}`;
    const view = countedViews(source.services().filter((s) => s.service === key), source.live())[0];
    return view ?? notFound(reply, `service ${key}`);
  });
  app.get('/v1/backends', { schema: { summary: 'Every backend in the kernel and the services using it', response: { 200: S.BackendList } } }, async () => ({ backends: backendViews(source.services(), source.live()) }));
  app.get('/v1/maglev/:namespace/:name', { schema: { summary: "A service's Maglev tables as the kernel holds them", params: S.ServiceParams, response: { 200: MaglevView, 404: S.ErrorReply } } }, async (req, reply) => {
    const key = `${req.params.namespace}/${req.params.name}`;
    const live = source.live();
    const view = serviceViews(source.services().filter((s) => s.service === key), live)[0];
    return view ? maglevView(view, live) : notFound(reply, `service ${key}`);
  });
  app.get('/v1/conntrack', { schema: { summary: 'Live connections (client legs), paged', querystring: S.ConntrackQuery, response: { 200: S.ConntrackPage, 404: S.ErrorReply } } }, async (req, reply) => {
    const { service, limit, offset } = req.query;
    const live = source.live();
    let svcIds: Set<number> | undefined;
    if (service !== undefined) {
      const view = serviceViews(source.services().filter((s) => s.service === service), live)[0];
      if (!view) return notFound(reply, `service ${service}`);
      svcIds = new Set(view.ports.flatMap((p) => (p.svcId === null ? [] : [p.svcId])));
    }
    const { entries, nowNs } = source.conntrack();
    const all = connectionViews(entries, live, nowNs, svcIds);
    return { total: all.length, offset, connections: all.slice(offset, offset + limit) };
  });

  app.get('/v1/bench', { schema: { summary: 'Stored benchmark results', response: { 200: S.BenchResults } } }, async () => source.benchResults());
  app.post('/v1/bench/datapath', { onRequest: requireToken, schema: { summary: 'Run the test-run microbenchmark on the loaded programs now', security: [{ bearer: [] }], body: S.DatapathBenchBody, response: { 200: S.DatapathBench, 401: S.ErrorReply } } }, async (req) => ({
    repeat: req.body.repeat,
    results: await source.runDatapathBench(req.body.repeat),
  }));

  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(ADMIN_PAGE));
  return app;
}

export function parseHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new KbpError(ErrorCode.InvalidConfig, `expected HOST:PORT, got "${value}"`);
  return { host: value.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}
