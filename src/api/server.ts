// The agent's admin HTTP API (Fastify, schema first): health and readiness the kube-proxy way,
// Prometheus metrics, and the dataplane as it is: services, backends, Maglev tables, connections,
// counters, refused objects, benchmarks. Reads only, except POST routes, which need the bearer token.
// The OpenAPI document is served at /docs/json, a browsable page at /docs, the admin page at /.
// One encapsulated plugin per resource (routes/), each with its schemas.
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ErrorCode, KbpError } from '../errors.js';
import { replyWithCatalogErrors } from './errors.js';
import { backendRoutes } from './routes/backends.js';
import { benchRoutes } from './routes/bench.js';
import { conntrackRoutes } from './routes/conntrack.js';
import { healthRoutes } from './routes/health.js';
import { maglevRoutes } from './routes/maglev.js';
import { pageRoutes } from './routes/page.js';
import { serviceRoutes } from './routes/services.js';
import { statusRoutes } from './routes/status.js';
import type { AdminSource } from './source.js';

export type { AdminSource, AgentStatus } from './source.js';

export interface AdminOptions {
  /** Bearer token for the routes that act (POST); without one they always answer 401. */
  token?: string;
}

export async function buildAdminServer(source: AdminSource, options: AdminOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  replyWithCatalogErrors(app);
  await app.register(swagger, {
    openapi: { info: { title: 'kube-bpf-proxy admin API', version: '1' }, components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  for (const routes of [healthRoutes, statusRoutes, serviceRoutes, backendRoutes, maglevRoutes, conntrackRoutes]) await app.register(routes, { source });
  await app.register(benchRoutes, { source, token: options.token });
  await app.register(pageRoutes);
  return app;
}

export function parseHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new KbpError(ErrorCode.InvalidConfig, `expected HOST:PORT, got "${value}"`);
  return { host: value.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}
