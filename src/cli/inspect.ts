// `kbproxy inspect …`: the admin API for people (aligned tables) and scripts (--json). Exit code 1
// with one clear line when the agent cannot be reached or answers with an error.
import type { Command } from 'commander';
import { ErrorCode, KbpError } from '../errors.js';

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

type Json = Record<string, any>; // the shapes are the API's (src/api/routes/, src/inspect/shapes.ts)

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** How each view prints for people; --json prints the API's reply as it is. */
const views: Record<string, { path: (arg?: string) => string; print: (body: Json) => string }> = {
  services: {
    path: () => '/v1/services',
    print: (b) =>
      table(
        ['SERVICE', 'PORT', 'SCOPE', 'FRONTENDS', 'BACKENDS', 'M', 'DRIFT'],
        (b.services as Json[]).flatMap((s) =>
          (s.ports as Json[]).map((p) => [
            `${s.namespace}/${s.name}`,
            p.port || '-',
            p.scope,
            (p.frontends as string[]).join(','),
            `${(p.backends as Json[]).filter((x) => x.state === 'ready').length}/${p.backends.length}`,
            p.maglevSize,
            s.drift.length ? 'yes' : '-',
          ]),
        ),
      ),
  },
  service: {
    path: (arg) => `/v1/services/${arg ?? ''}`,
    print: (s) =>
      [
        `${s.namespace}/${s.name}: ${s.counters.connections} connections, ${s.counters.packets} packets, ${s.counters.bytes} bytes${s.drift.length ? `\ndrift: ${(s.drift as string[]).join('; ')}` : ''}`,
        ...(s.ports as Json[]).map(
          (p) =>
            `\n${p.port || '(unnamed)'} ${p.scope} ${(p.frontends as string[]).join(', ')} M=${p.maglevSize} svc=${p.svcId ?? '-'}\n${table(
              ['BACKEND', 'STATE', 'LOCAL', 'SLOTS', 'SHARE'],
              (p.backends as Json[]).map((x) => [`${x.address}:${x.port}`, x.state, x.local ? 'yes' : '-', x.slots, pct(x.share)]),
            )}`,
        ),
      ].join('\n'),
  },
  backends: {
    path: () => '/v1/backends',
    print: (b) =>
      table(
        ['ID', 'BACKEND', 'PROTO', 'SERVICES'],
        (b.backends as Json[]).map((x) => [x.id, `${x.address}:${x.port}`, x.protocol, (x.services as string[]).join(',') || '-']),
      ),
  },
  maglev: {
    path: (arg) => `/v1/maglev/${arg ?? ''}`,
    print: (b) =>
      (b.tables as Json[])
        .map(
          (t) =>
            `${t.key} M=${t.size}\n${table(
              ['BACKEND', 'SHARE'],
              Object.entries(t.shares as Record<string, number>).map(([k, v]) => [k, pct(v)]),
            )}`,
        )
        .join('\n\n'),
  },
  conntrack: {
    path: () => '/v1/conntrack?limit=1000',
    print: (b) =>
      `${table(
        ['PROTO', 'CLIENT', 'FRONTEND', 'BACKEND', 'PATH', 'PACKETS', 'EXPIRES'],
        (b.connections as Json[]).map((c) => [c.protocol, c.client, c.frontend, c.backend ?? '-', c.path, c.packets, `${c.expiresInSeconds}s`]),
      )}\n(${b.connections.length} of ${b.total})`,
  },
  stats: {
    path: () => '/v1/stats',
    print: (b) =>
      table(
        ['REASON', 'PACKETS', 'BYTES'],
        Object.entries(b as Record<string, Json>).map(([k, v]) => [k, v.packets, v.bytes]),
      ),
  },
  rejected: {
    path: () => '/v1/rejected',
    print: (b) =>
      table(
        ['KIND', 'OBJECT', 'REASON'],
        (b.rejected as Json[]).map((r) => [r.kind, r.key, r.reason]),
      ),
  },
};

async function inspect(view: string, arg: string | undefined, flags: InspectFlags): Promise<void> {
  const spec = views[view];
  if (!spec) throw new KbpError(ErrorCode.InvalidConfig, `unknown view "${view}"`);
  if ((view === 'service' || view === 'maglev') && !/^[^/\s]+\/[^/\s]+$/.test(arg ?? ''))
    throw new KbpError(ErrorCode.InvalidConfig, `${view} needs NAMESPACE/NAME`);
  const body = (await fetchJson(flags, spec.path(arg))) as Json;
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
