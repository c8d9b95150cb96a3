// The pure half of the agent's pipeline: source events through the change tracker, then the
// compiler over what changed. The agent adds the effects (timers, map writes) around it.
import type { SourceEvent } from '../model/events.js';
import { ChangeTracker } from '../model/tracker.js';
import type { NodeConfig, Rejection } from '../model/types.js';
import { ServiceCompiler, type CompiledUpdate } from './compiler.js';

export interface PipelineOutput extends CompiledUpdate {
  /** Everything not served and why: unreadable input, refused objects, skipped service ports. */
  rejected: Rejection[];
  /** When the endpoint changes compiled here were triggered (epoch ms). */
  triggeredAt: number[];
}

export class ServicePipeline {
  private readonly tracker: ChangeTracker;
  private readonly compiler: ServiceCompiler;

  constructor(node: NodeConfig, options: { maxTableSize?: number } = {}) {
    this.tracker = new ChangeTracker(node);
    this.compiler = new ServiceCompiler(options);
  }

  apply(event: SourceEvent): void {
    this.tracker.apply(event);
  }

  /** Kubernetes services changed since the last compile(). */
  get pending(): number {
    return this.tracker.pending;
  }

  /** Compiles what changed since the last call. */
  compile(): PipelineOutput {
    const { services, triggeredAt } = this.tracker.take();
    const compiled = this.compiler.update(this.tracker.state, services);
    return { ...compiled, rejected: [...this.tracker.rejections(), ...compiled.skipped], triggeredAt };
  }
}
