// The admin API's shapes, schema first (TypeBox): Fastify validates requests and serialises replies
// with them, and the OpenAPI document at /docs/json is generated from them.
import { Type } from 'typebox';
import { BackendUse, ConnectionView, ServiceView } from '../inspect/shapes.js';

export const ErrorReply = Type.Object({ statusCode: Type.Integer(), error: Type.String(), message: Type.String() });

export const Rejection = Type.Object({ kind: Type.String(), key: Type.String(), reason: Type.String() });

export const Status = Type.Object({
  ready: Type.Boolean(),
  generation: Type.Integer(),
  lastSyncAt: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  /** Map writes of the last sync (0 when nothing had changed). */
  lastSyncOps: Type.Integer(),
  /** How long the last sync took (render, diff, map writes), in milliseconds. */
  lastSyncMs: Type.Number(),
  services: Type.Integer(),
  backends: Type.Integer(),
  interfaces: Type.Array(Type.String()),
  rejected: Type.Array(Rejection),
});

export const Counter = Type.Object({ packets: Type.Integer(), bytes: Type.Integer() });
export const Stats = Type.Record(Type.String(), Counter);

export const ServiceList = Type.Object({
  services: Type.Array(ServiceView),
  /** Frontends in the kernel that no service wants. */
  orphanFrontends: Type.Array(Type.String()),
});

export const BackendList = Type.Object({ backends: Type.Array(BackendUse) });

export const ConntrackQuery = Type.Object({
  service: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', description: 'namespace/name' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
});

export const ConntrackPage = Type.Object({ total: Type.Integer(), offset: Type.Integer(), connections: Type.Array(ConnectionView) });

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
