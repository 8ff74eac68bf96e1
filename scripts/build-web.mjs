// The DApp build: gateway/web/page (plain TypeScript + ethers) → dist/web with Vite. Served by the
// gateway under /dapp, so asset URLs start with /dapp/. Nothing is fetched at run time.
import path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);

export async function buildWeb({ quiet = true } = {}) {
  const { build } = await import('vite');
  await build({
    configFile: false,
    root: path.join(root, 'gateway', 'web', 'page'),
    base: '/dapp/',
    logLevel: quiet ? 'warn' : 'info',
    publicDir: false,
    build: {
      outDir: path.join(root, 'dist', 'web'),
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: true,
      // ethers is most of the bundle; one file is fine for a page served from the same machine.
      chunkSizeWarningLimit: 1200,
    },
  });
}
