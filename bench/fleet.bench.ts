/**
 * A fleet of simulated gateways against one hub: vouchers/s, ack latency and losses.
 *
 *   npm run bench -- fleet [--gateways N] [--cycle-ms MS] [--cycles N]   # bench/out/fleet.json
 *
 * This process runs the in-process chain with N provisioned devices and open channels
 * (bench/hub-fleet.ts), the embedded aedes broker and the hub (`startHub`, compiled dist/). A
 * second process (bench/fleet-gateways.ts) holds N separate MQTT clients, one per gateway, each
 * billing on an accelerated clock: a 15-minute cycle lasts `--cycle-ms` (default 10 s, 90×), the
 * gateways spread over it. Cycle 0 is the warm-up (the hub reads every device and channel from the
 * chain once); then `--cycles` measured cycles (default 6); then one burst cycle in which every
 * gateway bills at the same instant. Latency is publish → ack as the gateway sees it; a voucher is
 * lost when no ack with the right cumulative amount arrives.
 *
 * The baseline in the same run is the offered load (gateways / cycle length): the hub keeps up
 * when the acked rate equals it.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers/gateway';
import { fromDist } from './dist';
import type { GatewaysConfig, GatewaysReport } from './fleet-gateways';
import { FLEET_CHAIN_ID, provisionFleet } from './hub-fleet';
import { countFlag as flag, report } from './report';

const { startHub } = fromDist<typeof import('../gateway/hub/index')>('gateway/hub/index');
const { startEmbeddedBroker } =
  fromDist<typeof import('../gateway/broker/embedded')>('gateway/broker/embedded');

const GATEWAYS = flag('--gateways', 10_000);
const CYCLE_MS = flag('--cycle-ms', 10_000);
const CYCLES = flag('--cycles', 6);

async function main(): Promise<void> {
  const log = (l: string) => process.stdout.write(`${l}\n`);
  const t0 = Date.now();
  const fleet = await provisionFleet(GATEWAYS, log);
  log(`fleet of ${GATEWAYS} provisioned in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hepek-bench-fleet-'));
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users: [] });
  const warnings: string[] = [];
  const hub = await startHub({
    provider: fleet.provider,
    wallet: fleet.hub,
    chainId: FLEET_CHAIN_ID,
    contracts: fleet.contracts,
    dir: path.join(dir, 'hub'),
    region: 'bench',
    closeSpentPercent: 0,
    closeIntervalSeconds: 0,
    deviceCacheSeconds: 86_400,
    tickMs: 60_000,
    log: { info: () => {}, warn: (l) => warnings.length < 20 && warnings.push(l) },
    broker: { url: broker.url },
  });
  const devicesFile = path.join(dir, 'devices.json');
  writeFileSync(
    devicesFile,
    JSON.stringify(
      fleet.devices.map((d) => ({
        serial: d.serial,
        key: d.privateKey.toString('hex'),
        channelId: d.channelId.toString(),
      })),
    ),
  );
  const child = fork(path.join(__dirname, 'fleet-gateways.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const config: GatewaysConfig = {
    url: broker.url,
    devicesFile,
    chainId: FLEET_CHAIN_ID,
    channels: fleet.contracts.PaymentChannels,
    cycleMs: CYCLE_MS,
    cycles: CYCLES,
    drainMs: 60_000,
  };
  const cpu0 = process.cpuUsage();
  const result = await new Promise<GatewaysReport>((resolve, reject) => {
    child.on('message', (m: { t: string; ms?: number; report?: GatewaysReport; message?: string }) => {
      if (m.t === 'connected') log(`${GATEWAYS} gateways connected in ${((m.ms ?? 0) / 1000).toFixed(1)} s`);
      if (m.t === 'report') resolve(m.report!);
      if (m.t === 'error') reject(new Error(`gateways: ${m.message}`));
    });
    child.on('exit', (code) => code !== 0 && reject(new Error(`the gateway process exited with ${code}`)));
    child.send(config);
  });
  const used = process.cpuUsage(cpu0);
  const stats = hub.status();
  await hub.stop();
  await broker.close();
  await fleet.close();
  rmSync(dir, { recursive: true, force: true });

  const lost = result.missing + result.badAcks;
  const measuredVouchers = result.measured.count;
  const vouchersPerSec = result.measured.seconds > 0 ? measuredVouchers / result.measured.seconds : 0;
  const offered = GATEWAYS / (CYCLE_MS / 1000);
  const burstPerSec = result.burst.seconds > 0 ? result.burst.count / result.burst.seconds : 0;
  const round = (x: number) => Math.round(x);
  report(
    'fleet',
    [
      ['gateways (separate MQTT clients)', `${GATEWAYS}`],
      ['cycle (15 min simulated), wall ms', `${CYCLE_MS} (${round(900_000 / CYCLE_MS)}× accelerated)`],
      ['measured cycles', `${CYCLES} (+ 1 warm-up, + 1 burst)`],
      ['load average (1 min)', os.loadavg()[0]!.toFixed(1)],
      ['connect (all gateways), s', (result.connectMs / 1000).toFixed(1)],
      ['baseline: offered load, vouchers/s', offered.toFixed(0)],
      ['acked, vouchers/s (measured cycles)', vouchersPerSec.toFixed(0)],
      ['acked / offered', (vouchersPerSec / offered).toFixed(3)],
      [
        'ack latency p50 / p99 / max, ms',
        `${result.measured.p50Ms} / ${result.measured.p99Ms} / ${result.measured.maxMs}`,
      ],
      ['burst: all at once, vouchers/s', burstPerSec.toFixed(0)],
      [
        'burst ack latency p50 / p99 / max, ms',
        `${result.burst.p50Ms} / ${result.burst.p99Ms} / ${result.burst.maxMs}`,
      ],
      [
        'sent / acked ok / refused / never acked',
        `${result.sent} / ${result.okAcks} / ${result.badAcks} / ${result.missing}`,
      ],
      ['hub process CPU (hub + broker), s', ((used.user + used.system) / 1e6).toFixed(1)],
      [
        'goal: 10,000 gateways, p99 < 250 ms, lost = 0',
        GATEWAYS >= 10_000 && result.measured.p99Ms < 250 && lost === 0 ? 'met' : 'NOT met',
      ],
    ],
    {
      gateways: GATEWAYS,
      vouchersPerSec: round(vouchersPerSec),
      p99AckMs: result.measured.p99Ms,
      lost,
      offeredPerSec: round(offered),
      p50AckMs: result.measured.p50Ms,
      maxAckMs: result.measured.maxMs,
      burstVouchersPerSec: round(burstPerSec),
      burstP99AckMs: result.burst.p99Ms,
      vouchersSent: result.sent,
      hubAccepted: Number(stats.accepted),
      loadAverage: Number(os.loadavg()[0]!.toFixed(2)),
    },
  );
  if (result.firstBad) log(`first refused ack: ${result.firstBad}`);
  if (warnings.length) log(`hub warnings (first ${warnings.length}): ${warnings.slice(0, 3).join(' | ')}`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
