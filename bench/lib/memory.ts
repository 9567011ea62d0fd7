// Resident memory of benchmark processes, from Linux /proc (0 elsewhere).
import { readFileSync } from 'node:fs';
import { processTree } from './processes.js';

/** VmRSS of a process in bytes (0 when unknown). */
export function processRssBytes(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

/** VmRSS of a process and its descendants (nginx: master + workers; pages they share count once per process). */
export function treeRssBytes(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + processRssBytes(p), 0);
}
