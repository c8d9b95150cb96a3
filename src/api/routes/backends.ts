// Every backend in the kernel and the service ports that use it.
import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox';
import { BackendUse } from '../../inspect/shapes.js';
import { backendViews } from '../../inspect/views.js';
import type { AdminSource } from '../source.js';

export const BackendList = Type.Object({ backends: Type.Array(BackendUse) });
export type BackendList = Static<typeof BackendList>;

export const backendRoutes: FastifyPluginAsyncTypebox<{ source: AdminSource }> = async (app, { source }) => {
  app.get('/v1/backends', { schema: { summary: 'Every backend in the kernel and the services using it', response: { 200: BackendList } } }, async () => ({
    backends: backendViews(source.services(), source.live()),
  }));
};
