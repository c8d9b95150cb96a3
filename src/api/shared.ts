// Schemas more than one resource's routes use.
import { Type, type Static } from 'typebox';

/** The body of every error reply (errors.ts makes them); 503 from /healthz and /readyz keeps its own. */
export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'stable code from the error catalog (KBP_…)' }),
  error: Type.String(),
  message: Type.String(),
});
export type ErrorReply = Static<typeof ErrorReply>;

export const ServiceParams = Type.Object({
  namespace: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }),
  name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 }),
});
