// Issue #19: flow records never print `null` (or `undefined`, or anything that is not JSON).
import assert from 'node:assert/strict';

/** Parses one flow line and fails, naming the path, on any null anywhere in it. */
export function assertNoNull(line: string): void {
  let parsed: unknown;
  assert.doesNotThrow(() => (parsed = JSON.parse(line)), `not JSON: ${line}`);
  const walk = (value: unknown, path: string): void => {
    assert.notEqual(value, null, `null at ${path} in ${line}`);
    if (typeof value === 'object') for (const [key, v] of Object.entries(value as object)) walk(v, `${path}.${key}`);
  };
  walk(parsed, '$');
}
