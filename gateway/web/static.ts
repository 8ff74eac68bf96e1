import { createReadStream, existsSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { HttpRequest } from '../nodered/embedded';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

function fail(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`${text}\n`);
}

/**
 * Serves the built page from `dir` under `base`: `base` and `base/` are index.html, the rest is
 * looked up as a file inside `dir` (never outside it). Vite names assets by content hash, so they
 * may be cached for good; index.html is revalidated so a rebuilt page shows at once.
 */
export function serveStatic(dir: string, base: string) {
  const root = path.resolve(dir);
  return (req: HttpRequest, res: ServerResponse): void => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    let relative: string;
    try {
      relative = decodeURIComponent(pathname.slice(base.length)).replace(/^\/+/, '');
    } catch {
      return fail(res, 400, `path: ${pathname} is not valid percent-encoding`);
    }
    if (relative === '') relative = 'index.html';
    const file = path.resolve(root, relative);
    if (file !== root && !file.startsWith(root + path.sep)) return fail(res, 404, 'not found');
    if (!existsSync(path.join(root, 'index.html')))
      return fail(res, 503, `the DApp is not built (no ${path.join(root, 'index.html')}); run npm run build`);
    if (!existsSync(file) || !statSync(file).isFile()) return fail(res, 404, 'not found');
    res.statusCode = 200;
    res.setHeader('content-type', TYPES[path.extname(file)] ?? 'application/octet-stream');
    res.setHeader(
      'cache-control',
      relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    res.setHeader('x-content-type-options', 'nosniff');
    createReadStream(file).pipe(res);
  };
}
