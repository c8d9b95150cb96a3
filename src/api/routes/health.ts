// Health and readiness the kube-proxy way, and the Prometheus metrics.
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Status, type AdminSource } from '../source.js';

/** Healthy while the last sync is recent, or while no change has needed one (kube-proxy semantics). */
const HEALTHY_WITHIN_MS = 60_000;

const Health = Type.Object({
  healthy: Type.Boolean(),
  lastSyncAt: Status.properties.lastSyncAt,
  lastError: Status.properties.lastError,
  consecutiveFailures: Status.properties.consecutiveFailures,
  nextRetryAt: Status.properties.nextRetryAt,
});
const Ready = Type.Object({ ready: Type.Boolean() });

export const healthRoutes: FastifyPluginAsyncTypebox<{ source: AdminSource }> = async (app, { source }) => {
  app.get(
    '/healthz',
    { schema: { summary: 'Healthy while syncs are recent (kube-proxy semantics)', response: { 200: Health, 503: Health } } },
    async (_req, reply) => {
      const s = source.status();
      const fresh = s.lastSyncAt !== null && Date.now() - Date.parse(s.lastSyncAt) < HEALTHY_WITHIN_MS;
      const healthy = s.ready && (fresh || s.lastError === null);
      return reply.code(healthy ? 200 : 503).send({
        healthy,
        lastSyncAt: s.lastSyncAt,
        lastError: s.lastError,
        consecutiveFailures: s.consecutiveFailures,
        nextRetryAt: s.nextRetryAt,
      });
    },
  );
  app.get('/readyz', { schema: { summary: 'Ready once the first full sync is programmed', response: { 200: Ready, 503: Ready } } }, async (_req, reply) => {
    const { ready } = source.status();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', response: { 200: Type.String() } } }, async (_req, reply) =>
    reply.type('text/plain; version=0.0.4').send(await source.metrics()),
  );
};
