// Finds files shipped with the package (policies/, demo assets) whether running from src/ or dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the portcullis package root');
    dir = parent;
  }
  return dir;
}

export const packageRoot = findRoot();

export function packageFile(...parts: string[]): string {
  return join(packageRoot, ...parts);
}
