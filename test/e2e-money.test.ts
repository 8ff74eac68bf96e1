/**
 * The money path end to end: the real `hepek start` with the embedded chain, the simulator on an
 * accelerated clock, the embedded broker (real MQTT) and the in-process hub.
 *
 * - Consumer day: the payer opens its channel, bills every cycle at the hub-signed tariff; low
 *   balance opens the relay; a signed webhook purchase mints, the payer tops up and the relay closes;
 *   a replayed and a stale webhook mint nothing; killed -9 mid-cycle and restarted, it resends and
 *   bills on; the hub's close pays exactly Σ(import delta × tariff) to the hub and the rest back.
 * - Prosumer day: the hub broadcasts a signed DEMAND window; the prosumer flow exports from the
 *   battery in it; readings relayed to MeterReadings accrue exactly exported Wh × the export rate
 *   and the emission factor; a forged and an expired DEMAND broadcast are ignored and logged.
 *
 * Nothing is timed: waits poll for a state with a generous bound that only turns a hang into a
 * failure, and every money figure is checked exactly against the chain.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import {
  ErgonToken__factory,
  MeterReadings__factory,
  PaymentChannels__factory,
} from '../gateway/chain/types';
import { signVoucher } from '../gateway/chain/channels';
import { encodeVoucherMessage, hubDomain, signDemand } from '../gateway/hub/protocol';
import { signatureHeader } from '../gateway/purchase/signature';
import {
  editorUrl,
  GATEWAY_LOGIN,
  gatewayPorts,
  getJson,
  removeDir,
  startGateway,
  stopCli,
  tempDir,
  until,
  waitForStatus,
  writeSettings,
  type GatewayPorts,
  type RunningCli,
} from './helpers/gateway';

const SECRET = 'whsec_e2e_money_secret_0123456789';
const ENV = { HEPEK_PURCHASE_WEBHOOK_SECRET: SECRET };

interface PayerStatus {
  channelId: string | null;
  depositWei: string | null;
  cumulativeAmountWei: string;
  ackedAmountWei: string;
  cycle: number;
  voucher: { id: string; acked: boolean } | null;
  reading: { seq: number; acked: boolean; status: string | null } | null;
  pending: string[];
}

interface Status {
  serial: string;
  deviceId: string;
  wallet: string;
  contracts: Record<string, string>;
  relay: { on: boolean; reason?: string };
  meter: { timestamp: string } | null;
  balance?: { spendableWei: string; ergonWei: string };
  purchases?: { minted: number };
  ergonFlows?: { wei: { paid: string; purchased: string } };
  channel: {
    hub: string;
    tariff: string | null;
    demand: { id: string } | null;
    embeddedHub: { stats: { accepted: number; closed: number; relayedReadings: number } } | null;
    payer: PayerStatus | null;
  };
}

interface Voucher {
  id: string;
  channelId: string;
  cumulativeAmount: string;
  cycle: number;
  importWh: number;
  tariffId: string;
}

interface SentReading {
  id: string;
  reading: { seq: number; timestamp: number; importWh: number; exportWh: number };
}

/** Records every device-signed reading the payer and the mint node send to the hub. */
async function watchReadings(ctx: Ctx, serial: string): Promise<SentReading[]> {
  const seen: SentReading[] = [];
  ctx.watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${ctx.ports.broker}`, {
    reconnectPeriod: 500,
    ...GATEWAY_LOGIN,
  });
  ctx.watcher.on('message', (_t, payload) => seen.push(JSON.parse(payload.toString()) as SentReading));
  await ctx.watcher.subscribeAsync(`hepek/${serial}/hub/reading`, { qos: 1 });
  return seen;
}

interface Ctx {
  dir: string;
  ports: GatewayPorts;
  cli?: RunningCli;
  watcher?: MqttClient;
}

const e2e = suite<Ctx>('money path end to end');

e2e.before.each(async (ctx) => {
  ctx.dir = tempDir('e2e-money');
  ctx.ports = await gatewayPorts();
});

e2e.after.each(async (ctx) => {
  await ctx.watcher?.endAsync();
  if (ctx.cli) await stopCli(ctx.cli);
  removeDir(ctx.dir);
});

const status = async (ctx: Ctx) => (await getJson(`${editorUrl(ctx.ports)}/hepek/status`)) as Status;

/** Polls /hepek/status until `accept` holds (the bound only turns a hang into a failure). */
function statusWhere(ctx: Ctx, what: string, accept: (s: Status) => boolean, timeoutMs = 90_000) {
  return until(
    what,
    async () => {
      const s = await status(ctx);
      return accept(s) ? s : undefined;
    },
    timeoutMs,
    ctx.cli,
  );
}

function provider(ctx: Ctx): JsonRpcProvider {
  return new JsonRpcProvider(`${editorUrl(ctx.ports)}/dapp/api/rpc`, 31337, {
    staticNetwork: true,
    polling: false,
  });
}

async function webhook(ctx: Ctx, body: string, t: number) {
  const response = await fetch(`${editorUrl(ctx.ports)}/hepek/purchases/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'hepek-signature': signatureHeader(SECRET, t, body) },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Records every voucher the payer sends, as the broker carries it. */
async function watchVouchers(ctx: Ctx, serial: string): Promise<Voucher[]> {
  const seen: Voucher[] = [];
  ctx.watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${ctx.ports.broker}`, {
    reconnectPeriod: 500,
    ...GATEWAY_LOGIN,
  });
  ctx.watcher.on('message', (_t, payload) => {
    const v = JSON.parse(payload.toString()) as Voucher;
    // Only the payer's own (the test also publishes forged ones on this topic).
    if (/^voucher-\d+-\d+$/.test(v.id)) seen.push(v);
  });
  await ctx.watcher.subscribeAsync(`hepek/${serial}/hub/voucher`, { qos: 1 });
  return seen;
}

const TARIFF_ERGON = 1;
/** 1 ERGON per kWh = 1e15 wei per Wh: every Wh is an exact number of wei, no carry needed to check. */
const WEI_PER_WH = 10n ** 15n;

function consumerSettings(
  ctx: Ctx,
  hub: Record<string, unknown> = {},
  channel: Record<string, unknown> = {},
) {
  return writeSettings(ctx.dir, ctx.ports, {
    meter: { speed: 600, intervalMs: 250 },
    balance: { demoMintErgon: 2, lowThresholdErgon: 1 },
    channel: {
      cycleSeconds: 900,
      depositErgon: 2,
      topUpBelowErgon: 1,
      topUpErgon: 5,
      challengePeriod: 3600,
      resendSeconds: 1,
      checkSeconds: 1,
      ...channel,
    },
    hub: {
      tariffErgonPerKWh: TARIFF_ERGON,
      closeSpentPercent: 0,
      closeIntervalSeconds: 0,
      tickMs: 200,
      ...hub,
    },
    log: { level: 'info' },
  });
}

e2e(
  'consumer day: vouchers each cycle, low balance opens the relay, a purchase tops up and closes it, kill -9, the hub closes exactly',
  async (ctx) => {
    ctx.cli = startGateway(consumerSettings(ctx), ENV);
    const first = (await waitForStatus(ctx.cli, ctx.ports)) as Status;
    const vouchers = await watchVouchers(ctx, first.serial);
    const opened = await statusWhere(ctx, 'the channel to open', (s) => s.channel.payer?.channelId !== null);
    const channelId = opened.channel.payer!.channelId!;
    assert.is(opened.channel.payer!.depositWei, parseEther('2').toString());
    assert.is(opened.channel.tariff, `flat-${parseEther(String(TARIFF_ERGON))}`);

    // Spending drains the deposit: below 1 ERGON spendable the relay opens.
    const low = await statusWhere(ctx, 'the relay to open on low balance', (s) => !s.relay.on, 120_000);
    assert.ok(BigInt(low.balance!.spendableWei) < parseEther('1'), `spendable ${low.balance!.spendableWei}`);
    assert.ok(low.channel.payer!.cycle >= 5, 'several cycles billed');

    // A purchase: the provider's signed webhook mints 5 ERGON; the payer tops up; the relay closes.
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      id: 'pay_e2e_1',
      type: 'payment.succeeded',
      amountErgon: '5',
      currency: 'EUR',
      deviceSerial: first.serial,
    });
    const paid = await webhook(ctx, body, now);
    assert.is(paid.status, 200, JSON.stringify(paid.body));
    const topped = await statusWhere(
      ctx,
      'the top-up and the relay closing',
      (s) => s.relay.on && s.channel.payer?.depositWei === parseEther('7').toString(),
    );
    assert.is(topped.channel.payer!.channelId, channelId, 'the same channel, topped up');
    // Replayed (same id, same signature) and stale (t ten minutes old) deliveries mint nothing.
    const replay = await webhook(ctx, body, now);
    assert.ok(replay.status < 300, `a replay is acknowledged (${replay.status}) but not minted again`);
    const stale = await webhook(ctx, body.replace('pay_e2e_1', 'pay_e2e_2'), now - 600);
    assert.is(stale.status, 401);
    const afterReplay = await status(ctx);
    assert.is(afterReplay.purchases!.minted, 1, 'one purchase minted');
    const token = ErgonToken__factory.connect(first.contracts.ErgonToken!, provider(ctx));
    const minted = await token.queryFilter(token.filters.Transfer('0x' + '0'.repeat(40), first.wallet));
    assert.is(minted.length, 2, 'the demo mint and one purchase');
    assert.is(minted[1]!.args.value, parseEther('5'));

    // Forged, replayed (stale), cross-channel and unregistered-device messages are refused with a
    // code, acked to the sender and logged with the reason; the payer's books are untouched.
    const deployment = { chainId: 31337, channels: first.contracts.PaymentChannels! };
    const held = vouchers.filter((v) => v.channelId === channelId);
    const newest = held.at(-1)!;
    const forger = Wallet.createRandom();
    const forgedVoucher = async (
      id: string,
      channel: bigint,
      amount: bigint,
      by: { signTypedData: Wallet['signTypedData'] } = forger,
    ) =>
      JSON.stringify(
        encodeVoucherMessage({
          id,
          channelId: channel,
          cumulativeAmount: amount,
          cycle: 999,
          importWh: 1,
          tariffId: 'x',
          signature: await signVoucher(by as Wallet, deployment, {
            channelId: channel,
            cumulativeAmount: amount,
          }),
        }),
      );
    const attacker = await mqtt.connectAsync(`mqtt://127.0.0.1:${ctx.ports.broker}`, {
      reconnectPeriod: 0,
      ...GATEWAY_LOGIN,
    });
    const topic = `hepek/${first.serial}/hub/voucher`;
    await attacker.publishAsync(
      topic,
      await forgedVoucher('forged-1', BigInt(channelId), BigInt(newest.cumulativeAmount) + 1n),
      { qos: 1 },
    );
    const older = held.find((v) => BigInt(v.cumulativeAmount) < BigInt(newest.cumulativeAmount));
    if (older) await attacker.publishAsync(topic, JSON.stringify({ ...older, id: 'replayed-1' }), { qos: 1 });
    const otherChannel = (BigInt(forger.address) << 96n) | 0n;
    await attacker.publishAsync(topic, await forgedVoucher('cross-1', otherChannel, 1n, forger), { qos: 1 });
    await attacker.publishAsync(
      'hepek/NOT-REGISTERED-1/hub/voucher',
      await forgedVoucher('unreg-1', BigInt(channelId), 1n),
      { qos: 1 },
    );
    await attacker.endAsync();
    for (const [id, code] of [
      ['forged-1', 'wrong-signer'],
      ...(older ? [['replayed-1', 'stale']] : []),
      ['cross-1', '(unknown-channel|wrong-channel)'],
      ['unreg-1', 'unregistered'],
    ] as Array<[string, string]>)
      await until(
        `the refusal of ${id} logged`,
        async () =>
          new RegExp(`hub: refused voucher "${id}" from [^:]+: ${code}: \\S`).test(ctx.cli!.output())
            ? true
            : undefined,
        30_000,
        ctx.cli,
      );
    const untouched = await status(ctx);
    assert.ok(
      BigInt(untouched.channel.payer!.ackedAmountWei) <= BigInt(untouched.channel.payer!.cumulativeAmountWei),
    );

    // kill -9 in the middle of a cycle, then start again: the payer resends and bills on.
    await statusWhere(
      ctx,
      'a few more cycles',
      (s) => s.channel.payer!.cycle >= topped.channel.payer!.cycle + 2,
    );
    ctx.cli.proc.kill('SIGKILL');
    await ctx.cli.exited;
    const beforeKill = vouchers.at(-1)!;
    // Restart with the hub closing on schedule (every simulated hour: a few seconds here, so the
    // watcher has reconnected to the restarted broker and sees the voucher the hub closes with).
    ctx.cli = startGateway(consumerSettings(ctx, { closeIntervalSeconds: 3600 }), ENV);
    await waitForStatus(ctx.cli, ctx.ports);
    const closed = await statusWhere(
      ctx,
      "the hub's close and the next channel",
      (s) => (s.channel.embeddedHub?.stats.closed ?? 0) >= 1,
      120_000,
    );
    assert.ok(closed.channel.payer, 'the payer runs after the restart');
    // The ledger's `paid` flow counts every voucher's increment once (the closed channel's at least).
    const flows = (await status(ctx)).ergonFlows!;

    // On chain: the close paid the hub exactly the newest voucher it held, the payer the rest.
    const channels = PaymentChannels__factory.connect(first.contracts.PaymentChannels!, provider(ctx));
    const closes = await channels.queryFilter(channels.filters.ChannelClosed(BigInt(channelId)));
    assert.is(closes.length, 1);
    const { payeeAmount, payerAmount } = closes[0]!.args;
    assert.ok(BigInt(flows.wei.paid) >= payeeAmount, `paid ${flows.wei.paid} ≥ ${payeeAmount}`);
    assert.is(flows.wei.purchased, parseEther('5').toString());
    assert.is(payeeAmount + payerAmount, parseEther('7'), 'deposit 2 + top-up 5, all paid out');
    const ofChannel = vouchers.filter((v) => v.channelId === channelId);
    const closedWith = ofChannel.find((v) => BigInt(v.cumulativeAmount) === payeeAmount);
    assert.ok(closedWith, `the close used a voucher the payer signed (${payeeAmount})`);
    assert.ok(closedWith!.cycle >= beforeKill.cycle, 'billing went on after the kill (no voucher lost)');
    // Σ(import delta × tariff): every voucher of the channel is (its counter − the opening counter) × price.
    const startWh = ofChannel[0]!.importWh - Number(BigInt(ofChannel[0]!.cumulativeAmount) / WEI_PER_WH);
    for (const v of ofChannel) {
      assert.is(BigInt(v.cumulativeAmount), BigInt(v.importWh - startWh) * WEI_PER_WH, `voucher ${v.id}`);
      assert.is(v.tariffId, `flat-${parseEther(String(TARIFF_ERGON))}`);
    }
    // No cycle billed twice: a resend repeats an id with the same amount; cycles only grow.
    const byId = new Map<string, string>();
    for (const v of ofChannel) {
      if (byId.has(v.id)) assert.is(byId.get(v.id), v.cumulativeAmount, `resend of ${v.id} is identical`);
      byId.set(v.id, v.cumulativeAmount);
    }
    const cycles = [...new Set(ofChannel.map((v) => v.cycle))];
    assert.equal(
      cycles,
      [...cycles].sort((a, b) => a - b),
      'cycles in order',
    );
    const hubReceived = await token.queryFilter(
      token.filters.Transfer(first.contracts.PaymentChannels, opened.channel.hub),
    );
    assert.is(
      hubReceived.filter((e) => e.transactionHash === closes[0]!.transactionHash)[0]!.args.value,
      payeeAmount,
      'the hub received exactly the voucher amount',
    );
    const payerBack = await token.queryFilter(
      token.filters.Transfer(first.contracts.PaymentChannels, first.wallet),
    );
    assert.is(
      payerBack.filter((e) => e.transactionHash === closes[0]!.transactionHash)[0]!.args.value,
      payerAmount,
    );
  },
);

e2e(
  'opt-in automatic purchase: below channel.autoPurchase.belowErgon the payer buys, tops up and the supply stays on',
  async (ctx) => {
    ctx.cli = startGateway(
      consumerSettings(ctx, {}, { autoPurchase: { enabled: true, amountErgon: 5, belowErgon: 1.5 } }),
      ENV,
    );
    const first = (await waitForStatus(ctx.cli, ctx.ports)) as Status;
    const bought = await statusWhere(
      ctx,
      'an automatic purchase and the top-up',
      (s) => (s.purchases?.minted ?? 0) >= 1 && s.channel.payer?.depositWei === parseEther('7').toString(),
      120_000,
    );
    assert.is(bought.relay.on, true, 'bought before the balance fell below the low threshold');
    const token = ErgonToken__factory.connect(first.contracts.ErgonToken!, provider(ctx));
    const minted = await token.queryFilter(token.filters.Transfer('0x' + '0'.repeat(40), first.wallet));
    assert.is(minted[1]?.args.value, parseEther('5'), 'the purchase minted channel.autoPurchase.amountErgon');
    assert.match(ctx.cli.output(), /below 1\.5 ERGON; buying 5 ERGON/);
  },
);

e2e(
  'prosumer day: export follows a signed DEMAND window; rewards and carbon match exported Wh × rates; forged and expired DEMAND ignored',
  async (ctx) => {
    // Find the serial first: the DEMAND window is set on the simulator's clock at the next start.
    const nowS = Math.floor(Date.now() / 1000);
    // At speed 1800 an hour of the simulator passes in 2 s; the window opens 12 simulated hours in
    // (the boot takes a few seconds of it) and lasts three.
    const window = {
      id: 'dr-e2e',
      start: nowS + 12 * 3600,
      end: nowS + 15 * 3600,
      level: 2 as const,
      targetKw: 0,
    };
    const settings = writeSettings(ctx.dir, ctx.ports, {
      // Battery discharge + PV stays below the rated export (pvPeakW), as MeterReadings checks.
      meter: { speed: 1800, intervalMs: 250, pvPeakW: 4000 },
      battery: { type: 'simulated' },
      sim: { battery: { capacityWh: 20000, initialSocPercent: 90, maxDischargeW: 2000 } },
      balance: { demoMintErgon: 20 },
      channel: { resendSeconds: 1, checkSeconds: 1 },
      hub: { tickMs: 200, closeIntervalSeconds: 0, demand: [{ ...window, expiry: window.end }] },
      nodeRed: { port: ctx.ports.editor, flow: path.join(__dirname, '..', 'flows', 'prosumer.json') },
      log: { level: 'info' },
    });
    ctx.cli = startGateway(settings, ENV);
    const first = (await waitForStatus(ctx.cli, ctx.ports)) as Status;
    const sent = await watchReadings(ctx, first.serial);
    const readings = MeterReadings__factory.connect(first.contracts.MeterReadings!, provider(ctx));

    // Before the window: the battery charges or idles — no export from it.
    await statusWhere(ctx, 'the DEMAND event to be known', (s) => s.channel.demand?.id === 'dr-e2e');
    const inWindow = await statusWhere(
      ctx,
      'the battery to export in the DEMAND window',
      (s) =>
        ((s as unknown as { devices: { battery: { setpointW: number } | null } }).devices.battery
          ?.setpointW ?? 0) < 0,
      120_000,
    );
    assert.ok(inWindow);

    // A forged DEMAND (another key) and an expired one (the hub's, past expiry) are ignored and logged.
    const forger = Wallet.createRandom();
    const domain = hubDomain(31337, first.contracts.GatewayRegistry!);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ctx.ports.broker}`, {
      reconnectPeriod: 0,
      ...GATEWAY_LOGIN,
    });
    const forged = await signDemand(forger, domain, {
      ...window,
      id: 'forged',
      region: 'default',
      start: nowS,
      end: nowS + 99 * 3600,
      expiry: nowS + 99 * 3600,
    });
    await client.publishAsync('hepek/hub/demand/default', JSON.stringify(forged), { qos: 1, retain: false });
    await until(
      'the forged event to be logged',
      async () =>
        /ignored a DEMAND broadcast: demand\.signature/.test(ctx.cli!.output()) ? true : undefined,
      30_000,
      ctx.cli,
    );
    // Expired: signed by the hub's own key (the dev keys in the user dir), but past its expiry.
    const keys = JSON.parse(
      readFileSync(path.join(ctx.dir, 'user', 'keys', 'dev-accounts.json'), 'utf8'),
    ) as { hub: string };
    const simNowS = Math.floor(Date.parse((await status(ctx)).meter!.timestamp) / 1000);
    const expired = await signDemand(new Wallet(keys.hub), domain, {
      ...window,
      id: 'expired',
      region: 'default',
      start: simNowS - 7200,
      end: simNowS + 3600,
      expiry: simNowS - 3600,
    });
    await client.publishAsync('hepek/hub/demand/default', JSON.stringify(expired), { qos: 1, retain: false });
    await until(
      'the expired event to be logged',
      async () =>
        /ignored a DEMAND broadcast: demand\.event\.expiry/.test(ctx.cli!.output()) ? true : undefined,
      30_000,
      ctx.cli,
    );
    await client.endAsync();
    const still = await status(ctx);
    assert.is(still.channel.demand?.id, 'dr-e2e', 'the forged event did not replace the signed one');

    // After the window the battery charges again; the exported Wh accrue rewards at the rates.
    await statusWhere(
      ctx,
      'the battery to charge after the window',
      (s) =>
        ((s as unknown as { devices: { battery: { setpointW: number } | null } }).devices.battery
          ?.setpointW ?? 0) > 0,
      120_000,
    );
    await statusWhere(
      ctx,
      'readings accepted on chain',
      (s) =>
        s.channel.payer?.reading?.status === 'accepted' &&
        (s.channel.embeddedHub?.stats.relayedReadings ?? 0) > 5,
      120_000,
    );
    // One block for the account and the latest reading: readings keep arriving while we look.
    const at = { blockTag: await readings.runner!.provider!.getBlockNumber() };
    const account = await readings.accountOf(first.deviceId, at);
    const latest = await readings.latestOf(first.deviceId, at);
    const rate = await readings.exportRate();
    const factor = await readings.emissionFactor();
    // The baseline reading accrues nothing: everything exported since it is rewarded exactly once.
    // Read at its own block: on a slow run the checkpoint ring may have moved past it since.
    const baseline = await readings.queryFilter(
      readings.filters.ReadingAccepted(first.deviceId),
      0,
      at.blockTag,
    );
    const firstSeq = baseline[0]!.args.seq;
    const checkpoint = await readings.checkpointOf(first.deviceId, firstSeq, {
      blockTag: baseline[0]!.blockNumber,
    });
    assert.is(checkpoint.seq, firstSeq, 'the baseline checkpoint');
    const exported = latest.exportWh - checkpoint.exportWh;
    // Every reading the chain accepted was one the device signed and sent.
    const accepted = baseline.map((e) => Number(e.args.seq));
    for (const seq of accepted.filter((q) => q > (sent[0]?.reading.seq ?? Infinity)))
      assert.ok(
        sent.some((r) => r.reading.seq === seq),
        `reading ${seq} was sent by the device`,
      );
    assert.ok(exported > 0n, 'the battery exported in the DEMAND window');
    assert.is(account.accruedWei, exported * rate, 'reward = exported Wh × export rate');
    assert.is(account.carbonMg, exported * factor, 'carbon = exported Wh × emission factor');
  },
);

e2e.run();
