/**
 * The dev roles a first `npm start` plays (DESIGN.md §1): operator (token and registry admin,
 * minter), manufacturer (registers devices), hub (channel payee) and a demo member (claims the
 * device). Their keys are generated once and kept in plain text, mode 0600, because they only
 * ever hold dev-chain funds; a production gateway has none of them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Wallet } from 'ethers';
import { StateError } from '../errors';

export const DEV_ROLES = ['operator', 'manufacturer', 'hub', 'member'] as const;
export type DevRole = (typeof DEV_ROLES)[number];
export type DevAccounts = Record<DevRole, Wallet>;

export function loadOrCreateDevAccounts(dir: string): DevAccounts {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'dev-accounts.json');
  let keys: Partial<Record<DevRole, string>> = {};
  if (existsSync(file)) {
    try {
      keys = JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<DevRole, string>>;
    } catch (err) {
      throw new StateError(file, 'is not valid JSON', { cause: err });
    }
  }
  let changed = false;
  const accounts = {} as DevAccounts;
  for (const role of DEV_ROLES) {
    let key = keys[role];
    if (!key) {
      key = Wallet.createRandom().privateKey;
      keys[role] = key;
      changed = true;
    }
    try {
      accounts[role] = new Wallet(key);
    } catch (err) {
      throw new StateError(file, `${role}: not a valid private key`, { cause: err });
    }
  }
  if (changed)
    writeFileSync(
      file,
      `${JSON.stringify({ warning: 'dev-chain keys only; never fund these on a real network', ...keys }, null, 2)}\n`,
      { mode: 0o600 },
    );
  return accounts;
}
