// What the admin API reads from the agent: the agent implements AdminSource, tests fake it. The sync
// status is declared once, as the schema /v1/status serves; the agent's AgentStatus is its type.
import { Type, type Static } from 'typebox';
import type { LbService } from '../compile/types.js';
import type { CtEntry, CtKey } from '../dataplane/layout.js';
import type { MapState } from '../dataplane/state.js';
import type { Counters } from '../dataplane/stats.js';
import { ErrorCode, KbpError } from '../errors.js';
import type { ServiceView } from '../inspect/shapes.js';
import { serviceViews } from '../inspect/views.js';
import { Rejection } from '../model/types.js';

export const Status = Type.Object({
  /** The node this agent serves (its local endpoints). */
  node: Type.String(),
  ready: Type.Boolean(),
  generation: Type.Integer(),
  lastSyncAt: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  /** Failed syncs since the last good one, and when the one pending retry runs (null: none). */
  consecutiveFailures: Type.Integer(),
  nextRetryAt: Type.Union([Type.String(), Type.Null()]),
  /** Map writes of the last sync (0 when nothing had changed). */
  lastSyncOps: Type.Integer(),
  /** How long the last sync took (render, diff, map writes), in milliseconds. */
  lastSyncMs: Type.Number(),
  services: Type.Integer(),
  backends: Type.Integer(),
  interfaces: Type.Array(Type.String()),
  rejected: Type.Array(Rejection),
});
/** What the agent reports of its syncs (/v1/status serves it as it is). */
export type AgentStatus = Static<typeof Status>;

export interface AdminSource {
  status(): AgentStatus;
  counters(): Counters;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  /** The compiled services the agent last programmed. */
  services(): readonly LbService[];
  /** The service maps as the kernel holds them now. */
  live(): MapState;
  /** Conntrack as the kernel holds it now, and the kernel's clock (CLOCK_MONOTONIC, ns). */
  conntrack(): { entries: { key: CtKey; entry: CtEntry }[]; nowNs: bigint };
  /** Stored benchmark results by name. */
  benchResults(): Record<string, unknown>;
  /** A suite's SVG chart of a stored run, or null. */
  benchChart(run: string, suite: string): string | null;
  /** Runs BPF_PROG_TEST_RUN on the loaded programs; ns/packet by case. */
  runDatapathBench(repeat: number): Promise<Record<string, number>>;
}

/** The view of the service "namespace/name" names; NotFound (404) when the agent does not serve it. */
export function servedService(source: AdminSource, key: string, live: MapState): ServiceView {
  const view = serviceViews(
    source.services().filter((s) => s.service === key),
    live,
  )[0];
  if (!view) throw new KbpError(ErrorCode.NotFound, `service ${key} is not served by this agent`);
  return view;
}
