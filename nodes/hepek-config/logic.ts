/**
 * Pure logic of `hepek-config`: decoding its saved configuration and choosing the gateway parts.
 * No RED, timers or I/O here; the wrapper builds providers and simulators from the result.
 */
import type { MoneyPath } from '../../gateway/channel/wire';
import type { GatewayContext } from '../../gateway/context';
import { ConfigError } from '../../gateway/errors';
import { parseHouseholdOptions, type HouseholdOptions } from '../../gateway/sim/household';
import { isBlank, optionalNumber, optionalString, requiredAddress } from '../shared/fields';
import type { NodeGateway } from '../shared/gateway';

/** Used when neither the config nor an embedded gateway sets a threshold, ERGON. */
export const DEFAULT_LOW_THRESHOLD_ERGON = 1;

export interface EmbeddedSettings {
  mode: 'embedded';
  /** Overrides the gateway's default when set, ERGON. */
  lowThresholdErgon?: number;
}

export interface StandaloneSettings {
  mode: 'standalone';
  rpcUrl: string;
  /** Known chain id (skips network detection), or undefined to ask the node. */
  chainId?: number;
  tokenAddress: string;
  wallet: string;
  lowThresholdErgon: number;
  /** Options for the config's own simulated household. */
  simulator: HouseholdOptions;
}

export type HepekConfigSettings = EmbeddedSettings | StandaloneSettings;

const THRESHOLD = { min: 0, allowed: 'a number of ERGON ≥ 0, or blank for the default' };

/** Decodes a saved `hepek-config`; throws ConfigError naming the first bad field. */
export function normaliseConfig(def: Record<string, unknown>): HepekConfigSettings {
  const lowThresholdErgon = optionalNumber(def.lowThresholdErgon, 'lowThresholdErgon', THRESHOLD);
  const rpcUrl = optionalString(def.rpcUrl, 'rpcUrl');
  if (rpcUrl === undefined) return { mode: 'embedded', lowThresholdErgon };

  let url: URL | undefined;
  try {
    url = new URL(rpcUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(
      'rpcUrl',
      rpcUrl,
      'an http:// or https:// JSON-RPC URL, or blank to use the gateway that runs this Node-RED',
    );
  }
  const chainId = optionalNumber(def.chainId, 'chainId', {
    min: 1,
    integer: true,
    allowed: 'a positive integer chain id, or blank to ask the RPC',
  });
  const tokenAddress = requiredAddress(def.tokenAddress, 'tokenAddress');
  const wallet = requiredAddress(def.wallet, 'wallet');

  const simulatorRaw: Record<string, number> = {};
  for (const field of ['speed', 'intervalMs', 'pvPeakW'] as const) {
    if (isBlank(def[field])) continue;
    const value = typeof def[field] === 'string' ? Number((def[field] as string).trim()) : def[field];
    // parseHouseholdOptions names the field and the range; pass the original text when unparseable.
    simulatorRaw[field] = Number.isFinite(value) ? (value as number) : (def[field] as number);
  }
  const simulator = parseHouseholdOptions(simulatorRaw);

  return {
    mode: 'standalone',
    rpcUrl: url.toString(),
    chainId,
    tokenAddress,
    wallet,
    lowThresholdErgon: lowThresholdErgon ?? DEFAULT_LOW_THRESHOLD_ERGON,
    simulator,
  };
}

/** The embedded gateway's parts, or a ConfigError saying how to get some. */
export function embeddedGateway(found: GatewayContext | undefined, settings: EmbeddedSettings): NodeGateway {
  if (!found) {
    throw new ConfigError(
      'rpcUrl',
      '',
      'a JSON-RPC URL: no HEPEK gateway runs in this process (blank works only inside `hepek start`)',
    );
  }
  return {
    mode: 'embedded',
    meter: found.meter,
    relay: found.relay,
    balance: found.balance,
    wallet: found.wallet,
    lowThresholdErgon: settings.lowThresholdErgon ?? found.lowThresholdErgon ?? DEFAULT_LOW_THRESHOLD_ERGON,
    ...(found.battery ? { battery: found.battery } : {}),
    ...(found.thermostat ? { thermostat: found.thermostat } : {}),
    ...(found.market ? { market: found.market } : {}),
    // The runtime registers a MoneyPath (gateway/channel/wire.ts); the context keeps it opaque.
    ...(found.money ? { money: found.money as MoneyPath } : {}),
  };
}
