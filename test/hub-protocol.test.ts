import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Wallet } from 'ethers';
import { STRUCTS, encodeHubType, type Tariff } from '../gateway/chain/typed-data';
import type { DemandEvent } from '../gateway/demand/types';
import {
  ACK_CODES,
  ackError,
  ackOk,
  encodeOpenMessage,
  encodeReadingMessage,
  encodeSignedTariff,
  encodeTopUpMessage,
  encodeVoucherMessage,
  hubDomain,
  hubTopics,
  parseAck,
  parseOpenMessage,
  parseReadingMessage,
  parseRequestTopic,
  parseTopUpMessage,
  parseVoucherMessage,
  salvageId,
  signDemand,
  signTariff,
  tariffInForce,
  tariffPriceAt,
  verifyDemand,
  verifyTariff,
  type VoucherMessage,
} from '../gateway/hub/protocol';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const hub = new Wallet('0x' + '11'.repeat(32));
const forger = new Wallet('0x' + '33'.repeat(32));
const domain = hubDomain(31337, '0x' + '22'.repeat(20));
const SIG = '0x' + 'ab'.repeat(64) + '1b';

function highSTwin(sig: string): string {
  const s = BigInt('0x' + sig.slice(66, 130));
  const v = parseInt(sig.slice(130), 16);
  return sig.slice(0, 66) + (N - s).toString(16).padStart(64, '0') + (v === 27 ? '1c' : '1b');
}

const topics = suite('hub protocol: topics');

topics('every topic of docs/money-path.md', () => {
  assert.is(hubTopics.open('HEPEK-0001'), 'hepek/HEPEK-0001/hub/open');
  assert.is(hubTopics.voucher('HEPEK-0001'), 'hepek/HEPEK-0001/hub/voucher');
  assert.is(hubTopics.reading('HEPEK-0001'), 'hepek/HEPEK-0001/hub/reading');
  assert.is(hubTopics.topup('HEPEK-0001'), 'hepek/HEPEK-0001/hub/topup');
  assert.is(hubTopics.ack('HEPEK-0001'), 'hepek/HEPEK-0001/hub/ack');
  assert.is(hubTopics.demand('nl-ams'), 'hepek/hub/demand/nl-ams');
  assert.is(hubTopics.tariff('nl-ams'), 'hepek/hub/tariff/nl-ams');
  assert.is(hubTopics.bids('ev-1'), 'hepek/hub/bids/ev-1');
  assert.is(hubTopics.requestFilter('voucher'), 'hepek/+/hub/voucher');
});

topics('a serial or region with a wildcard or separator is refused by name', () => {
  assert.throws(() => hubTopics.voucher('a/b'), /serial: "a\/b" is not allowed/);
  assert.throws(() => hubTopics.ack('#'), /serial: "#"/);
  assert.throws(() => hubTopics.ack(''), /serial: ""/);
  assert.throws(() => hubTopics.demand('x+'), /region: "x\+"/);
});

topics('parseRequestTopic round-trips and refuses other topics', () => {
  assert.equal(parseRequestTopic('hepek/S1/hub/voucher'), { serial: 'S1', kind: 'voucher' });
  assert.equal(parseRequestTopic('hepek/S1/hub/topup'), { serial: 'S1', kind: 'topup' });
  assert.is(parseRequestTopic('hepek/S1/hub/ack'), null);
  assert.is(parseRequestTopic('hepek/S1/reading'), null);
  assert.is(parseRequestTopic('hepek/hub/demand/x'), null);
});

const parsers = suite('hub protocol: payload parsers');

const voucher: VoucherMessage = {
  id: 'voucher-7-3',
  channelId: 7n << 96n,
  cumulativeAmount: 1234567890123456789012n,
  cycle: 3,
  importWh: 12345,
  tariffId: 't-1',
  signature: SIG,
};

parsers('a voucher round-trips through JSON', () => {
  const wire = JSON.parse(JSON.stringify(encodeVoucherMessage(voucher))) as Record<string, unknown>;
  assert.is(wire.cumulativeAmount, '1234567890123456789012');
  assert.equal(parseVoucherMessage(wire), voucher);
});

parsers('voucher refusals name the field, the value and what is allowed', () => {
  const wire = encodeVoucherMessage(voucher) as Record<string, unknown>;
  const cases: Array<[string, unknown, RegExp]> = [
    ['id', '', /voucher\.id: "" is not allowed; expected a request id/],
    ['channelId', 7, /voucher\.channelId: 7 is not allowed; expected a decimal string of a channel id/],
    ['cumulativeAmount', '-1', /voucher\.cumulativeAmount: "-1" .*decimal string of wei/],
    ['cumulativeAmount', '1e18', /voucher\.cumulativeAmount: "1e18"/],
    ['cumulativeAmount', '01', /voucher\.cumulativeAmount: "01"/],
    ['cumulativeAmount', (1n << 256n).toString(), /below 2\^256/],
    ['cycle', -1, /voucher\.cycle: -1 .*billing cycle number, an integer/],
    ['cycle', 1.5, /voucher\.cycle: 1\.5/],
    ['importWh', '5', /voucher\.importWh: "5"/],
    ['tariffId', '', /voucher\.tariffId: ""/],
    ['signature', '0x12', /voucher\.signature: "0x12" .*65-byte/],
    ['signature', SIG.slice(0, 130) + '05', /voucher\.signature: .*v 27 or 28/],
  ];
  for (const [field, value, re] of cases)
    assert.throws(() => parseVoucherMessage({ ...wire, [field]: value }), re, field);
  assert.throws(() => parseVoucherMessage([]), /voucher: \[\] is not allowed; expected an object/);
});

parsers('open, reading and top-up round-trip; their refusals name the nested field', () => {
  const open = {
    id: 'open-1',
    open: {
      payer: hub.address,
      payee: forger.address,
      deposit: 10n ** 19n,
      challengePeriod: 3600n,
      nonce: 0n,
    },
    signature: SIG,
    permit: { deadline: 2n ** 40n, r: '0x' + '01'.repeat(32), vs: '0x' + '02'.repeat(32) },
  };
  const openWire = JSON.parse(JSON.stringify(encodeOpenMessage(open))) as Record<string, unknown>;
  assert.equal(parseOpenMessage(openWire), open);
  assert.throws(
    () => parseOpenMessage({ ...openWire, open: { ...(openWire.open as object), payer: '0x12' } }),
    /open\.open\.payer: "0x12" .*20-byte/,
  );
  assert.throws(
    () => parseOpenMessage({ ...openWire, permit: { ...(openWire.permit as object), deadline: 0 } }),
    /open\.permit\.deadline: 0 .*unix seconds > 0/,
  );

  const reading = {
    id: 'reading-5',
    reading: {
      deviceId: '0x' + 'cd'.repeat(32),
      seq: 5n,
      timestamp: 1_700_000_000n,
      importWh: 100n,
      exportWh: 20n,
      batteryPermille: 500,
    },
    signature: SIG,
  };
  const readingWire = JSON.parse(JSON.stringify(encodeReadingMessage(reading))) as Record<string, unknown>;
  assert.equal(parseReadingMessage(readingWire), reading);
  assert.throws(
    () => parseReadingMessage({ ...readingWire, reading: { ...(readingWire.reading as object), seq: 'x' } }),
    /reading\.reading\.seq: "x"/,
  );

  const topup = {
    id: 'topup-1',
    channelId: 99n,
    amount: 5n,
    permit: { deadline: 10n, r: '0x' + '01'.repeat(32), vs: '0x' + '02'.repeat(32) },
  };
  const topupWire = JSON.parse(JSON.stringify(encodeTopUpMessage(topup))) as Record<string, unknown>;
  assert.equal(parseTopUpMessage(topupWire), topup);
  assert.throws(() => parseTopUpMessage({ ...topupWire, amount: '0' }), /topup\.amount: "0" .*above 0/);
});

parsers('salvageId keeps the id of an unparseable request so it can be acked', () => {
  assert.is(salvageId({ id: 'v-1', channelId: 'x' }), 'v-1');
  assert.is(salvageId({ id: 5 }), '');
  assert.is(salvageId('nope'), '');
});

const acks = suite('hub protocol: acks');

acks('ok and error acks round-trip through parseAck', () => {
  const ok = ackOk('v-1', 'voucher', { channelId: '7', cumulativeAmount: '100' });
  assert.equal(parseAck(JSON.parse(JSON.stringify(ok))), ok);
  const reading = ackOk('r-1', 'reading', { seq: 4, status: 'rejected', reason: 'SeqNotIncreasing' });
  assert.equal(parseAck(JSON.parse(JSON.stringify(reading))), reading);
  const bad = ackError('v-2', 'voucher', 'stale', 'voucher.cumulativeAmount: 5 is below 100');
  assert.equal(parseAck(JSON.parse(JSON.stringify(bad))), bad);
  assert.throws(() => parseAck({ ...bad, code: 'nope' }), /ack\.code: "nope" .*stale/);
  assert.throws(() => parseAck({ ...ok, kind: 'x' }), /ack\.kind: "x"/);
});

acks('every code the doc names exists', () => {
  for (const code of [
    'stale',
    'over-deposit',
    'wrong-signer',
    'wrong-channel',
    'high-s',
    'unknown-channel',
    'unregistered',
    'malformed',
    'chain-unavailable',
  ])
    assert.ok(code in ACK_CODES, code);
});

const signed = suite('hub protocol: signed DEMAND and tariffs');

const event: DemandEvent = {
  id: 'dr-1',
  region: 'nl-ams',
  start: 1000,
  end: 2000,
  level: 2,
  targetKw: 1.5,
  expiry: 2000,
};
const trust = { hub: hub.address, region: 'nl-ams', nowS: 1500 };

signed('the hub structs are spelled as the doc says and are not in STRUCTS', () => {
  assert.is(
    encodeHubType('Demand'),
    'Demand(string id,string region,uint64 start,uint64 end,uint8 level,int64 targetW,uint64 expiry)',
  );
  assert.is(
    encodeHubType('Tariff'),
    'Tariff(string id,string region,uint64 validFrom,uint64 validUntil,uint64[] periodStarts,uint256[] weiPerKWh)',
  );
  assert.not.ok('Demand' in STRUCTS);
  assert.not.ok('Tariff' in STRUCTS);
});

signed('a DEMAND signed by the hub verifies; forged, expired, wrong region, high-s do not', async () => {
  const msg = JSON.parse(JSON.stringify(await signDemand(hub, domain, event))) as {
    event: DemandEvent;
    signature: string;
  };
  assert.equal(verifyDemand(domain, msg, trust), event);
  const forged = await signDemand(forger, domain, event);
  assert.throws(() => verifyDemand(domain, forged, trust), /demand\.signature: .*trusted hub/);
  assert.throws(() => verifyDemand(domain, msg, { ...trust, nowS: 2000 }), /demand\.event\.expiry: 2000/);
  assert.throws(() => verifyDemand(domain, msg, { ...trust, region: 'be' }), /demand\.event\.region/);
  assert.throws(() => verifyDemand(domain, { ...msg, signature: highSTwin(msg.signature) }, trust), /low-s/);
  // A field changed after signing (the target) no longer recovers the hub.
  assert.throws(
    () => verifyDemand(domain, { ...msg, event: { ...event, targetKw: 0.5 } }, trust),
    /trusted hub/,
  );
  // Another chain's hub domain.
  assert.throws(() => verifyDemand(hubDomain(1, '0x' + '22'.repeat(20)), msg, trust), /trusted hub/);
  // targetKw null signs as -1 and verifies.
  const levelOnly = await signDemand(hub, domain, { ...event, targetKw: null });
  assert.is(verifyDemand(domain, levelOnly, trust).targetKw, null);
});

const tariff: Tariff = {
  id: 'tou-1',
  region: 'nl-ams',
  validFrom: 1000,
  validUntil: 4000,
  periodStarts: [1000, 2000, 3000],
  weiPerKWh: [10n ** 17n, 3n * 10n ** 17n, 2n * 10n ** 17n],
};

signed('a tariff signed by the hub verifies after JSON; forged, expired, wrong region do not', async () => {
  const msg = JSON.parse(JSON.stringify(encodeSignedTariff(await signTariff(hub, domain, tariff))));
  assert.equal(verifyTariff(domain, msg, trust), tariff);
  // "coming": not begun yet still verifies
  assert.equal(verifyTariff(domain, msg, { ...trust, nowS: 10 }), tariff);
  const forged = encodeSignedTariff(await signTariff(forger, domain, tariff));
  assert.throws(() => verifyTariff(domain, forged, trust), /tariff\.signature: .*trusted hub/);
  assert.throws(() => verifyTariff(domain, msg, { ...trust, nowS: 4001 }), /tariff\.validUntil: 4000/);
  assert.throws(() => verifyTariff(domain, msg, { ...trust, region: 'be' }), /tariff\.region/);
  const cheaper = { ...msg, tariff: { ...msg.tariff, weiPerKWh: ['1', '1', '1'] } };
  assert.throws(() => verifyTariff(domain, cheaper, trust), /trusted hub/);
});

signed('an inconsistent tariff is refused naming the field', async () => {
  const bad: Array<[Partial<Tariff>, RegExp]> = [
    [{ periodStarts: [1001, 2000, 3000] }, /tariff\.periodStarts\[0\]: 1001 .*validFrom \(1000\)/],
    [{ periodStarts: [1000, 3000, 2000] }, /tariff\.periodStarts\[2\]: 2000 .*after periodStarts\[1\]/],
    [{ periodStarts: [1000, 2000, 4000] }, /tariff\.periodStarts\[2\]: 4000 .*before validUntil/],
    [{ weiPerKWh: [1n, 2n] }, /tariff\.weiPerKWh: .*an array of 3 prices/],
    [{ validUntil: 1000 }, /tariff\.validUntil: 1000 .*after validFrom/],
    [{ periodStarts: [] }, /tariff\.periodStarts: \[\]/],
  ];
  for (const [over, re] of bad) {
    let err: unknown;
    try {
      await signTariff(hub, domain, { ...tariff, ...over });
    } catch (e) {
      err = e;
    }
    assert.match(String(err), re);
  }
});

signed('tariffPriceAt: the price of the period a cycle ends in', () => {
  const price = (end: number) => tariffPriceAt(tariff, end)?.weiPerKWh ?? null;
  assert.is(price(1000), null); // the cycle ending at validFrom lies before it
  assert.is(price(1001), 10n ** 17n);
  assert.is(price(2000), 10n ** 17n); // ends exactly at a boundary: the period it filled
  assert.is(price(2001), 3n * 10n ** 17n);
  assert.is(price(3900), 2n * 10n ** 17n);
  assert.is(price(4000), 2n * 10n ** 17n);
  assert.is(price(4001), null);
  assert.is(tariffPriceAt(tariff, 2500)?.period, 1);
});

signed('tariffInForce: newest begun tariff; the last valid one keeps billing', () => {
  const next: Tariff = {
    ...tariff,
    id: 'tou-2',
    validFrom: 3000,
    validUntil: 5000,
    periodStarts: [3000],
    weiPerKWh: [7n],
  };
  assert.is(tariffInForce([tariff, next], 2500)?.tariff.id, 'tou-1');
  assert.is(tariffInForce([tariff, next], 3001)?.weiPerKWh, 7n);
  assert.is(tariffInForce([tariff], 9000)?.weiPerKWh, 2n * 10n ** 17n);
  assert.is(tariffInForce([next], 100), null);
});

topics.run();
parsers.run();
acks.run();
signed.run();
