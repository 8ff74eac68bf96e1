/**
 * The broker's registry check (gateway/broker/registry.ts) against the real GatewayRegistry: a
 * registered, claimed device is admitted, an unclaimed or revoked one is not, an answer is kept
 * for its time to live, and while the chain does not answer a device keeps its last known status
 * — a serial never seen before is refused until the chain answers again.
 */
import * as assert from 'uvu/assert';
import { registryCheck } from '../gateway/broker/registry';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { flakyProvider } from './helpers/chain';
import { ledgerSuite, onboardDevice, registerDevice } from './helpers/ledger';

const s = ledgerSuite('broker registry check');

s(
  'registered and claimed only; cached; the last known status stands while the chain is down',
  async ({ l }) => {
    await onboardDevice(l); // HEPEK-0001, claimed by the member
    await registerDevice(l, deviceIdFromSerial('HEPEK-UNCLAIMED'), l.other.address, 1000);
    const { link, provider } = flakyProvider(l.chain.provider);
    let now = 0;
    const lines: string[] = [];
    const isRegistered = registryCheck({
      provider,
      registry: l.addresses.GatewayRegistry!,
      ttlMs: 60_000,
      now: () => now,
      log: (line) => lines.push(line),
    });
    assert.is(await isRegistered('HEPEK-0001'), true);
    assert.is(await isRegistered('HEPEK-UNCLAIMED'), false, 'registered but not claimed');
    assert.is(await isRegistered('HEPEK-NEVER'), false);
    const calls = link.calls;
    assert.is(await isRegistered('HEPEK-0001'), true);
    assert.is(link.calls, calls, 'answered from the cache within its time to live');

    // Revoked on chain: seen once the cached answer has expired.
    await (await l.registry.connect(l.manufacturer).revoke(l.deviceId)).wait();
    assert.is(await isRegistered('HEPEK-0001'), true, 'still cached');
    now += 60_001;
    assert.is(await isRegistered('HEPEK-0001'), false, 'revoked');

    link.down = true;
    now += 60_001;
    assert.is(await isRegistered('HEPEK-0001'), false, 'the last known status stands');
    assert.ok(
      lines.some((x) =>
        /registry does not answer .*HEPEK-0001 keeps its last known status \(not active\)/.test(x),
      ),
      lines.join('\n'),
    );
    let refused: unknown = null;
    await isRegistered('HEPEK-NEW').catch((err: unknown) => (refused = err));
    // The broker turns this rejection into "server unavailable" (auth.ts): not admitted.
    assert.instance(refused, Error, 'an unknown serial is not admitted while the chain is down');
  },
);

s.run();
