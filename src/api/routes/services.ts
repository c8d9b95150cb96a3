// Every service, or one: frontends, backends with their Maglev shares, live connections, drift.
import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox';
import type { MapState } from '../../dataplane/state.js';
import { ServiceView } from '../../inspect/shapes.js';
import { connectionViews, countConnections, orphanFrontends, serviceViews } from '../../inspect/views.js';
import { ErrorReply, ServiceParams } from '../shared.js';
import { servedService, type AdminSource } from '../source.js';

export const ServiceList = Type.Object({
  services: Type.Array(ServiceView),
  /** Frontends in the kernel that no service wants. */
  orphanFrontends: Type.Array(Type.String()),
});
export type ServiceList = Static<typeof ServiceList>;

export const serviceRoutes: FastifyPluginAsyncTypebox<{ source: AdminSource }> = async (app, { source }) => {
  /** Adds the live connections to the views' counters. */
  const count = (views: ServiceView[], live: MapState): void => {
    const { entries, nowNs } = source.conntrack();
    countConnections(views, connectionViews(entries, live, nowNs));
  };
  app.get(
    '/v1/services',
    { schema: { summary: 'Every service: frontends, backends, Maglev shares, connections, drift', response: { 200: ServiceList } } },
    async () => {
      const services = source.services();
      const live = source.live();
      const views = serviceViews(services, live);
      count(views, live);
      return { services: views, orphanFrontends: orphanFrontends(services, live) };
    },
  );
  app.get(
    '/v1/services/:namespace/:name',
    { schema: { summary: 'One service', params: ServiceParams, response: { 200: ServiceView, 400: ErrorReply, 404: ErrorReply } } },
    async (req) => {
      const live = source.live();
      const view = servedService(source, `${req.params.namespace}/${req.params.name}`, live);
      count([view], live);
      return view;
    },
  );
};
