/**
 * The pure parts of the money path's wiring (gateway/channel/wire.ts): `hub.demand` checked at boot
 * naming the entry and field, which DEMAND event the embedded hub broadcasts when, and its flat
 * tariff — a valid hub-signed Tariff that prices every cycle, as the payer's TariffBook reads it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Wallet, parseEther } from 'ethers';
import { TariffBook } from '../gateway/channel/broadcasts';
import { FLAT_TARIFF_UNTIL_S, dueDemand, flatTariff, parseDemandSettings } from '../gateway/channel/wire';
import { ConfigError } from '../gateway/errors';
import { encodeSignedTariff, hubDomain, signTariff } from '../gateway/hub/protocol';
import { errorOf } from './helpers/assertions';

const event = (id: string, start: number, end: number) => ({
  id,
  start,
  end,
  level: 2,
  targetKw: 1,
  expiry: end,
});

test('hub.demand: the region defaults to hub.region; a bad entry is a ConfigError naming it', () => {
  assert.equal(parseDemandSettings([event('a', 100, 200)], 'nl'), [
    { ...event('a', 100, 200), region: 'nl' },
  ]);
  const err = errorOf(() =>
    parseDemandSettings([event('a', 100, 200), { ...event('b', 300, 400), level: 7 }], 'nl'),
  );
  assert.instance(err, ConfigError);
  assert.match(err.message, /^hub\.demand\[1\]\.level: 7 is not allowed; expected one of 0, 1, 2, 3/);
  assert.match(
    errorOf(() => parseDemandSettings([{ ...event('c', 300, 200) }], 'nl')).message,
    /^hub\.demand\[0\]\.end: 200 is not allowed/,
  );
});

test('dueDemand: the event in progress, else the next; none once all are over', () => {
  const events = parseDemandSettings([event('late', 500, 600), event('early', 100, 200)], 'nl');
  assert.is(dueDemand(events, 50)?.id, 'early');
  assert.is(dueDemand(events, 150)?.id, 'early');
  assert.is(dueDemand(events, 200)?.id, 'late', 'the end is exclusive');
  assert.is(dueDemand(events, 600), null);
});

test('the flat tariff is a valid signed Tariff pricing every cycle at hub.tariffErgonPerKWh', async () => {
  const hub = Wallet.createRandom();
  const domain = hubDomain(31337, '0x' + '22'.repeat(20));
  const tariff = flatTariff('nl', 0.25);
  assert.is(tariff.validUntil, FLAT_TARIFF_UNTIL_S);
  const signed = JSON.stringify(encodeSignedTariff(await signTariff(hub, domain, tariff)));
  const book = new TariffBook(domain);
  const nowS = Math.floor(Date.now() / 1000);
  assert.ok(book.accept(signed, { hub: hub.address, region: 'nl', nowS }), String(book.lastRefusal));
  assert.equal(book.priceAt(nowS), { tariffId: tariff.id, weiPerKWh: parseEther('0.25') });
  assert.equal(book.priceAt(nowS + 50 * 365 * 86400), { tariffId: tariff.id, weiPerKWh: parseEther('0.25') });
  // Another key's tariff is ignored with the reason.
  const forged = JSON.stringify(encodeSignedTariff(await signTariff(Wallet.createRandom(), domain, tariff)));
  assert.is(new TariffBook(domain).accept(forged, { hub: hub.address, region: 'nl', nowS }), null);
});

test.run();
