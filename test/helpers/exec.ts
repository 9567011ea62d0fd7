// Runs a command to completion and returns its exit code and output; a non-zero exit is a result, not a throw.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface Exited {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function execCommand(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Exited> {
  try {
    const { stdout, stderr } = await execFileP(file, args, { encoding: 'utf8', cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
