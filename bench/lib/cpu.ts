// Where a benchmark's CPU went, from Linux /proc: seconds used by given processes and how busy the whole
// machine was. On a small shared machine a proxy's throughput depends on whether the cores are already
// full without it, which these figures show. Elsewhere than Linux they read as 0.
import { readFileSync } from 'node:fs';
import { processTree } from './processes.js';

/** User + system CPU seconds of a process so far (0 when unknown). */
export function processCpuSeconds(pid: number | undefined): number {
  return statSeconds(pid, 11);
}

/**
 * User + system CPU seconds of this process's children that have exited and been waited for, so far: how a
 * load generator run to its end (wrk) is measured, as its own /proc entry is gone by then.
 */
function exitedChildrenCpuSeconds(): number {
  return statSeconds('self', 13);
}

/** Two adjacent clock-tick fields of /proc/<pid>/stat from `at` (counted after the command name), in seconds. */
function statSeconds(pid: number | 'self' | undefined, at: number): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the parenthesised command name: utime, stime, cutime and cstime are the 12th to 15th, in
    // clock ticks (100 Hz).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[at]) + Number(fields[at + 1])) / 100;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of a process and its descendants so far (nginx: master + workers). */
export function treeCpuSeconds(pid: number | undefined): number {
  return pid === undefined ? 0 : processTree(pid).reduce((sum, p) => sum + processCpuSeconds(p), 0);
}

/** Clock ticks of all cores so far: total and idle (idle + iowait). */
function machineTicks(): { all: number; idle: number } {
  try {
    const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { all: ticks.reduce((a, b) => a + b, 0), idle: ticks[3]! + ticks[4]! };
  } catch {
    return { all: 0, idle: 0 };
  }
}

export interface CpuUse {
  /**
   * CPU seconds of each watched process (by default with its descendants), by name; `self` is this process and
   * `exited` its children that ended meanwhile.
   */
  readonly seconds: Record<string, number>;
  /** Share of all cores' time that was busy, 0..1. */
  readonly busy: number;
}

/**
 * Starts measuring `pids` (by name), by default each with its descendants, as a Portcullis with workers is a
 * primary and its forks (`cpuOf` = processCpuSeconds for single processes); the returned function ends it.
 */
export function measureCpu(pids: Record<string, number | undefined>, cpuOf: (pid: number | undefined) => number = treeCpuSeconds): () => CpuUse {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuOf(pid)]));
  const self = process.cpuUsage();
  const exited = exitedChildrenCpuSeconds();
  const ticks = machineTicks();
  return () => {
    const seconds = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuOf(pid) - before[name]!]));
    const used = process.cpuUsage(self);
    seconds.self = (used.user + used.system) / 1e6;
    seconds.exited = exitedChildrenCpuSeconds() - exited;
    const now = machineTicks();
    const all = now.all - ticks.all;
    return { seconds, busy: all > 0 ? 1 - (now.idle - ticks.idle) / all : 0 };
  };
}
