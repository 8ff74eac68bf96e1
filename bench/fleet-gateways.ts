/**
 * The gateway side of the fleet benchmark, in its own process (bench/fleet.bench.ts forks it): one
 * MQTT client per simulated gateway, each billing on an accelerated clock. Every cycle a gateway
 * takes a pseudo-random import delta, prices it at a flat tariff, signs the cumulative voucher with
 * its device key (native secp256k1), publishes it QoS 1 and times the hub's ack. Gateways are
 * spread evenly over the cycle (each bills at its own offset, as unsynchronised clocks do); one
 * last cycle is a burst, all at the same instant.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { fromDist } from './dist';
import { signDigest } from './hub-fleet';

const { VoucherVerifier } = fromDist<typeof import('../gateway/hub/verify')>('gateway/hub/verify');
const { noDelay } = fromDist<typeof import('../gateway/hub/hub')>('gateway/hub/hub');
const { encodeVoucherMessage, hubTopics, parseAck } =
  fromDist<typeof import('../gateway/hub/protocol')>('gateway/hub/protocol');

export interface GatewaysConfig {
  url: string;
  devicesFile: string;
  chainId: number;
  channels: string;
  cycleMs: number;
  /** Measured cycles (after one warm-up cycle, before the burst). */
  cycles: number;
  /** How long to wait for the last acks, ms. */
  drainMs: number;
}

export interface GatewaysReport {
  gateways: number;
  connectMs: number;
  sent: number;
  okAcks: number;
  badAcks: number;
  missing: number;
  measured: { count: number; p50Ms: number; p99Ms: number; maxMs: number; seconds: number };
  burst: { count: number; p50Ms: number; p99Ms: number; maxMs: number; seconds: number };
  firstBad: string | null;
}

const WEI_PER_WH = 250_000_000_000_000n; // 0.25 ERGON per kWh

interface Gateway {
  serial: string;
  key: Buffer;
  channelId: bigint;
  client: MqttClient;
  cumulative: bigint;
  seed: number;
}

interface Pending {
  sentAt: number;
  expected: string;
  phase: 'warmup' | 'measured' | 'burst';
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function summary(latencies: number[], seconds: number) {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { count: s.length, p50Ms: r(pct(s, 0.5)), p99Ms: r(pct(s, 0.99)), maxMs: r(s.at(-1) ?? 0), seconds };
}

async function run(config: GatewaysConfig): Promise<GatewaysReport> {
  const devices = JSON.parse(readFileSync(config.devicesFile, 'utf8')) as Array<{
    serial: string;
    key: string;
    channelId: string;
  }>;
  const verifier = new VoucherVerifier({ chainId: config.chainId, channels: config.channels });
  const pending = new Map<string, Pending>();
  const latencies = { warmup: [] as number[], measured: [] as number[], burst: [] as number[] };
  const lastAck = { warmup: 0, measured: 0, burst: 0 };
  let okAcks = 0;
  let badAcks = 0;
  let sent = 0;
  let firstBad: string | null = null;

  const t0 = performance.now();
  const gateways: Gateway[] = new Array(devices.length);
  const CONCURRENT = 100;
  for (let i = 0; i < devices.length; i += CONCURRENT) {
    await Promise.all(
      devices.slice(i, i + CONCURRENT).map(async (d, j) => {
        const client = await mqtt.connectAsync(config.url, {
          clientId: `gw-${d.serial}`,
          clean: true,
          keepalive: 0,
          reconnectPeriod: 0,
        });
        noDelay(client);
        client.on('message', (_topic, payload) => {
          const at = performance.now();
          const ack = parseAck(JSON.parse(payload.toString()));
          const p = pending.get(ack.id);
          if (!p) return; // a duplicate delivery of an ack already counted
          pending.delete(ack.id);
          const good = ack.ok && ack.kind === 'voucher' && ack.result.cumulativeAmount === p.expected;
          if (good) okAcks++;
          else {
            badAcks++;
            firstBad ??= JSON.stringify(ack);
          }
          latencies[p.phase].push(at - p.sentAt);
          lastAck[p.phase] = at;
        });
        await client.subscribeAsync(hubTopics.ack(d.serial), { qos: 1 });
        gateways[i + j] = {
          serial: d.serial,
          key: Buffer.from(d.key, 'hex'),
          channelId: BigInt(d.channelId),
          client,
          cumulative: 0n,
          seed: (i + j) * 2654435761,
        };
      }),
    );
  }
  const connectMs = performance.now() - t0;
  process.send?.({ t: 'connected', ms: connectMs });

  const bill = (g: Gateway, cycle: number, phase: Pending['phase']) => {
    g.seed = (g.seed * 1103515245 + 12345) >>> 0;
    const deltaWh = BigInt(50 + (g.seed % 450)); // 50–499 Wh per 15-minute cycle
    g.cumulative += deltaWh * WEI_PER_WH;
    const signature = signDigest(verifier.digest(g.channelId, g.cumulative), g.key);
    const id = `voucher-${g.channelId}-${cycle}`;
    const payload = JSON.stringify(
      encodeVoucherMessage({
        id,
        channelId: g.channelId,
        cumulativeAmount: g.cumulative,
        cycle,
        importWh: cycle * 300,
        tariffId: 'fleet-flat',
        signature,
      }),
    );
    pending.set(id, { sentAt: performance.now(), expected: g.cumulative.toString(), phase });
    sent++;
    g.client.publish(hubTopics.voucher(g.serial), payload, { qos: 1 });
  };

  /** Bills cycle `cycle` for every gateway, gateway i at offset i/n of the cycle (0 for a burst). */
  const cycleOf = (cycle: number, phase: Pending['phase'], spread: boolean) =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      let next = 0;
      const n = gateways.length;
      const step = () => {
        const elapsed = performance.now() - start;
        const due = spread ? Math.min(n, Math.floor((elapsed / config.cycleMs) * n) + 1) : n;
        for (; next < due; next++) bill(gateways[next]!, cycle, phase);
        if (next >= n) {
          const rest = spread ? config.cycleMs - elapsed : 0;
          setTimeout(resolve, Math.max(0, rest));
        } else setTimeout(step, 2);
      };
      step();
    });

  const drain = async (deadlineMs: number) => {
    const until = performance.now() + deadlineMs;
    while (pending.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  };

  await cycleOf(0, 'warmup', true); // the hub reads each device and channel from the chain once
  await drain(config.drainMs);
  const measuredStart = performance.now();
  for (let c = 1; c <= config.cycles; c++) await cycleOf(c, 'measured', true);
  await drain(config.drainMs);
  const measuredSeconds = (Math.max(lastAck.measured, measuredStart) - measuredStart) / 1000;
  const burstStart = performance.now();
  await cycleOf(config.cycles + 1, 'burst', false);
  await drain(config.drainMs);
  const burstSeconds = (Math.max(lastAck.burst, burstStart) - burstStart) / 1000;
  const missing = pending.size;
  await Promise.all(gateways.map((g) => g.client.endAsync(true)));
  return {
    gateways: gateways.length,
    connectMs: Math.round(connectMs),
    sent,
    okAcks,
    badAcks,
    missing,
    measured: summary(latencies.measured, measuredSeconds),
    burst: summary(latencies.burst, burstSeconds),
    firstBad,
  };
}

process.once('message', (config: GatewaysConfig) => {
  run(config).then(
    (report) => process.send?.({ t: 'report', report }, () => process.exit(0)),
    (err: Error) => process.send?.({ t: 'error', message: err.stack ?? err.message }, () => process.exit(1)),
  );
});
