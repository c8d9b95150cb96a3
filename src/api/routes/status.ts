// The agent's sync status, the datapath counters and the objects it refused.
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Counter } from '../../dataplane/stats.js';
import { Status, type AdminSource } from '../source.js';

export const Stats = Type.Record(Type.String(), Counter);
export const Rejected = Type.Object({ rejected: Status.properties.rejected });

export const statusRoutes: FastifyPluginAsyncTypebox<{ source: AdminSource }> = async (app, { source }) => {
  app.get('/v1/status', { schema: { summary: 'Sync status', response: { 200: Status } } }, async () => source.status());
  app.get('/v1/stats', { schema: { summary: 'Datapath counters by reason, summed over CPUs', response: { 200: Stats } } }, async () => source.counters());
  app.get('/v1/rejected', { schema: { summary: 'Objects refused or not served, and why', response: { 200: Rejected } } }, async () => ({
    rejected: source.status().rejected,
  }));
};
