// Benchmark upstream: the Star Wars deathstar on the host:port given as argv[2], argv[3].
import { startDeathstar } from '../../src/demo/starwars/deathstar.js';

await startDeathstar(process.argv[2] ?? '127.0.0.10', Number(process.argv[3] ?? 0));
