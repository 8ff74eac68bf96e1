/**
 * A purchase end to end through the real `hepek start`: the payment provider's signed webhook
 * mints ERGON to this HEPEK's wallet, the spendable balance rises past the low threshold so the
 * relay closes again, the ledger's `purchased` flow (Grafana "ERGON flows") counts it once — also
 * after a replay and across a restart — and a stale delivery mints nothing.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import type { RelayState } from '../gateway/context';
import { Journal } from '../gateway/store/journal';
import type { JournalEntry } from '../gateway/store/measurements';
import type { PricePayload } from '../gateway/integrations/price-topic';
import type { DappState, PricesResponse } from '../gateway/web/api';
import { dataDir, dataFile } from './helpers/data';
import { signatureHeader } from '../gateway/purchase';
import {
  GATEWAY_LOGIN,
  editorUrl,
  gatewayPorts,
  heldWei,
  removeDir,
  startGateway,
  stopCli,
  tempDir,
  until,
  waitForStatus,
  writeSettings,
  type GatewayPorts,
  type HeldStatus,
  type RunningCli,
} from './helpers/gateway';
import { waitForJson } from './helpers/mqtt';

const WEBHOOK_SECRET = 'whsec_e2e_0123456789abcdef';

interface Status extends HeldStatus {
  serial: string;
  wallet: string;
  balance: { spendableErgon: number; ergonWei: string };
  relay: RelayState;
  purchases?: { minted: number };
  ergonFlows: { purchasedErgon: number; paidErgon: number; wei: { purchased: string } };
}

const e2e = suite<{ dir: string; ports: GatewayPorts; cli?: RunningCli }>('purchase end to end');
e2e.before.each(async (ctx) => {
  ctx.dir = tempDir('e2e-purchase');
  ctx.ports = await gatewayPorts();
  ctx.cli = undefined;
});
e2e.after.each(async (ctx) => {
  if (ctx.cli) await stopCli(ctx.cli);
  removeDir(ctx.dir);
});

async function post(ports: GatewayPorts, raw: string, t = Math.floor(Date.now() / 1000)) {
  const response = await fetch(`${editorUrl(ports)}/hepek/purchases/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'hepek-signature': signatureHeader(WEBHOOK_SECRET, t, Buffer.from(raw)),
    },
    body: raw,
  });
  return {
    status: response.status,
    replay: response.headers.get('hepek-replay'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

const status = async (ports: GatewayPorts) =>
  (await (await fetch(`${editorUrl(ports)}/hepek/status`)).json()) as Status;

e2e('a signed purchase mints once, closes the relay and is counted once in the ledger', async (ctx) => {
  // 20 ERGON demo mint under a 30 ERGON threshold: the relay opens; 25.5 bought lifts it to 45.5.
  const settings = writeSettings(ctx.dir, ctx.ports, {
    balance: { lowThresholdErgon: 30, demoMintErgon: 20 },
  });
  const env = { HEPEK_PURCHASE_WEBHOOK_SECRET: WEBHOOK_SECRET };
  ctx.cli = startGateway(settings, env);
  const first = (await waitForStatus(ctx.cli, ctx.ports)) as Status;
  assert.is(first.ergonFlows.purchasedErgon, 0);
  const relayTopic = `hepek/${first.serial}/relay`;
  const url = `mqtt://127.0.0.1:${ctx.ports.broker}`;
  await waitForJson<RelayState>(url, relayTopic, (s) => !s.on, 30_000, GATEWAY_LOGIN);

  const raw = JSON.stringify({
    id: 'pay_e2e_1',
    type: 'payment.succeeded',
    amountErgon: '25.5',
    currency: 'EUR',
    deviceSerial: first.serial,
  });
  const stale = await post(ctx.ports, raw, Math.floor(Date.now() / 1000) - 301);
  assert.is(stale.status, 401, JSON.stringify(stale.body));
  const minted = await post(ctx.ports, raw);
  assert.is(minted.status, 200, JSON.stringify(minted.body));
  assert.is(minted.body.status, 'minted');
  assert.is(String(minted.body.wallet).toLowerCase(), first.wallet.toLowerCase());
  const replay = await post(ctx.ports, raw);
  assert.is(replay.status, 200);
  assert.is(replay.replay, 'true');

  await waitForJson<RelayState>(url, relayTopic, (s) => s.on, 30_000, GATEWAY_LOGIN);
  const after = await until(
    'the purchase in the status',
    async () => {
      const s = await status(ctx.ports);
      return s.balance.spendableErgon > 45 ? s : undefined;
    },
    20_000,
    ctx.cli,
  );
  // Once the relay is on the household is billed, so the spendable balance may already be a few
  // milli-ERGON under 45.5; the vouchers only spend inside the channel, so wallet + deposit is exact.
  assert.ok(after.balance.spendableErgon <= 45.5, `spendable ${after.balance.spendableErgon}`);
  assert.is(heldWei(after), 45_500_000_000_000_000_000n);
  assert.is(after.ergonFlows.purchasedErgon, 25.5, 'the replay and the stale delivery add nothing');
  assert.is(after.ergonFlows.wei.purchased, '25500000000000000000');

  // After a restart the ledger still counts the purchase once (the start-up catch-up skips it).
  assert.is((await stopCli(ctx.cli)).code, 0, ctx.cli.output());
  ctx.cli = startGateway(settings, env);
  const again = (await waitForStatus(ctx.cli, ctx.ports)) as Status;
  assert.is(again.ergonFlows.purchasedErgon, 25.5);
  assert.is(again.purchases?.minted, 1);
});

e2e(
  'with sim.priceFile the DApp gets replayed prices and the forecast, and the ledger an hourly price',
  async (ctx) => {
    if (!dataFile('prices/NP.csv')) return;
    const settings = writeSettings(ctx.dir, ctx.ports, {
      sim: { priceFile: 'NP', priceStartDate: '2017-06-01' },
      meter: { speed: 3600, intervalMs: 200 },
    });
    ctx.cli = startGateway(settings, { HEPEK_DATA: dataDir() });
    await waitForStatus(ctx.cli, ctx.ports);
    const prices = (await (await fetch(`${editorUrl(ctx.ports)}/dapp/api/prices`)).json()) as PricesResponse;
    assert.ok(prices.prices.length >= 48, `${prices.prices.length} prices`);
    assert.is(prices.forecast.length, 48, 'today and tomorrow forecast');
    assert.match(String(prices.forecastSource), 'price-np');
    const state = (await (await fetch(`${editorUrl(ctx.ports)}/dapp/api/state`)).json()) as DappState;
    assert.ok(state.capabilities.includes('prices'));
    // The same feed on the integrations' topic contract (Home Assistant's price sensors), retained.
    const [payload] = await waitForJson<PricePayload>(
      `mqtt://127.0.0.1:${ctx.ports.broker}`,
      `hepek/${state.device.serial}/price`,
      () => true,
      15_000,
      GATEWAY_LOGIN,
    );
    const fresh = (await (await fetch(`${editorUrl(ctx.ports)}/dapp/api/prices`)).json()) as PricesResponse;
    const known = fresh.prices.map((p) => p.priceEurPerMWh / 1000);
    assert.ok(known.includes(payload!.currentErgonPerKWh!), `current ${payload!.currentErgonPerKWh}`);
    assert.ok(payload!.forecast.length > 0 && payload!.forecast.length <= 48);
    assert.type(payload!.nextErgonPerKWh, 'number');
    // An hour of the meter's clock passes every second at this speed.
    await new Promise((r) => setTimeout(r, 3000));
    assert.is((await stopCli(ctx.cli)).code, 0, ctx.cli.output());
    ctx.cli = undefined;
    const journal = await Journal.open<JournalEntry>({ dir: path.join(ctx.dir, 'user', 'ledger') });
    const entries = (await journal.read(1, 1000)).map((r) => r.data);
    await journal.close();
    const hourly = entries.filter((e) => e.kind === 'price');
    assert.ok(hourly.length >= 2, `${hourly.length} price entries`);
    for (const e of hourly) {
      if (e.kind !== 'price') continue;
      assert.ok(Date.parse(e.timestamp) % 3_600_000 === 0, 'on the hour');
      assert.type(e.priceErgonPerKWh, 'number');
      assert.type(e.forecastErgonPerKWh, 'number');
    }
  },
);

e2e.run();
