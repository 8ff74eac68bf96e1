/**
 * Deploying and provisioning on a chain: each step happens once, someone else's deployment is
 * used as it is, and state that does not belong together is refused with the field or file named.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BrowserProvider, Wallet, id } from 'ethers';
import { resolveSettings, type Settings } from '../settings';
import type { ChainConnection } from '../gateway/chain/connect';
import { EmbeddedChain } from '../gateway/chain/embedded';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import {
  demoPaymentId,
  ensureContracts,
  provisionDevice,
  type DeviceIdentity,
} from '../gateway/chain/provision';
import { ConfigError, StateError } from '../gateway/errors';
import { loadOrCreateDevAccounts, type DevAccounts } from '../gateway/identity/dev-accounts';
import { testKey } from './helpers/chain';
import { removeDir, tempDir } from './helpers/gateway';

interface Ctx {
  dir: string;
  chain: EmbeddedChain;
  conn: ChainConnection;
  settings: Settings;
  accounts: DevAccounts;
  device: DeviceIdentity;
  logs: string[];
}

const provision = suite<Ctx>('deploy and provision');

/** A connection over a fresh in-memory chain; `external` makes it look like a JSON-RPC node. */
function connection(chain: EmbeddedChain, external = false): ChainConnection {
  const provider = new BrowserProvider(chain, 31337, { cacheTimeout: -1 });
  return {
    provider,
    chainId: 31337,
    embedded: external ? null : chain,
    rpcUrl: external ? 'http://127.0.0.1:1/test' : null,
    label: 'test chain',
    async close() {
      provider.destroy();
    },
  };
}

provision.before.each(async (ctx) => {
  ctx.dir = tempDir('provision');
  ctx.chain = await EmbeddedChain.open({ dir: null, chainId: 31337, hardfork: 'cancun' });
  ctx.conn = connection(ctx.chain);
  ctx.settings = resolveSettings({ userDir: ctx.dir }, {});
  ctx.accounts = loadOrCreateDevAccounts(path.join(ctx.dir, 'keys'));
  const serial = 'HPK-PROVISION-1';
  ctx.device = {
    serial,
    deviceId: deviceIdFromSerial(serial),
    signer: new Wallet(testKey('device')),
    ratedExportW: 4000,
  };
  ctx.logs = [];
});

provision.after.each(async (ctx) => {
  await ctx.conn.close();
  await ctx.chain.close();
  removeDir(ctx.dir);
});

provision('deploys once, registers, claims and mints once; a second run changes nothing', async (ctx) => {
  const log = (line: string) => ctx.logs.push(line);
  const first = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, log);
  await provisionDevice(ctx.conn, first, ctx.accounts, ctx.device, 5, log);
  const info = await first.contracts.registry.deviceOf(ctx.device.deviceId);
  assert.is(info.key, ctx.device.signer.address);
  assert.is(info.owner, ctx.accounts.member.address);
  assert.is(await first.contracts.token.balanceOf(ctx.device.signer.address), 5n * 10n ** 18n);

  const block = await ctx.conn.provider.getBlockNumber();
  const second = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, log);
  await provisionDevice(ctx.conn, second, ctx.accounts, ctx.device, 5, log);
  assert.equal(second.contracts.addresses, first.contracts.addresses);
  assert.is(await ctx.conn.provider.getBlockNumber(), block, 'no transaction on the second run');
  const record = JSON.parse(readFileSync(second.recordFile!, 'utf8'));
  assert.equal(record.demoMinted, [ctx.device.deviceId]);
});

provision(
  'a device registered with another key is refused: the keystore does not belong here',
  async (ctx) => {
    const deployed = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, () => {});
    await provisionDevice(ctx.conn, deployed, ctx.accounts, ctx.device, 0, () => {});
    const impostor = { ...ctx.device, signer: new Wallet(testKey('other-device')) };
    try {
      await provisionDevice(ctx.conn, deployed, ctx.accounts, impostor, 0, () => {});
      assert.unreachable();
    } catch (err) {
      assert.instance(err, StateError);
      assert.match(
        (err as Error).message,
        `device HPK-PROVISION-1 is registered with key ${ctx.device.signer.address}, but this gateway's key is ${impostor.signer.address}`,
      );
    }
  },
);

provision('chain.contracts is used as it is; an address without code is named', async (ctx) => {
  const ours = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, () => {});
  const given = resolveSettings({ userDir: ctx.dir, chain: { contracts: ours.contracts.addresses } }, {});
  const reused = await ensureContracts(ctx.conn, given, ctx.accounts, () => {});
  assert.equal(reused.contracts.addresses, ours.contracts.addresses);
  assert.is(reused.record, null, "someone else's deployment is not ours to provision");
  // Not registered there: the gateway says whom to ask, and does nothing on chain.
  const block = await ctx.conn.provider.getBlockNumber();
  await provisionDevice(ctx.conn, reused, ctx.accounts, ctx.device, 5, (l) => ctx.logs.push(l));
  assert.is(await ctx.conn.provider.getBlockNumber(), block);
  assert.ok(
    ctx.logs.some((l) => l.includes('ask the manufacturer to register')),
    ctx.logs.join('\n'),
  );

  const empty = `0x${'12'.repeat(20)}`;
  const wrong = resolveSettings(
    {
      userDir: ctx.dir,
      chain: { contracts: { ErgonToken: empty, GatewayRegistry: ours.contracts.addresses.GatewayRegistry } },
    },
    {},
  );
  try {
    await ensureContracts(ctx.conn, wrong, ctx.accounts, () => {});
    assert.unreachable();
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as ConfigError).field, 'chain.contracts.ErgonToken');
    assert.match(
      (err as Error).message,
      `"${empty}" is not allowed; expected the address of a deployed ErgonToken on chain 31337`,
    );
  }
});

provision('a remembered deployment from another chain is not reused', async (ctx) => {
  const first = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, () => {});
  // A node reset to a new genesis: same chain id, nothing deployed.
  const fresh = await EmbeddedChain.open({ dir: null, chainId: 31337, hardfork: 'cancun' });
  const conn = connection(fresh);
  try {
    const logs: string[] = [];
    const second = await ensureContracts(conn, ctx.settings, ctx.accounts, (l) => logs.push(l));
    // Two fresh dev chains made in the same second share a genesis hash, so the code check is
    // what notices it here; a node reset later gets a new genesis and is caught by the hash.
    assert.ok(
      logs.some((l) => /another chain|no code on this chain/.test(l)),
      logs.join('\n'),
    );
    assert.ok(
      logs.some((l) => l.startsWith('chain: deployed')),
      'deployed again',
    );
    assert.ok((await conn.provider.getCode(second.contracts.addresses.ErgonToken)) !== '0x');
    assert.ok(first.record !== null && second.record !== null);
  } finally {
    await conn.close();
    await fresh.close();
  }
});

provision(
  'on a node whose dev accounts hold no ETH and with nothing unlocked, chain.rpcUrl is named',
  async (ctx) => {
    const external = connection(ctx.chain, true);
    try {
      await ensureContracts(external, ctx.settings, ctx.accounts, () => {});
      assert.unreachable();
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).field, 'chain.rpcUrl');
      assert.match((err as Error).message, 'hold ETH for gas: fund them, enable chain.devFunding');
      assert.match((err as Error).message, ctx.accounts.operator.address);
    } finally {
      await external.close();
    }
  },
);

provision(
  'the ledger set is deployed; only MeterReadings and Purchase mint; the device is a prosumer',
  async (ctx) => {
    const deployed = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, () => {});
    const { addresses, token, registry, purchase } = deployed.contracts;
    assert.equal(Object.keys(addresses), [
      'ErgonToken',
      'GatewayRegistry',
      'MeterReadings',
      'Purchase',
      'PaymentChannels',
      'EnergyMarket',
    ]);
    const minter = id('MINTER_ROLE');
    assert.ok(await token.hasRole(minter, addresses.MeterReadings!));
    assert.ok(await token.hasRole(minter, addresses.Purchase!));
    assert.not.ok(await token.hasRole(minter, ctx.accounts.operator.address), 'the operator no longer mints');
    await provisionDevice(ctx.conn, deployed, ctx.accounts, ctx.device, 3, () => {});
    assert.is((await registry.deviceOf(ctx.device.deviceId)).mode, 1n);
    assert.ok(await purchase!.isRedeemed(demoPaymentId(ctx.device.deviceId)), 'minted through a receipt');
    const record = JSON.parse(readFileSync(deployed.recordFile!, 'utf8'));
    assert.equal(record.contracts, addresses);
  },
);

provision(
  'a crash after the demo mint but before the record was written does not mint twice',
  async (ctx) => {
    const log = (line: string) => ctx.logs.push(line);
    const deployed = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, log);
    await provisionDevice(ctx.conn, deployed, ctx.accounts, ctx.device, 5, log);
    // Simulate the crash: the record forgets the mint, as if the process died before writing it.
    const record = JSON.parse(readFileSync(deployed.recordFile!, 'utf8'));
    record.demoMinted = [];
    writeFileSync(deployed.recordFile!, JSON.stringify(record));
    const again = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, log);
    await provisionDevice(ctx.conn, again, ctx.accounts, ctx.device, 5, log);
    assert.is(await again.contracts.token.balanceOf(ctx.device.signer.address), 5n * 10n ** 18n);
    assert.ok(
      ctx.logs.some((l) => l.includes('were minted before')),
      ctx.logs.join('\n'),
    );
    assert.equal(JSON.parse(readFileSync(again.recordFile!, 'utf8')).demoMinted, [ctx.device.deviceId]);
  },
);

provision('a remembered deployment without the newer contracts is replaced by the whole set', async (ctx) => {
  const log = (line: string) => ctx.logs.push(line);
  const first = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, log);
  const record = JSON.parse(readFileSync(first.recordFile!, 'utf8'));
  delete record.contracts.MeterReadings;
  delete record.contracts.Purchase;
  writeFileSync(first.recordFile!, JSON.stringify(record));
  const second = await ensureContracts(ctx.conn, ctx.settings, ctx.accounts, log);
  assert.ok(
    ctx.logs.some((l) => l.includes('(MeterReadings, Purchase) have no code')),
    ctx.logs.join('\n'),
  );
  assert.is.not(second.contracts.addresses.ErgonToken, first.contracts.addresses.ErgonToken);
  assert.ok(second.contracts.readings !== null && second.contracts.purchase !== null);
});

provision.run();
