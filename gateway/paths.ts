import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

let cachedRoot: string | undefined;

/**
 * The package root (the folder with HEPEK's package.json), found by walking up from this file so
 * that the same code works from `gateway/` under tsx and from `dist/gateway/` when compiled.
 */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === 'hepek') return (cachedRoot = dir);
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find HEPEK's package.json above ${__dirname}`);
    dir = up;
  }
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
