/**
 * Readings/s and latency through a DEPLOYED Node-RED flow: the gateway's embedded Node-RED
 * (gateway/nodered/embedded.ts, our nodes loaded from dist/ as an installed package would be) runs
 *
 *   hepek-meter-read (raw P1 bytes) → switch (payload.powerW < 0) → change (true | false) → hepek-relay
 *
 * Each injected message is one DSMR telegram (own fixtures, CRC checked); a reading is counted
 * when the relay's output message (the relay state after the switch) reaches the end of the flow.
 * Two runs: one message at a time (latency at rest) and a window of messages in flight
 * (throughput, with the latency under that load). The baseline, measured in the same run, is the
 * same work without Node-RED: splitter + decoder + reading + relay.set called directly.
 *
 *   npm run bench -- flow            # bench/out/flow.json
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { GatewayContext } from '../gateway/context';
import { freePort } from '../test/helpers/gateway';
import { fromDist } from './dist';
import { report } from './report';

const ROOT = path.resolve(__dirname, '..');
const AT_REST = Number(process.env.HEPEK_BENCH_AT_REST ?? 2000);
const LOADED = Number(process.env.HEPEK_BENCH_LOADED ?? 20000);
const WINDOW = Number(process.env.HEPEK_BENCH_WINDOW ?? 64);

const { registerGateway } = fromDist<typeof import('../gateway/context')>('gateway/context');
const { SimulatedRelay } =
  fromDist<typeof import('../gateway/devices/sim-relay')>('gateway/devices/sim-relay');
const { SimulatedHousehold } = fromDist<typeof import('../gateway/sim/household')>('gateway/sim/household');
const { startNodeRed } = fromDist<typeof import('../gateway/nodered/embedded')>('gateway/nodered/embedded');
const { TelegramStream } = fromDist<typeof import('../gateway/meters/dsmr/splitter')>(
  'gateway/meters/dsmr/splitter',
);
const { telegramToReading } = fromDist<typeof import('../gateway/meters/dsmr/reading')>(
  'gateway/meters/dsmr/reading',
);

const TELEGRAMS = ['dsmr50-gas-water.txt', 'dsmr50-export-zero-clock.txt', 'emucs-gas-water.txt'].map((f) =>
  readFileSync(path.join(ROOT, 'test', 'fixtures', 'dsmr', f)),
);

const AT = { x: 200, y: 100 };
const FLOW = [
  { id: 'bench-tab', type: 'tab', label: 'flow bench' },
  {
    id: 'bench-comment',
    type: 'comment',
    z: 'bench-tab',
    name: 'Benchmark: raw P1 telegram → meter-read → switch → change → relay',
    ...AT,
    wires: [],
  },
  { id: 'bench-cfg', type: 'hepek-config', name: 'gateway', rpcUrl: '', configVersion: 1 },
  {
    id: 'meter',
    type: 'hepek-meter-read',
    z: 'bench-tab',
    source: 'raw',
    config: '',
    configVersion: 2,
    ...AT,
    wires: [['exporting']],
  },
  {
    id: 'exporting',
    type: 'switch',
    z: 'bench-tab',
    property: 'payload.powerW',
    propertyType: 'msg',
    rules: [{ t: 'lt', v: '0', vt: 'num' }, { t: 'else' }],
    checkall: 'false',
    outputs: 2,
    ...AT,
    wires: [['relay-on'], ['relay-off']],
  },
  {
    id: 'relay-on',
    type: 'change',
    z: 'bench-tab',
    rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'true', tot: 'bool' }],
    ...AT,
    wires: [['relay']],
  },
  {
    id: 'relay-off',
    type: 'change',
    z: 'bench-tab',
    rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'false', tot: 'bool' }],
    ...AT,
    wires: [['relay']],
  },
  {
    id: 'relay',
    type: 'hepek-relay',
    z: 'bench-tab',
    config: 'bench-cfg',
    configVersion: 1,
    ...AT,
    wires: [['end']],
  },
  {
    id: 'end',
    type: 'debug',
    z: 'bench-tab',
    active: false,
    tosidebar: false,
    console: false,
    complete: 'payload',
    ...AT,
    wires: [],
  },
];

interface RuntimeNode {
  receive(msg: Record<string, unknown>): void;
  on(event: 'input', handler: (msg: Record<string, unknown>, send: unknown, done: () => void) => void): void;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sends `count` telegrams with at most `window` in flight; resolves with the rate and latencies. */
function drive(
  meter: RuntimeNode,
  arrivals: { resolve: ((ms: number) => void) | null },
  count: number,
  window: number,
): Promise<{ perSec: number; latencies: number[] }> {
  return new Promise((resolve) => {
    const latencies: number[] = [];
    let sent = 0;
    const started = performance.now();
    const send = () => {
      meter.receive({ payload: TELEGRAMS[sent % TELEGRAMS.length], benchT0: performance.now() });
      sent++;
    };
    arrivals.resolve = (ms) => {
      latencies.push(ms);
      if (latencies.length === count) {
        arrivals.resolve = null;
        resolve({
          perSec: count / ((performance.now() - started) / 1000),
          latencies: latencies.sort((a, b) => a - b),
        });
      } else if (sent < count) send();
    };
    for (let i = 0; i < Math.min(window, count); i++) send();
  });
}

async function direct(count: number): Promise<number> {
  const relay = new SimulatedRelay();
  const stream = new TelegramStream();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    for (const result of stream.push(TELEGRAMS[i % TELEGRAMS.length]!)) {
      if (!result.ok) throw result.error;
      const reading = telegramToReading(result.telegram, Date.now())!;
      await relay.set(reading.powerW < 0, 'bench');
    }
  }
  return count / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const userDir = mkdtempSync(path.join(os.tmpdir(), 'hepek-flow-bench-'));
  const flowFile = path.join(userDir, 'bench-flow.json');
  writeFileSync(flowFile, JSON.stringify(FLOW));
  const relay = new SimulatedRelay();
  const context: GatewayContext = {
    deviceId: '0x' + '01'.repeat(32),
    serial: 'HEPEK-BENCH',
    wallet: '0x' + 'ab'.repeat(20),
    chainId: 31337,
    contracts: { ErgonToken: '0x' + '11'.repeat(20), GatewayRegistry: '0x' + '22'.repeat(20) },
    lowThresholdErgon: 1,
    meter: new SimulatedHousehold(),
    relay,
    balance: {
      read: () => Promise.reject(new Error('no balance in the flow benchmark')),
    },
  };
  const unregister = registerGateway(context);
  const nodeRed = await startNodeRed({
    userDir,
    host: '127.0.0.1',
    port: await freePort(),
    firstFlow: flowFile,
    adminAuth: null,
    credentialSecret: 'bench',
    logLevel: 'warn',
  });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const RED = require('node-red') as { nodes: { getNode(id: string): RuntimeNode | null } };
    const deadline = Date.now() + 10_000;
    while (!RED.nodes.getNode('end') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const meter = RED.nodes.getNode('meter');
    const end = RED.nodes.getNode('end');
    if (!meter || !end) throw new Error('the flow did not deploy');
    const arrivals: { resolve: ((ms: number) => void) | null } = { resolve: null };
    end.on('input', (msg, _send, done) => {
      arrivals.resolve?.(performance.now() - (msg.benchT0 as number));
      done();
    });

    await drive(meter, arrivals, 500, 8); // warm-up
    const cpu0 = process.cpuUsage();
    const atRest = await drive(meter, arrivals, AT_REST, 1);
    const loaded = await drive(meter, arrivals, LOADED, WINDOW);
    const used = process.cpuUsage(cpu0);
    const cpuMsPerReading = (used.user + used.system) / 1000 / (AT_REST + LOADED);
    await direct(500);
    const baseline = await direct(LOADED);

    const fmt = (x: number, d = 2) => x.toFixed(d);
    const shareUnder5 = atRest.latencies.filter((ms) => ms < 5).length / atRest.latencies.length;
    report(
      'flow',
      [
        ['flow', 'meter-read (raw) → switch → change → relay, deployed in embedded Node-RED'],
        ['load average (1 min)', fmt(os.loadavg()[0]!, 1)],
        ['baseline: same work without Node-RED, readings/s', fmt(baseline, 0)],
        [`one at a time (${AT_REST}): readings/s`, fmt(atRest.perSec, 0)],
        [
          '  latency p50 / p99 / max, ms',
          `${fmt(percentile(atRest.latencies, 50), 3)} / ${fmt(percentile(atRest.latencies, 99), 3)} / ${fmt(atRest.latencies.at(-1)!, 3)}`,
        ],
        [
          '  latency p90 / p95, ms',
          `${fmt(percentile(atRest.latencies, 90), 3)} / ${fmt(percentile(atRest.latencies, 95), 3)}`,
        ],
        ['  share under 5 ms', `${fmt(100 * shareUnder5, 2)} %`],
        [`${WINDOW} in flight (${LOADED}): readings/s`, fmt(loaded.perSec, 0)],
        [
          '  latency p50 / p99, ms',
          `${fmt(percentile(loaded.latencies, 50), 3)} / ${fmt(percentile(loaded.latencies, 99), 3)}`,
        ],
        ['CPU per reading through the flow, ms', fmt(cpuMsPerReading, 4)],
        ['readings per CPU-second (one core, no other load)', fmt(1000 / cpuMsPerReading, 0)],
        ['flow / baseline', fmt(loaded.perSec / baseline, 3)],
        [
          'goal ≥ 5,000 readings/s, p99 < 5 ms',
          loaded.perSec >= 5000 && percentile(atRest.latencies, 99) < 5 ? 'met' : 'NOT met',
        ],
      ],
      {
        readingsPerSec: Math.round(loaded.perSec),
        p99Ms: Number(percentile(atRest.latencies, 99).toFixed(3)),
        p50Ms: Number(percentile(atRest.latencies, 50).toFixed(3)),
        p95Ms: Number(percentile(atRest.latencies, 95).toFixed(3)),
        shareUnder5Ms: Number(shareUnder5.toFixed(4)),
        p99MsUnderLoad: Number(percentile(loaded.latencies, 99).toFixed(3)),
        readingsPerSecOneAtATime: Math.round(atRest.perSec),
        baselineReadingsPerSec: Math.round(baseline),
        ratioVsBaseline: Number((loaded.perSec / baseline).toFixed(3)),
        cpuMsPerReading: Number(cpuMsPerReading.toFixed(4)),
        readingsPerCpuSec: Math.round(1000 / cpuMsPerReading),
        loadAverage: Number(os.loadavg()[0]!.toFixed(2)),
      },
    );
  } finally {
    await nodeRed.stop();
    unregister();
    rmSync(userDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
