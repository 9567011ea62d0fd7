// The program each worker process runs (node:cluster's `exec`, set by primary.ts).
import { runWorker } from './worker.js';

runWorker();
