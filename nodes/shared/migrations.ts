/**
 * Versioned node configs. Every HEPEK node saves `configVersion`; a flow saved by an older HEPEK
 * is brought up to date step by step when it loads, and one saved by a newer HEPEK is refused with
 * a clear error instead of being misread. Add a step here whenever a node's saved fields change.
 */
import { ConfigError } from '../../gateway/errors';
import type { NodeType } from '../types';
import type { NodeDef } from './red';

/** A step may change the config it is given and must return it (or a descriptor-preserving copy). */
type Step = (def: NodeDef) => NodeDef;

/** MIGRATIONS[type][v] turns a version-v config into version v+1. */
const MIGRATIONS: Record<NodeType, Step[]> = {
  // Version 0 is a config saved before versions existed; its fields are version 1's.
  'hepek-config': [(def) => def],
  'hepek-meter-read': [
    (def) => def,
    // 1 → 2: sources arrived; a node saved before them read the gateway's meter.
    (def) => {
      if (def.source === undefined || def.source === '') def.source = 'gateway';
      return def;
    },
  ],
  'hepek-balance': [(def) => def],
  'hepek-relay': [(def) => def],
  'hepek-price-forecast': [(def) => def],
  'hepek-battery': [(def) => def],
  'hepek-thermostat': [(def) => def],
  'hepek-list-offer': [(def) => def],
  'hepek-market-buy': [(def) => def],
  'hepek-channel-sign': [(def) => def],
  'hepek-mint': [(def) => def],
  'hepek-demand-listener': [(def) => def],
};

/** The version each type's editor saves (its `configVersion` default in the .html). */
export function currentConfigVersion(type: NodeType): number {
  return MIGRATIONS[type].length;
}

export function migrateConfig(type: NodeType, def: NodeDef): NodeDef {
  const current = currentConfigVersion(type);
  const raw = def.configVersion;
  const version = raw === undefined || raw === '' ? 0 : Number(raw);
  if (!Number.isInteger(version) || version < 0)
    throw new ConfigError('configVersion', raw, `a whole number from 0 to ${current}`);
  if (version > current)
    throw new ConfigError(
      'configVersion',
      raw,
      `at most ${current}: this ${type} node was saved by a newer HEPEK; upgrade HEPEK to run this flow`,
    );
  // Copy with descriptors: Node-RED hangs non-enumerable internals (_flow, _alias) on the config.
  let migrated = Object.defineProperties({}, Object.getOwnPropertyDescriptors(def)) as NodeDef;
  for (let v = version; v < current; v++) migrated = MIGRATIONS[type][v]!(migrated);
  migrated.configVersion = current;
  return migrated;
}
