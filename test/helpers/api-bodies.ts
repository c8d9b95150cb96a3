// The reply bodies of admin API routes whose schemas src/api/routes/ keeps to itself, declared from
// the shapes they are made of (the other routes' bodies are src's own types: AgentStatus, Counters,
// ServiceView, MaglevView, ErrorReply).
import type { BackendUse, ConnectionView, ServiceView } from '../../src/inspect/shapes.js';

/** GET /v1/services (ServiceList in routes/services.ts). */
export interface ServiceList {
  services: ServiceView[];
  orphanFrontends: string[];
}

/** GET /v1/backends (BackendList in routes/backends.ts). */
export interface BackendList {
  backends: BackendUse[];
}

/** GET /v1/conntrack (ConntrackPage in routes/conntrack.ts). */
export interface ConntrackPage {
  total: number;
  offset: number;
  connections: ConnectionView[];
}

/** POST /v1/bench/datapath (DatapathBench in routes/bench.ts): ns/packet by case. */
export interface DatapathBench {
  repeat: number;
  results: Record<string, number>;
}
