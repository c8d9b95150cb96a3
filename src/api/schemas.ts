// The admin API's shapes, schema first (TypeBox): Fastify validates requests and serialises replies
// with them, and the OpenAPI document at /docs/json is generated from them.
import { Type } from 'typebox';

export const ErrorReply = Type.Object({ statusCode: Type.Integer(), error: Type.String(), message: Type.String() });

export const Rejection = Type.Object({ kind: Type.String(), key: Type.String(), reason: Type.String() });

export const Status = Type.Object({
  ready: Type.Boolean(),
  generation: Type.Integer(),
  lastSyncAt: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastSyncOps: Type.Integer(),
  lastSyncMs: Type.Number(),
  services: Type.Integer(),
  backends: Type.Integer(),
  interfaces: Type.Array(Type.String()),
  rejected: Type.Array(Rejection),
});

export const Counter = Type.Object({ packets: Type.Integer(), bytes: Type.Integer() });
export const Stats = Type.Record(Type.String(), Counter);

const Backend = Type.Object({
  address: Type.String(),
  port: Type.Integer(),
  protocol: Type.String(),
  state: Type.Union([Type.Literal('ready'), Type.Literal('terminating'), Type.Literal('standby')]),
  local: Type.Boolean(),
  slots: Type.Integer({ description: 'Maglev slots held' }),
  share: Type.Number({ description: 'share of the Maglev table, 0..1' }),
});

const Port = Type.Object({
  key: Type.String(),
  port: Type.String(),
  scope: Type.String(),
  frontends: Type.Array(Type.String()),
  svcId: Type.Union([Type.Integer(), Type.Null()]),
  maglevSize: Type.Integer(),
  affinityTimeoutSeconds: Type.Integer(),
  localOnly: Type.Boolean(),
  sourceRanges: Type.Array(Type.String()),
  backends: Type.Array(Backend),
});

export const Service = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  ports: Type.Array(Port),
  counters: Type.Object({ connections: Type.Integer(), packets: Type.Integer(), bytes: Type.Integer() }, { description: 'live connections in conntrack and their traffic so far' }),
  drift: Type.Array(Type.String(), { description: 'differences between the wanted state and the live maps' }),
});

export const ServiceList = Type.Object({
  services: Type.Array(Service),
  /** Frontends in the kernel that no service wants. */
  orphanFrontends: Type.Array(Type.String()),
});

export const BackendList = Type.Object({
  backends: Type.Array(Type.Object({ id: Type.Integer(), address: Type.String(), port: Type.Integer(), protocol: Type.String(), services: Type.Array(Type.String()) })),
});

export const Maglev = Type.Object({
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

export const ConntrackQuery = Type.Object({
  service: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', description: 'namespace/name' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
});

export const ConntrackPage = Type.Object({
  total: Type.Integer(),
  offset: Type.Integer(),
  connections: Type.Array(
    Type.Object({
      protocol: Type.String(),
      client: Type.String(),
      frontend: Type.String(),
      backend: Type.Union([Type.String(), Type.Null()]),
      path: Type.String(),
      svcId: Type.Integer(),
      packets: Type.Integer(),
      bytes: Type.Integer(),
      expiresInSeconds: Type.Integer(),
    }),
  ),
});

export const ServiceParams = Type.Object({
  namespace: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }),
  name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 }),
});

export const BenchResults = Type.Record(Type.String(), Type.Unknown(), { description: 'stored benchmark results by name (bench/results/*.json)' });

export const DatapathBench = Type.Object({
  repeat: Type.Integer(),
  /** ns/packet by case, the kernel's average per repetition. */
  results: Type.Record(Type.String(), Type.Number()),
});

export const DatapathBenchBody = Type.Object({ repeat: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }) }, { additionalProperties: false });
