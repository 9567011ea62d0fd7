// Caps on the connections a listener holds open: in total, and per source address. Every accepted socket costs a
// file descriptor and buffers until it closes, whatever policy later says about it, so it is counted from accept
// to close. Source entries are removed when their count drops to zero: the map is as large as the number of
// sources with a connection open, never more.
import type { RefusalReason } from '../observe/types.js';

export class ConnectionCaps {
  private total = 0;
  private readonly bySource = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerSource: number,
  ) {}

  /** Counts one more connection from `source`, or says which cap it would exceed (nothing counted then). */
  take(source: string): RefusalReason | undefined {
    if (this.total >= this.maxConnections) return 'LISTENER_CONNECTION_LIMIT';
    const held = this.bySource.get(source) ?? 0;
    if (held >= this.maxPerSource) return 'SOURCE_CONNECTION_LIMIT';
    this.total++;
    this.bySource.set(source, held + 1);
    return undefined;
  }

  /** Gives back a connection `take` counted. */
  release(source: string): void {
    const held = this.bySource.get(source);
    if (held === undefined) return;
    this.total--;
    if (held <= 1) this.bySource.delete(source);
    else this.bySource.set(source, held - 1);
  }

  /** Open connections counted, and distinct sources holding them. */
  get counts(): { readonly connections: number; readonly sources: number } {
    return { connections: this.total, sources: this.bySource.size };
  }
}
