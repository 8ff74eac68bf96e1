/**
 * The broker's registry check: is this serial a registered, claimed and active device in the
 * GatewayRegistry? A device login is admitted only if its HMAC password is right *and* this says
 * yes, so a revoked device is locked out even though its password can still be derived.
 *
 * Answers are kept for `ttlMs` (logins come in bursts after a broker restart). When the chain does
 * not answer, the last known answer for that serial stands (an RPC outage must not lock every
 * registered device out of billing); a serial never seen before is refused as "server
 * unavailable" by the caller until the chain answers again.
 */
import type { AbstractProvider } from 'ethers';
import { deviceIdFromSerial } from '../chain/ids';
import { GatewayRegistry__factory } from '../chain/types';

export interface RegistryCheckOptions {
  provider: AbstractProvider;
  registry: string;
  ttlMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

export function registryCheck(options: RegistryCheckOptions): (serial: string) => Promise<boolean> {
  const registry = GatewayRegistry__factory.connect(options.registry, options.provider);
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const known = new Map<string, { active: boolean; at: number }>();
  return async (serial) => {
    const cached = known.get(serial);
    if (cached && now() - cached.at < ttlMs) return cached.active;
    try {
      const active = await registry.isActiveClaimed(deviceIdFromSerial(serial));
      known.set(serial, { active, at: now() });
      return active;
    } catch (err) {
      if (cached) {
        log(
          `broker: registry does not answer (${(err as Error).message}); device ${serial} keeps its last known status (${cached.active ? 'active' : 'not active'})`,
        );
        return cached.active;
      }
      throw err;
    }
  };
}
