// The bearer token of the acting routes, compared in constant time.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, KbpError } from '../errors.js';

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** An onRequest hook passing only `Authorization: Bearer <token>`; without a token, nothing passes. */
export function requireToken(token: string | undefined): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !given || !sameSecret(given, token)) {
      throw new KbpError(ErrorCode.Unauthorized, token ? 'a valid bearer token is required' : 'no admin token is configured: acting routes are off');
    }
  };
}
