// Feeding a Hubble ring in tests as the recorder's `onLine` does: a flow's rendered JSON line and its time.
import type { FlowRing } from '../../src/observe/hubble/ring.js';
import { renderFlow, type RenderOptions } from '../../src/observe/hubble-flow.js';
import type { FlowEvent } from '../../src/observe/types.js';

/** The recorder's line for `event` (no newline), as bytes. */
export function flowLine(event: FlowEvent, render: RenderOptions): Buffer {
  return Buffer.from(renderFlow(event, render));
}

export function pushFlow(ring: FlowRing, event: FlowEvent, render: RenderOptions): void {
  ring.push(flowLine(event, render), event.time.getTime());
}
