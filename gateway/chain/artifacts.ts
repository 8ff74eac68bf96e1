import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, StateError } from '../errors';
import { packageRoot } from '../paths';

/** EVM versions in release order; a chain runs code compiled for its own fork or an older one. */
const FORKS = ['london', 'paris', 'shanghai', 'cancun', 'prague'];

/** The EVM version the contracts were compiled for (artifacts/.build-info.json, written by the build). */
export function contractsEvmVersion(root = packageRoot()): string {
  const file = path.join(root, 'artifacts', '.build-info.json');
  if (!existsSync(file)) throw new StateError(file, 'missing; run `npm run build` to compile the contracts');
  return (JSON.parse(readFileSync(file, 'utf8')) as { evmVersion: string }).evmVersion;
}

/** Refuses a dev-chain hardfork older than the contracts' target, which would fail at deployment. */
export function checkHardfork(hardfork: string, evmVersion: string): void {
  const chain = FORKS.indexOf(hardfork);
  const code = FORKS.indexOf(evmVersion);
  if (chain >= 0 && code >= 0 && chain < code)
    throw new ConfigError(
      'chain.hardfork',
      hardfork,
      `a hardfork at least as new as the contracts' evmVersion "${evmVersion}" (${FORKS.slice(code).join(', ')}), or rebuild them with HEPEK_EVM_VERSION=${hardfork} npm run build -- --force`,
    );
}
