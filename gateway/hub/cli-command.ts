/**
 * `hepek hub`: the operator's hub as its own process against a JSON-RPC node and an MQTT broker.
 *
 *   hepek hub --rpc URL --key-env VAR --mqtt URL
 *             (--deployment FILE | --registry ADDR --channels ADDR [--readings ADDR])
 *             [--state DIR] [--region R] [--tariff FILE] [--broker-secret-env VAR]
 *             [--close-spent-percent N] [--close-interval-seconds N] [--tick-ms N]
 *
 * Every flag is checked before anything starts; a refusal names the flag, the value and what is
 * allowed (exit 2). A node or broker that does not answer exits 1 naming --rpc or --mqtt.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Wallet, getAddress } from 'ethers';
import { openJsonRpc } from '../chain/connect';
import type { Tariff } from '../chain/typed-data';
import { ConfigError, DeviceUnavailableError, HepekError } from '../errors';
import { parseHubSettings, startHub, type HubSettings } from './index';
import type { Hub } from './hub';
import { parseTariff } from './protocol';

/** The flags `hepek hub` takes (parseArgs in cli.ts refuses any other). */
export const HUB_FLAGS = [
  '--rpc',
  '--key-env',
  '--mqtt',
  '--deployment',
  '--registry',
  '--channels',
  '--readings',
  '--state',
  '--region',
  '--tariff',
  '--broker-secret-env',
  '--close-spent-percent',
  '--close-interval-seconds',
  '--tick-ms',
];

export const HUB_USAGE = `Options for hub (the operator's hub as its own process):
  --rpc URL             the node's http(s) JSON-RPC URL (required)
  --key-env VAR         environment variable holding the hub's private key: payee of the
                        channels, relayer (pays the gas), signer of DEMAND events and tariffs (required)
  --mqtt URL            mqtt://, mqtts://, ws:// or wss:// URL of the devices' broker (required)
  --deployment FILE     the contracts: a \`hepek deploy --json\` output (or {GatewayRegistry, ...})
  --registry ADDR       ... or each address: GatewayRegistry,
  --channels ADDR       PaymentChannels,
  --readings ADDR       MeterReadings (optional: without it readings are refused)
  --state DIR           the hub's books (default: $HEPEK_HUB_DIR or ~/.hepek-hub)
  --region R            region of its DEMAND events and tariffs (default: default)
  --tariff FILE         a tariff (or an array of them) to sign and publish retained at start
  --broker-secret-env VAR  environment variable with the broker secret; when set, the hub logs in
                        as hub@hepek (default: HEPEK_BROKER_SECRET)
  --close-spent-percent N     close a channel at N % of its deposit spent (default: 90; 0 never)
  --close-interval-seconds N  close every channel holding a voucher this often (default: 86400)
  --tick-ms N           period of the chain watch, closes and reading batches (default: 5000)
`;

export interface HubCommandOptions {
  flags: Map<string, string>;
  env: NodeJS.ProcessEnv;
  log: { info(line: string): void; warn(line: string): void };
}

export interface HubCommand {
  hub: Hub;
  chainId: number;
  contracts: { GatewayRegistry: string; PaymentChannels: string; MeterReadings: string | null };
  stateDir: string;
  stop(): Promise<void>;
}

function required(flags: Map<string, string>, flag: string, what: string): string {
  const v = flags.get(flag);
  if (v === undefined) throw new ConfigError(flag, v, what);
  return v;
}

function addressFlag(flag: string, value: unknown): string {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value))
    throw new ConfigError(flag, value, 'a 20-byte 0x-hex contract address');
  try {
    return getAddress(value);
  } catch {
    throw new ConfigError(flag, value, 'an address with a valid EIP-55 checksum (or all lower case)');
  }
}

function integerFlag(flags: Map<string, string>, flag: string): number | undefined {
  const v = flags.get(flag);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw new ConfigError(flag, v, 'a whole number');
  return Number(v);
}

function readJson(flag: string, file: string): unknown {
  if (!existsSync(file)) throw new ConfigError(flag, file, 'the path of an existing JSON file');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new ConfigError(flag, file, `a JSON file (${(err as Error).message})`, { cause: err });
  }
}

/** The contract addresses from --deployment or from --registry/--channels/--readings. */
export function hubContracts(flags: Map<string, string>): HubCommand['contracts'] {
  const file = flags.get('--deployment');
  const single = ['--registry', '--channels', '--readings'].filter((f) => flags.has(f));
  if (file !== undefined && single.length > 0)
    throw new ConfigError(
      single[0]!,
      flags.get(single[0]!),
      'nothing when --deployment is given (one or the other)',
    );
  if (file === undefined) {
    if (single.length === 0)
      throw new ConfigError(
        '--deployment',
        undefined,
        'a deployment file (hepek deploy --json), or --registry ADDR --channels ADDR [--readings ADDR]',
      );
    const readings = flags.get('--readings');
    return {
      GatewayRegistry: addressFlag('--registry', flags.get('--registry')),
      PaymentChannels: addressFlag('--channels', flags.get('--channels')),
      MeterReadings: readings === undefined ? null : addressFlag('--readings', readings),
    };
  }
  const raw = readJson('--deployment', file);
  const top = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const c = (typeof top.contracts === 'object' && top.contracts !== null ? top.contracts : top) as Record<
    string,
    unknown
  >;
  const at = (name: string) => addressFlag(`--deployment ${file}: ${name}`, c[name]);
  return {
    GatewayRegistry: at('GatewayRegistry'),
    PaymentChannels: at('PaymentChannels'),
    MeterReadings: c.MeterReadings === undefined ? null : at('MeterReadings'),
  };
}

function tariffsFrom(flags: Map<string, string>): Tariff[] {
  const file = flags.get('--tariff');
  if (file === undefined) return [];
  const raw = readJson('--tariff', file);
  const list = Array.isArray(raw) ? raw : [raw];
  try {
    return list.map((t, i) => parseTariff(t, Array.isArray(raw) ? `tariff[${i}]` : 'tariff'));
  } catch (err) {
    throw new ConfigError('--tariff', file, `a valid tariff file: ${(err as Error).message}`, { cause: err });
  }
}

/** Checks every flag, connects to the node and the broker, starts the hub. */
export async function hubCommand(options: HubCommandOptions): Promise<HubCommand> {
  const { flags, env, log } = options;
  const rpc = required(flags, '--rpc', 'the JSON-RPC URL of the node, e.g. http://127.0.0.1:8545');
  if (!/^https?:\/\/\S+$/.test(rpc))
    throw new ConfigError('--rpc', rpc, 'an http:// or https:// JSON-RPC URL, e.g. http://127.0.0.1:8545');
  const keyEnv = required(
    flags,
    '--key-env',
    "the name of an environment variable holding the hub's private key",
  );
  const key = env[keyEnv]?.trim();
  if (key === undefined || !/^(0x)?[0-9a-fA-F]{64}$/.test(key))
    throw new ConfigError(
      '--key-env',
      keyEnv,
      `the name of an environment variable holding the hub's 32-byte hex private key (${keyEnv} is ${key === undefined ? 'unset' : 'not such a key'})`,
    );
  const mqttUrl = required(
    flags,
    '--mqtt',
    'the URL of the MQTT broker the devices use, e.g. mqtt://127.0.0.1:1883',
  );
  if (!/^(mqtts?|wss?):\/\/\S+$/.test(mqttUrl))
    throw new ConfigError(
      '--mqtt',
      mqttUrl,
      'an mqtt://, mqtts://, ws:// or wss:// URL, e.g. mqtt://127.0.0.1:1883',
    );
  const contracts = hubContracts(flags);
  const stateDir = path.resolve(
    flags.get('--state') ?? env.HEPEK_HUB_DIR ?? path.join(os.homedir(), '.hepek-hub'),
  );
  const secretEnv = flags.get('--broker-secret-env') ?? 'HEPEK_BROKER_SECRET';
  if (!/^[A-Z_][A-Z0-9_]*$/.test(secretEnv))
    throw new ConfigError(
      '--broker-secret-env',
      secretEnv,
      'an environment variable name (upper case, digits, underscores)',
    );
  const secret = env[secretEnv] ? env[secretEnv] : null;
  let settings: HubSettings;
  try {
    settings = parseHubSettings(
      {
        region: flags.get('--region'),
        closeSpentPercent: integerFlag(flags, '--close-spent-percent'),
        closeIntervalSeconds: integerFlag(flags, '--close-interval-seconds'),
        tickMs: integerFlag(flags, '--tick-ms'),
      },
      '',
    );
  } catch (err) {
    // Name the flag, not the setting.
    if (!(err instanceof ConfigError)) throw err;
    const flag = `--${err.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new ConfigError(flag, err.value, err.allowed);
  }
  const tariffs = tariffsFrom(flags);

  const { provider, chainId } = await openJsonRpc(rpc, '--rpc', 1000);
  try {
    for (const [name, address] of Object.entries(contracts)) {
      if (address === null) continue;
      if ((await provider.getCode(address)) === '0x')
        throw new ConfigError(
          flags.has('--deployment') ? `--deployment ${flags.get('--deployment')}: ${name}` : name,
          address,
          `the address of the ${name} contract on chain ${chainId} (there is no code at ${address})`,
        );
    }
    const wallet = new Wallet(key.startsWith('0x') ? key : `0x${key}`, provider);
    log.info(
      `hub ${wallet.address} on chain ${chainId} (${rpc}), registry ${contracts.GatewayRegistry}, channels ${contracts.PaymentChannels}, books in ${stateDir}`,
    );
    let hub: Hub;
    try {
      hub = await startHub({
        provider,
        wallet,
        chainId,
        contracts,
        dir: stateDir,
        log,
        ...settings,
        tariffs,
        broker: { url: mqttUrl, secret, client: { connectTimeout: 10_000 } },
      });
    } catch (err) {
      if (err instanceof HepekError) throw err;
      throw new DeviceUnavailableError(
        '--mqtt',
        `the broker at ${mqttUrl} did not let the hub in (${(err as Error).message})${secret ? '' : `; is ${secretEnv} set to the broker secret?`}`,
        { cause: err },
      );
    }
    return {
      hub,
      chainId,
      contracts,
      stateDir,
      async stop() {
        await hub.stop();
        provider.destroy();
      },
    };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}
