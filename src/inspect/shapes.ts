// The shapes the views produce, declared once as schemas: views.ts takes its types from them and the
// admin API validates, serialises and documents its replies with them. Pure: TypeBox only.
import { Type, type Static } from 'typebox';

export const BackendView = Type.Object({
  address: Type.String(),
  port: Type.Integer(),
  protocol: Type.String(),
  /** ready: takes new flows; terminating: existing flows only (or all, when nothing is ready); standby: not in the table (e.g. another node's, for a Local policy). */
  state: Type.Union([Type.Literal('ready'), Type.Literal('terminating'), Type.Literal('standby')]),
  local: Type.Boolean(),
  slots: Type.Integer({ description: 'Maglev slots held' }),
  share: Type.Number({ description: 'share of the Maglev table, 0..1' }),
});
export type BackendView = Static<typeof BackendView>;

export const PortView = Type.Object({
  key: Type.String(),
  port: Type.String(),
  scope: Type.String(),
  frontends: Type.Array(Type.String()),
  /** The service id in the kernel, or null when the frontends are not (yet) there. */
  svcId: Type.Union([Type.Integer(), Type.Null()]),
  maglevSize: Type.Integer(),
  affinityTimeoutSeconds: Type.Integer(),
  whenEmpty: Type.Union([Type.Literal('reject'), Type.Literal('drop')]),
  sourceRanges: Type.Array(Type.String()),
  backends: Type.Array(BackendView),
});
export type PortView = Static<typeof PortView>;

export const ServiceView = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  ports: Type.Array(PortView),
  counters: Type.Object(
    { connections: Type.Integer(), packets: Type.Integer(), bytes: Type.Integer() },
    { description: 'live connections in conntrack and their traffic so far' },
  ),
  drift: Type.Array(Type.String(), { description: 'differences between the wanted state and the live maps' }),
});
export type ServiceView = Static<typeof ServiceView>;

export const BackendUse = Type.Object({
  id: Type.Integer(),
  address: Type.String(),
  port: Type.Integer(),
  protocol: Type.String(),
  /** The service ports ("namespace/name:port/scope") whose backend it is. */
  services: Type.Array(Type.String()),
});
export type BackendUse = Static<typeof BackendUse>;

export const MaglevView = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  tables: Type.Array(
    Type.Object({
      key: Type.String(),
      size: Type.Integer(),
      /** Backend ("ip:port") by slot, as the kernel holds the table. */
      slots: Type.Array(Type.String()),
      shares: Type.Record(Type.String(), Type.Number()),
    }),
  ),
});
export type MaglevView = Static<typeof MaglevView>;

export const ConnectionView = Type.Object({
  protocol: Type.String(),
  client: Type.String(),
  frontend: Type.String(),
  backend: Type.Union([Type.String(), Type.Null()]),
  /** internal: from a pod; external: from outside the node. */
  path: Type.Union([Type.Literal('internal'), Type.Literal('external')]),
  svcId: Type.Integer(),
  packets: Type.Integer(),
  bytes: Type.Integer(),
  expiresInSeconds: Type.Integer(),
});
export type ConnectionView = Static<typeof ConnectionView>;
