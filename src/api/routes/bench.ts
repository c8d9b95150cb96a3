// Stored benchmark results, and the test-run microbenchmark on the loaded programs (token-guarded).
import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox';
import { ErrorCode, KbpError } from '../../errors.js';
import { requireToken } from '../auth.js';
import { ErrorReply } from '../shared.js';
import type { AdminSource } from '../source.js';

const BenchResults = Type.Record(Type.String(), Type.Unknown(), { description: 'the latest stored benchmark run, by name (bench/results/NAME/run.json)' });
const ChartParams = Type.Object({
  run: Type.String({ pattern: '^[\\w.-]+$', maxLength: 64 }),
  suite: Type.Union([Type.Literal('e2e'), Type.Literal('control'), Type.Literal('datapath')]),
});

export const DatapathBench = Type.Object({
  repeat: Type.Integer(),
  /** ns/packet by case, the kernel's average per repetition. */
  results: Type.Record(Type.String(), Type.Number()),
});
export type DatapathBench = Static<typeof DatapathBench>;

const DatapathBenchBody = Type.Object({ repeat: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }) }, { additionalProperties: false });

export const benchRoutes: FastifyPluginAsyncTypebox<{ source: AdminSource; token: string | undefined }> = async (app, { source, token }) => {
  app.get('/v1/bench', { schema: { summary: 'The latest stored benchmark run', response: { 200: BenchResults } } }, async () => source.benchResults());
  app.get(
    '/v1/bench/:run/:suite.svg',
    { schema: { summary: "A suite's chart of a stored run (SVG)", params: ChartParams, response: { 200: Type.String(), 400: ErrorReply, 404: ErrorReply } } },
    async (req, reply) => {
      const svg = source.benchChart(req.params.run, req.params.suite);
      if (svg === null) throw new KbpError(ErrorCode.NotFound, `no ${req.params.suite} chart of run ${req.params.run}`);
      return reply.type('image/svg+xml').send(svg);
    },
  );
  app.post(
    '/v1/bench/datapath',
    {
      onRequest: requireToken(token),
      schema: {
        summary: 'Run the test-run microbenchmark on the loaded programs now',
        security: [{ bearer: [] }],
        body: DatapathBenchBody,
        response: { 200: DatapathBench, 400: ErrorReply, 401: ErrorReply, 413: ErrorReply },
      },
    },
    async (req) => ({ repeat: req.body.repeat, results: await source.runDatapathBench(req.body.repeat) }),
  );
};
