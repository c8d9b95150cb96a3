// A service's Maglev tables as the kernel holds them.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MaglevView } from '../../inspect/shapes.js';
import { maglevView } from '../../inspect/views.js';
import { ErrorReply, ServiceParams } from '../shared.js';
import { servedService, type AdminSource } from '../source.js';

export const maglevRoutes: FastifyPluginAsyncTypebox<{ source: AdminSource }> = async (app, { source }) => {
  app.get(
    '/v1/maglev/:namespace/:name',
    {
      schema: {
        summary: "A service's Maglev tables as the kernel holds them",
        params: ServiceParams,
        response: { 200: MaglevView, 400: ErrorReply, 404: ErrorReply },
      },
    },
    async (req) => {
      const live = source.live();
      return maglevView(servedService(source, `${req.params.namespace}/${req.params.name}`, live), live);
    },
  );
};
