// The agent's admin HTTP API (Fastify): health, readiness, sync status and datapath counters.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Counters } from '../dataplane/stats.js';
import type { Rejection } from '../model/types.js';

export interface AgentStatus {
  ready: boolean;
  generation: number;
  lastSyncAt: string | null;
  lastError: string | null;
  /** Map writes of the last sync (0 when nothing had changed). */
  lastSyncOps: number;
  /** How long the last sync took (render, diff, map writes), in milliseconds. */
  lastSyncMs: number;
  services: number;
  backends: number;
  interfaces: string[];
  rejected: Rejection[];
}

export interface AdminSource {
  status(): AgentStatus;
  counters(): Counters;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
}

/** Healthy while the last sync is recent, or while no change has needed one (kube-proxy semantics). */
const HEALTHY_WITHIN_MS = 60_000;

export function buildAdminServer(source: AdminSource): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  app.get('/healthz', async (_req, reply) => {
    const s = source.status();
    const fresh = s.lastSyncAt !== null && Date.now() - Date.parse(s.lastSyncAt) < HEALTHY_WITHIN_MS;
    const healthy = s.ready && (fresh || s.lastError === null);
    return reply.code(healthy ? 200 : 503).send({ healthy, lastSyncAt: s.lastSyncAt, lastError: s.lastError });
  });
  app.get('/readyz', async (_req, reply) => {
    const { ready } = source.status();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get('/v1/status', async () => source.status());
  app.get('/v1/stats', async () => source.counters());
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(await source.metrics()));
  return app;
}

export function parseHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`expected HOST:PORT, got "${value}"`);
  return { host: value.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}
