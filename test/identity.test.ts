/** The device keystore and the dev-role keys: created once, private on disk, reloaded the same. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { verifyTypedData } from 'ethers';
import { StateError } from '../gateway/errors';
import { loadOrCreateDevAccounts } from '../gateway/identity/dev-accounts';
import { KeystoreSigner } from '../gateway/identity/keystore';
import { removeDir, tempDir } from './helpers/gateway';

const identity = suite<{ dir: string }>('device identity');
identity.before.each((ctx) => {
  ctx.dir = tempDir('keys');
});
identity.after.each((ctx) => removeDir(ctx.dir));

identity('the keystore is created encrypted, mode 0600, and reloads to the same key', async (ctx) => {
  const a = await KeystoreSigner.open({ dir: ctx.dir, password: 'pw-123456', scryptN: 1024 });
  const file = path.join(ctx.dir, 'device-keystore.json');
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.is(statSync(ctx.dir).mode & 0o777, 0o700);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  assert.ok(json.crypto ?? json.Crypto, 'Web3 Secret Storage JSON');
  assert.not.ok(readFileSync(file, 'utf8').includes('privateKey'));
  const b = await KeystoreSigner.open({ dir: ctx.dir, password: 'pw-123456', scryptN: 1024 });
  assert.is(b.address, a.address);
});

identity('a keystore left readable by others is set back to 0600, and the log says so', async (ctx) => {
  const a = await KeystoreSigner.open({ dir: ctx.dir, password: 'pw-123456', scryptN: 1024 });
  const file = path.join(ctx.dir, 'device-keystore.json');
  chmodSync(file, 0o644);
  const logs: string[] = [];
  const b = await KeystoreSigner.open({
    dir: ctx.dir,
    password: 'pw-123456',
    scryptN: 1024,
    log: (l) => logs.push(l),
  });
  assert.is(b.address, a.address);
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.ok(
    logs.some((l) => l.includes('was readable by others (mode 644); set to 0600')),
    logs.join('\n'),
  );
});

identity('a wrong password is a StateError naming the keystore file', async (ctx) => {
  await KeystoreSigner.open({ dir: ctx.dir, password: 'right-password', scryptN: 1024 });
  try {
    await KeystoreSigner.open({ dir: ctx.dir, password: 'wrong-password', scryptN: 1024 });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StateError);
    assert.match((err as Error).message, /device-keystore\.json: cannot decrypt the device keystore/);
  }
});

identity('without a password one is generated once, 0600, and reused', async (ctx) => {
  const a = await KeystoreSigner.open({ dir: ctx.dir, password: null, scryptN: 1024 });
  assert.is(statSync(path.join(ctx.dir, '.keystore-password')).mode & 0o777, 0o600);
  const b = await KeystoreSigner.open({ dir: ctx.dir, password: null, scryptN: 1024 });
  assert.is(b.address, a.address);
});

identity('the signer signs EIP-712 data that recovers to its address', async (ctx) => {
  const signer = await KeystoreSigner.open({ dir: ctx.dir, password: 'pw-123456', scryptN: 1024 });
  const domain = { name: 'T', version: '1', chainId: 1 };
  const types = { M: [{ name: 'x', type: 'uint256' }] };
  const sig = await signer.signTypedData(domain, types, { x: 7 });
  assert.is(verifyTypedData(domain, types, { x: 7 }, sig), signer.address);
});

identity('dev-role keys are created once and reloaded', (ctx) => {
  const a = loadOrCreateDevAccounts(ctx.dir);
  const b = loadOrCreateDevAccounts(ctx.dir);
  for (const role of ['operator', 'manufacturer', 'hub', 'member'] as const)
    assert.is(b[role].address, a[role].address);
  assert.is(statSync(path.join(ctx.dir, 'dev-accounts.json')).mode & 0o777, 0o600);
  assert.is(new Set(Object.values(a).map((w) => w.address)).size, 4);
});

identity.run();
