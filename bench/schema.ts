// The benchmark's result file, schema first: one file per run, every raw sample and every mode's
// command line in it, versioned so a reader can tell what it holds.
import { Type, type Static } from 'typebox';
import { Machine } from './machine.js';
import { ControlRound, ControlSummary } from './suites/control.js';
import { datapathSuite } from './suites/datapath.js';
import { E2eRound } from './suites/e2e.js';
import { Summary } from './stats.js';

export const RUN_SCHEMA_VERSION = 1;

export { PROXY_MODES as MODES } from '../harness/proxies.js';
export const SUITES = ['e2e', 'control', 'datapath'] as const;

/** The proxy process: CPU seconds (its own and of the children it waited for: iptables-restore, nft) and peak RSS. */
const Usage = Type.Union([Type.Object({ cpuSeconds: Type.Number(), childCpuSeconds: Type.Number(), peakRssMiB: Type.Number() }), Type.Null()]);

export const ModeRun = Type.Object({
  mode: Type.Union([Type.Literal('kube-bpf-proxy'), Type.Literal('iptables'), Type.Literal('nftables'), Type.Literal('ipvs'), Type.Literal('none')]),
  /** False where the mode cannot run on this machine; `reason` then says why, in the proxy's words. */
  runnable: Type.Boolean(),
  reason: Type.Optional(Type.String()),
  /** The proxy's exact command line (empty for the floor), and what it had in its environment beyond the harness's. */
  command: Type.Array(Type.String()),
  environment: Type.Optional(Type.Record(Type.String(), Type.String())),
  rounds: Type.Array(
    Type.Object({
      round: Type.Integer(),
      control: Type.Optional(ControlRound),
      e2e: Type.Optional(E2eRound),
      /** The proxy process over the whole round: CPU seconds and peak RSS. */
      usage: Usage,
      /** kube-bpf-proxy's datapath counters by reason (packets) at the end of the round. */
      datapathCounters: Type.Optional(Type.Record(Type.String(), Type.Number())),
    }),
  ),
  summary: Type.Object({
    control: Type.Optional(ControlSummary),
    /** By load: every round's figure, summarised. */
    e2e: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Summary))),
    cpuSeconds: Type.Optional(Summary),
    peakRssMiB: Type.Optional(Summary),
  }),
});
export type ModeRun = Static<typeof ModeRun>;

export const Ratio = Type.Object({
  /** What is compared: e.g. "crr_max rate", "crr_fixed added p99". */
  metric: Type.String(),
  of: Type.String(),
  to: Type.String(),
  /** of / to, round by round. */
  ratio: Summary,
});

export const ScaleRun = Type.Object({
  services: Type.Integer(),
  populateSeconds: Type.Number(),
  modes: Type.Array(ModeRun),
  ratios: Type.Array(Ratio),
});
export type ScaleRun = Static<typeof ScaleRun>;

export const BenchRun = Type.Object({
  schema: Type.Literal('kube-bpf-proxy/bench-run'),
  version: Type.Literal(RUN_SCHEMA_VERSION),
  startedAt: Type.String(),
  finishedAt: Type.String(),
  /** How the run was started, argument by argument. */
  argv: Type.Array(Type.String()),
  options: Type.Object({
    suites: Type.Array(Type.String()),
    scales: Type.Array(Type.Integer()),
    rounds: Type.Integer(),
    quick: Type.Boolean(),
    seconds: Type.Number(),
    rate: Type.Number(),
    changes: Type.Integer(),
    burst: Type.Integer(),
    /** Which iptables kube-proxy's iptables mode drove: the machine's default (nft) or legacy x_tables. */
    iptables: Type.Union([Type.Literal('default'), Type.Literal('legacy')]),
  }),
  machine: Machine,
  tools: Type.Record(Type.String(), Type.String()),
  scales: Type.Array(ScaleRun),
  datapath: Type.Optional(datapathSuite),
  /** Everything that went wrong, each with its reason; a run with any exits non-zero. */
  failures: Type.Array(
    Type.Object({
      suite: Type.String(),
      services: Type.Union([Type.Integer(), Type.Null()]),
      mode: Type.Union([Type.String(), Type.Null()]),
      round: Type.Union([Type.Integer(), Type.Null()]),
      reason: Type.String(),
    }),
  ),
});
export type BenchRun = Static<typeof BenchRun>;
export type Failure = BenchRun['failures'][number];
