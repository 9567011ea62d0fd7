// What the runtime waits on by itself: its listeners' timings and the debounce of policy file events. These are the
// production values; the in-process tests pass shorter ones to startPortcullis instead of waiting them out.
import { LISTENER_TIMINGS, type ListenerTimings } from '../protocols/timings.js';

export interface Timings extends ListenerTimings {
  /** A burst of config and policy file events (one editor save is several) reloads once, this long after the last. */
  readonly policyDebounceMs: number;
}

export const TIMINGS: Timings = { ...LISTENER_TIMINGS, policyDebounceMs: 200 };
