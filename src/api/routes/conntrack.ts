// Live connections (their client legs), paged, of every service or one.
import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox';
import { ConnectionView } from '../../inspect/shapes.js';
import { connectionViews } from '../../inspect/views.js';
import { ErrorReply } from '../shared.js';
import { servedService, type AdminSource } from '../source.js';

const ConntrackQuery = Type.Object({
  service: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', description: 'namespace/name' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
});

export const ConntrackPage = Type.Object({ total: Type.Integer(), offset: Type.Integer(), connections: Type.Array(ConnectionView) });
export type ConntrackPage = Static<typeof ConntrackPage>;

export const conntrackRoutes: FastifyPluginAsyncTypebox<{ source: AdminSource }> = async (app, { source }) => {
  app.get(
    '/v1/conntrack',
    {
      schema: {
        summary: 'Live connections (client legs), paged',
        querystring: ConntrackQuery,
        response: { 200: ConntrackPage, 400: ErrorReply, 404: ErrorReply },
      },
    },
    async (req) => {
      const { service, limit, offset } = req.query;
      const live = source.live();
      const svcIds =
        service === undefined ? undefined : new Set(servedService(source, service, live).ports.flatMap((p) => (p.svcId === null ? [] : [p.svcId])));
      const { entries, nowNs } = source.conntrack();
      const all = connectionViews(entries, live, nowNs, svcIds);
      return { total: all.length, offset, connections: all.slice(offset, offset + limit) };
    },
  );
};
