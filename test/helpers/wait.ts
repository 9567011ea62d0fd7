// The one way a test waits for something it can observe: poll a probe until it answers, with a deadline, so a
// wait that never ends fails as a named timeout instead of hanging the run or leaning on a fixed sleep.
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

/**
 * Calls `probe` every `intervalMs` until it returns a truthy value, and resolves with that value; rejects with
 * `timed out after <timeoutMs> ms waiting for <what>` and the last value seen once `timeoutMs` passed.
 * A probe that throws fails the wait at once.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | null | false | 0 | '' | Promise<T | undefined | null | false | 0 | ''>,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as T;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last value: ${inspect(value)})`);
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}
