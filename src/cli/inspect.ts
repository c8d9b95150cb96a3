// `kbproxy inspect …`: the admin API for people (aligned tables) and scripts (--json). Exit code 1
// with one clear line when the agent cannot be reached or answers with an error.
import type { Command } from 'commander';
import type { Static, TSchema } from 'typebox';
import { Check } from 'typebox/value';
import { BackendList } from '../api/routes/backends.js';
import { ConntrackPage } from '../api/routes/conntrack.js';
import { ServiceList } from '../api/routes/services.js';
import { Rejected, Stats } from '../api/routes/status.js';
import { ErrorCode, KbpError } from '../errors.js';
import { MaglevView, ServiceView } from '../inspect/shapes.js';

interface InspectFlags {
  adminAddress: string;
  json?: boolean;
}

async function fetchJson(flags: InspectFlags, path: string): Promise<unknown> {
  const url = `http://${flags.adminAddress}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new KbpError(
      ErrorCode.AgentUnreachable,
      `cannot reach the agent's admin API at ${flags.adminAddress} (${cause}); is the agent running, with --admin-address ${flags.adminAddress}?`,
    );
  }
  const body = (await res.json().catch(() => null)) as { message?: string } | null;
  if (!res.ok) throw new KbpError(ErrorCode.ApiError, `${url}: ${res.status} ${body?.message ?? res.statusText}`);
  return body;
}

/** Rows of cells as columns padded to their widest cell. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** How one view is fetched and printed for people; --json prints the API's reply as it is. */
interface View {
  path(arg?: string): string;
  print(body: unknown): string;
}

/** A view of a route whose reply has `schema`: a reply of another shape (an agent of another version) is an error, not a crash. */
function view<S extends TSchema>(schema: S, path: (arg?: string) => string, print: (body: Static<S>) => string): View {
  return {
    path,
    print: (body) => {
      if (!Check(schema, body))
        throw new KbpError(ErrorCode.ApiError, "the agent's reply has a shape this kbproxy does not know (an agent of another version?)");
      return print(body);
    },
  };
}

const views: Record<string, View> = {
  services: view(
    ServiceList,
    () => '/v1/services',
    (b) =>
      table(
        ['SERVICE', 'PORT', 'SCOPE', 'FRONTENDS', 'BACKENDS', 'M', 'DRIFT'],
        b.services.flatMap((s) =>
          s.ports.map((p) => [
            `${s.namespace}/${s.name}`,
            p.port || '-',
            p.scope,
            p.frontends.join(','),
            `${p.backends.filter((x) => x.state === 'ready').length}/${p.backends.length}`,
            p.maglevSize,
            s.drift.length ? 'yes' : '-',
          ]),
        ),
      ),
  ),
  service: view(
    ServiceView,
    (arg) => `/v1/services/${arg ?? ''}`,
    (s) =>
      [
        `${s.namespace}/${s.name}: ${s.counters.connections} connections, ${s.counters.packets} packets, ${s.counters.bytes} bytes${s.drift.length ? `\ndrift: ${s.drift.join('; ')}` : ''}`,
        ...s.ports.map(
          (p) =>
            `\n${p.port || '(unnamed)'} ${p.scope} ${p.frontends.join(', ')} M=${p.maglevSize} svc=${p.svcId ?? '-'}\n${table(
              ['BACKEND', 'STATE', 'LOCAL', 'SLOTS', 'SHARE'],
              p.backends.map((x) => [`${x.address}:${x.port}`, x.state, x.local ? 'yes' : '-', x.slots, pct(x.share)]),
            )}`,
        ),
      ].join('\n'),
  ),
  backends: view(
    BackendList,
    () => '/v1/backends',
    (b) =>
      table(
        ['ID', 'BACKEND', 'PROTO', 'SERVICES'],
        b.backends.map((x) => [x.id, `${x.address}:${x.port}`, x.protocol, x.services.join(',') || '-']),
      ),
  ),
  maglev: view(
    MaglevView,
    (arg) => `/v1/maglev/${arg ?? ''}`,
    (b) =>
      b.tables
        .map(
          (t) =>
            `${t.key} M=${t.size}\n${table(
              ['BACKEND', 'SHARE'],
              Object.entries(t.shares).map(([k, v]) => [k, pct(v)]),
            )}`,
        )
        .join('\n\n'),
  ),
  conntrack: view(
    ConntrackPage,
    () => '/v1/conntrack?limit=1000',
    (b) =>
      `${table(
        ['PROTO', 'CLIENT', 'FRONTEND', 'BACKEND', 'PATH', 'PACKETS', 'EXPIRES'],
        b.connections.map((c) => [c.protocol, c.client, c.frontend, c.backend ?? '-', c.path, c.packets, `${c.expiresInSeconds}s`]),
      )}\n(${b.connections.length} of ${b.total})`,
  ),
  stats: view(
    Stats,
    () => '/v1/stats',
    (b) =>
      table(
        ['REASON', 'PACKETS', 'BYTES'],
        Object.entries(b).map(([k, v]) => [k, v.packets, v.bytes]),
      ),
  ),
  rejected: view(
    Rejected,
    () => '/v1/rejected',
    (b) =>
      table(
        ['KIND', 'OBJECT', 'REASON'],
        b.rejected.map((r) => [r.kind, r.key, r.reason]),
      ),
  ),
};

async function inspect(view: string, arg: string | undefined, flags: InspectFlags): Promise<void> {
  const spec = views[view];
  if (!spec) throw new KbpError(ErrorCode.InvalidConfig, `unknown view "${view}"`);
  if ((view === 'service' || view === 'maglev') && !/^[^/\s]+\/[^/\s]+$/.test(arg ?? ''))
    throw new KbpError(ErrorCode.InvalidConfig, `${view} needs NAMESPACE/NAME`);
  const body = await fetchJson(flags, spec.path(arg));
  process.stdout.write(`${flags.json ? JSON.stringify(body, null, 2) : spec.print(body)}\n`);
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('ask a running agent what it serves: services | service NS/NAME | backends | maglev NS/NAME | conntrack | stats | rejected')
    .argument('<view>', Object.keys(views).join(' | '))
    .argument('[name]', 'NAMESPACE/NAME for service and maglev')
    .option('--admin-address <host:port>', "the agent's admin API", '127.0.0.1:10249')
    .option('--json', 'print the API reply as JSON')
    .action(async (view: string, arg: string | undefined, flags: InspectFlags) => {
      try {
        await inspect(view, arg, flags);
      } catch (err) {
        if (!(err instanceof KbpError)) throw err;
        process.stderr.write(`kbproxy inspect: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
}
