// Every error reply of the API in one shape with a catalog code: the KbpErrors routes and hooks
// throw, Fastify's own (validation, body limit, parsing) and unknown routes alike.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { ErrorCode, KbpError, type ErrorCodeValue } from '../errors.js';
import type { ErrorReply } from './shared.js';

/** The HTTP status of the codes routes and hooks throw; any other code is a 500. */
const STATUS: Partial<Record<ErrorCodeValue, number>> = { [ErrorCode.Unauthorized]: 401, [ErrorCode.NotFound]: 404 };

const reply = (statusCode: number, code: ErrorCodeValue, message: string): ErrorReply => ({
  statusCode,
  code,
  error: STATUS_CODES[statusCode] ?? 'Error',
  message,
});

function errorReply(err: Error): ErrorReply {
  if (err instanceof KbpError) return reply(STATUS[err.code] ?? 500, err.code, err.message);
  // Fastify's errors carry their 4xx status; all but the body limit are requests it could not take.
  const status = (err as Partial<FastifyError>).statusCode ?? 500;
  if (status >= 400 && status < 500) return reply(status, status === 413 ? ErrorCode.BodyTooLarge : ErrorCode.BadRequest, err.message);
  return reply(500, ErrorCode.Internal, err.message);
}

export function replyWithCatalogErrors(app: FastifyInstance): void {
  app.setErrorHandler((err: Error, _req, res) => {
    const body = errorReply(err);
    return res.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((req, res) => res.code(404).send(reply(404, ErrorCode.NotFound, `Route ${req.method}:${req.url} not found`)));
}
