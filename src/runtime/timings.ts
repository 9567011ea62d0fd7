// What the runtime waits on by itself: its listeners' timings and the debounce of file watching. These are the
// production values; the in-process tests pass shorter ones to startPortcullis instead of waiting them out.
import { LISTENER_TIMINGS, type ListenerTimings } from '../protocols/timings.js';

export interface Timings extends ListenerTimings {
  /** A burst of config and policy file events (one editor save is several) reloads once, this long after the last. */
  readonly policyDebounceMs: number;
  /** A burst of events on a secret's files (a certificate and its key replaced together) reloads it once, this long after the last. */
  readonly secretDebounceMs: number;
}

export const TIMINGS: Timings = { ...LISTENER_TIMINGS, policyDebounceMs: 200, secretDebounceMs: 100 };
