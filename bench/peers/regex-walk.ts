// bench/workers' control: the CPU work of one request's rule walk (the paths of walkedRegexPolicy, matched by
// Portcullis' own matcher against the landing's path) with no sockets, repeated for argv[2] seconds over
// argv[3] rules; prints the walks done. Run as 1 and as 2 processes at once, it shows how far this machine
// scales plain CPU work from one core to two: the ceiling for 2 workers over 1.
import { compileFullMatch, type StringMatcher } from '../../src/policy/regex.js';
import { walkedRegexPaths } from '../lib/policies.js';

const seconds = Number(process.argv[2] ?? 3);
const matchers = walkedRegexPaths(Number(process.argv[3] ?? 10_000)).map((p) => compileFullMatch(p) as StringMatcher);
const end = Date.now() + seconds * 1000;
let walks = 0;
while (Date.now() < end) {
  for (const m of matchers) if (m.matches('/v1/request-landing')) break;
  walks++;
}
process.stdout.write(`${walks}\n`);
