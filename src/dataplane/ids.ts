// Kernel ids for services, backends and reverse-NAT entries. Ids are stable across agent restarts
// (adopted from the pinned maps) and handed out in increasing order, so a freed id is not reused soon:
// a conntrack entry that still names a removed backend then finds nothing instead of a stranger.
// Id 0 is reserved as "none".
import { ErrorCode, KbpError } from '../errors.js';

export class IdAllocator {
  private readonly used = new Set<number>();
  private next = 1;

  constructor(private readonly max: number) {}

  /** Marks an id found in the maps as taken. */
  adopt(id: number): void {
    this.used.add(id);
    if (id >= this.next) this.next = id + 1 > this.max ? 1 : id + 1;
  }

  allocate(): number {
    for (let tries = 0; tries < this.max; tries++) {
      const id = this.next;
      this.next = id >= this.max ? 1 : id + 1;
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
    throw new KbpError(ErrorCode.IdSpaceExhausted, `all ${this.max} ids are in use`);
  }

  release(id: number): void {
    this.used.delete(id);
  }

  get size(): number {
    return this.used.size;
  }
}

/**
 * Natural key -> id, for one kind of object. Keys of the desired state get ids (adopted or new);
 * ids whose keys left the desired state are released one by one (`release`) or all at once (`retain`).
 */
export class IdBook {
  private readonly byKey = new Map<string, number>();
  private readonly allocator: IdAllocator;

  constructor(max: number) {
    this.allocator = new IdAllocator(max);
  }

  adopt(key: string, id: number): void {
    if (this.byKey.has(key)) return;
    this.byKey.set(key, id);
    this.allocator.adopt(id);
  }

  idFor(key: string): number {
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.allocator.allocate();
      this.byKey.set(key, id);
    }
    return id;
  }

  release(key: string): void {
    const id = this.byKey.get(key);
    if (id === undefined) return;
    this.byKey.delete(key);
    this.allocator.release(id);
  }

  /** Forgets every key not in `live`, freeing its id. */
  retain(live: ReadonlySet<string>): void {
    for (const [key, id] of this.byKey) {
      if (!live.has(key)) {
        this.byKey.delete(key);
        this.allocator.release(id);
      }
    }
  }

  get size(): number {
    return this.byKey.size;
  }
}
