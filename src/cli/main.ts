#!/usr/bin/env node
// portcullis: the command line. Each command lives in its own file; this one only wires them up.
import { Command } from 'commander';
import { registerBackend } from './backend.js';
import { registerCerts } from './certs.js';
import { registerCheck } from './check.js';
import { registerDemo } from './demo.js';
import { registerObserve } from './observe.js';
import { registerTest } from './test-command.js';
import { registerRun } from './run.js';
import { registerTrace } from './trace.js';
import { addUsageHints } from './usage-hints.js';
import { registerVersion } from './version.js';

const program = new Command()
  .name('portcullis')
  .description('L7 policy-enforcing proxy for CiliumNetworkPolicy: HTTP/1.1, HTTP/2, gRPC, Kafka and TLS')
  .addHelpText('after', '\nExit codes: 0 success (trace: allowed), 1 invalid config/policy or failure, 2 trace: denied.');

registerRun(program);
registerCheck(program);
registerTrace(program);
registerTest(program);
registerObserve(program);
registerDemo(program);
registerCerts(program);
registerBackend(program);
registerVersion(program);
addUsageHints(program);

await program.parseAsync(process.argv);
