/**
 * The `hepek` command. `hepek start` boots the gateway; later issues add their subcommands here.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad settings or arguments.
 */
import { readSettingsFile, resolveSettings, type Settings } from '../settings';
import { brokerCredentialsCommand } from './broker/cli';
import { deployCommand } from './chain/deploy-command';
import { HepekError, ConfigError } from './errors';
import { haCredentials } from './integrations/homeassistant/cli';
import { FORECAST_FLAGS, FORECAST_USAGE, forecastCommand } from './forecast/cli';
import { createLogger } from './log';
import { packageVersion } from './paths';
import { startRuntime } from './runtime';
import { parseTelegramCommand } from './meters/dsmr/cli';
import { HUB_FLAGS, HUB_USAGE, hubCommand } from './hub/cli-command';

const USAGE = `Usage: hepek <command> [options]

Commands:
  start                 run the gateway (chain, MQTT broker, Node-RED, simulated home)
  deploy                deploy the ledger contracts to a JSON-RPC node and print their addresses
  hub                   run the operator's hub against a JSON-RPC node and an MQTT broker
  parse-telegram <file|-> [--lenient]
                        decode a DSMR P1 telegram to JSON; exit 1 with the reason when it is
                        refused (--lenient: print the values anyway)
  ha-credentials        print the MQTT username/password for Home Assistant (--json: {username, password})
  broker-credentials    print the MQTT login of a device or service, derived from the broker secret:
                        --device SERIAL | --service hub|gateway [--json: {username, password}]
  help                  show this text
${FORECAST_USAGE}
Options for start:
  --settings FILE       JSON settings file (default: $HEPEK_SETTINGS, else built-in defaults)
  --user-dir DIR        where keys, chain journal and flows live (default: $HEPEK_USER_DIR or ~/.hepek)

Options for deploy:
  --rpc URL             the node's http(s) JSON-RPC URL (required)
  --key-env VAR         environment variable holding the deployer's private key
                        (default: the node's first unlocked account)
  --json                print {chainId, deployer, contracts} as JSON

${HUB_USAGE}
  -v, --version         print the version
`;

interface Parsed {
  command: string;
  flags: Map<string, string>;
}

/**
 * Parses `cmd --flag value --flag=value`; unknown flags are an error naming the flag. Flags listed
 * in `switches` take no value and are set to "true".
 */
export function parseArgs(argv: string[], known: Record<string, string[]>, switches: string[] = []): Parsed {
  const [command = 'help', ...rest] = argv;
  const allowed = known[command];
  const flags = new Map<string, string>();
  if (!allowed) return { command, flags };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (allowed.includes(name) && switches.includes(name) && eq < 0) {
      flags.set(name, 'true');
      continue;
    }
    if (!allowed.includes(name))
      throw new ConfigError(
        name,
        arg,
        `one of ${allowed.join(', ') || '(no options)'} for "hepek ${command}"`,
      );
    const value = eq > 0 ? arg.slice(eq + 1) : rest[++i];
    if (value === undefined || value === '') throw new ConfigError(name, value, 'a value after the flag');
    flags.set(name, value);
  }
  return { command, flags };
}

export function settingsFromArgs(flags: Map<string, string>, env: NodeJS.ProcessEnv = process.env): Settings {
  const file = flags.get('--settings') ?? env.HEPEK_SETTINGS;
  const userDir = flags.get('--user-dir');
  const override = file ? readSettingsFile(file) : {};
  // --user-dir wins over the file: it is the more specific, per-invocation choice. A file whose
  // top level is not an object is left as it is for resolveSettings to refuse.
  const isObject = typeof override === 'object' && override !== null && !Array.isArray(override);
  return resolveSettings(userDir && isObject ? { ...override, userDir } : override, env);
}

async function start(flags: Map<string, string>): Promise<number> {
  const settings = settingsFromArgs(flags);
  const log = createLogger(settings.log.level);
  const runtime = await startRuntime(settings, log);
  process.stdout.write(
    `HEPEK is running.\n  editor  ${runtime.editorUrl}\n  status  ${runtime.editorUrl}hepek/status\n  broker  ${runtime.brokerUrl}\n  chain   ${runtime.chainLabel}\n  wallet  ${runtime.context.wallet}\nPress Ctrl+C to stop.\n`,
  );
  await untilSignal(log);
  await runtime.stop();
  return 0;
}

/** Resolves on SIGINT or SIGTERM; if the stop after it hangs for 8 s, exits 1 anyway. */
function untilSignal(log: { info(line: string): void; error(line: string): void }): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      log.info(`${signal}: stopping`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // A safety net, not the plan: if something keeps the loop alive, say so and leave anyway.
      setTimeout(() => {
        log.error('shutdown took longer than 8 s; exiting anyway');
        process.exit(1);
      }, 8000).unref();
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function hub(flags: Map<string, string>): Promise<number> {
  const log = createLogger('info');
  const running = await hubCommand({ flags, env: process.env, log });
  const { hub: h, chainId, contracts, stateDir } = running;
  process.stdout.write(
    `HEPEK hub is running.\n  hub       ${h.address}\n  chain     ${chainId} ${flags.get('--rpc')}\n  registry  ${contracts.GatewayRegistry}\n  channels  ${contracts.PaymentChannels}\n  broker    ${flags.get('--mqtt')!.replace(/\/\/[^@/]*@/, '//')}\n  region    ${h.options.region}\n  books     ${stateDir}\nPress Ctrl+C to stop.\n`,
  );
  await untilSignal(log);
  await running.stop();
  return 0;
}

async function deploy(flags: Map<string, string>): Promise<number> {
  const rpc = flags.get('--rpc');
  if (rpc === undefined) throw new ConfigError('--rpc', rpc, 'the JSON-RPC URL of the node to deploy to');
  const json = flags.has('--json');
  const result = await deployCommand({
    rpc,
    keyEnv: flags.get('--key-env') ?? null,
    env: process.env,
    // With --json, stdout carries only the JSON document; progress goes to stderr.
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const width = Math.max(...Object.keys(result.contracts).map((n) => n.length));
    process.stdout.write(`chain ${result.chainId}, deployer ${result.deployer}\n`);
    for (const [name, address] of Object.entries(result.contracts))
      process.stdout.write(`${name.padEnd(width)}  ${address}\n`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<void> {
  try {
    if (argv[0] === '-v' || argv[0] === '--version') {
      process.stdout.write(`${packageVersion()}\n`);
      return;
    }
    if (argv[0] === 'forecast') {
      const sub = parseArgs(argv.slice(1), FORECAST_FLAGS);
      process.exitCode = await forecastCommand(sub.command, sub.flags);
      return;
    }
    if (argv[0] === 'parse-telegram') {
      process.exitCode = await parseTelegramCommand(argv.slice(1));
      return;
    }
    const { command, flags } = parseArgs(
      argv,
      {
        start: ['--settings', '--user-dir'],
        deploy: ['--rpc', '--key-env', '--json'],
        hub: HUB_FLAGS,
        'ha-credentials': ['--settings', '--user-dir', '--json'],
        'broker-credentials': ['--settings', '--user-dir', '--device', '--service', '--json'],
      },
      ['--json'],
    );
    switch (command) {
      case 'start':
        process.exitCode = await start(flags);
        return;
      case 'deploy':
        process.exitCode = await deploy(flags);
        return;
      case 'hub':
        process.exitCode = await hub(flags);
        return;
      case 'ha-credentials':
        process.stdout.write(haCredentials(settingsFromArgs(flags), flags.has('--json')));
        return;
      case 'broker-credentials':
        process.stdout.write(brokerCredentialsCommand(settingsFromArgs(flags), flags));
        return;
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return;
      default:
        throw new ConfigError(
          'command',
          command,
          'one of start, deploy, hub, forecast, parse-telegram, ha-credentials, broker-credentials, help (see hepek help)',
        );
    }
  } catch (err) {
    if (err instanceof HepekError) {
      process.stderr.write(`hepek: ${err.message}\n`);
      process.exitCode = err instanceof ConfigError ? 2 : 1;
    } else {
      process.stderr.write(`hepek: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
