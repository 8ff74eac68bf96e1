/**
 * The `hepek` command as users' scripts see it: exit codes and messages that name the field.
 * Bad settings must stop the gateway before it touches the chain, the ports or the user dir.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, settingsFromArgs } from '../gateway/cli';
import { ConfigError } from '../gateway/errors';
import { brokerCredentialsFor } from '../gateway/broker/auth';
import { TEST_BROKER_SECRET, removeDir, runCli, tempDir } from './helpers/gateway';

const cli = suite<{ dir: string }>('hepek CLI');

cli.before.each((ctx) => {
  ctx.dir = tempDir('cli');
});
cli.after.each((ctx) => removeDir(ctx.dir));

async function startWith(dir: string, settings: unknown) {
  const file = path.join(dir, 'settings.json');
  writeFileSync(file, typeof settings === 'string' ? settings : JSON.stringify(settings));
  const run = runCli(['start', '--settings', file], { HEPEK_USER_DIR: path.join(dir, 'user') });
  const { code } = await run.exited;
  return { code, output: run.output() };
}

const badSettings: Array<[string, unknown, RegExp]> = [
  [
    'a number as chain.rpcUrl',
    { chain: { rpcUrl: 42 } },
    /chain\.rpcUrl: 42 is not allowed; expected null .* JSON-RPC URL/,
  ],
  ['a URL without a scheme', { chain: { rpcUrl: 'localhost:8545' } }, /chain\.rpcUrl: "localhost:8545"/],
  ['a port out of range', { nodeRed: { port: 70000 } }, /nodeRed\.port: 70000 .* integer from 1 to 65535/],
  [
    'a misspelt key',
    { brokr: {} },
    /brokr: \{\} is not allowed; expected a known setting \(known keys here: userDir, mode/,
  ],
  ['an unknown mode', { mode: 'miner' }, /mode: "miner" .* "consumer", "prosumer", "generator"/],
  [
    'the editor on all interfaces without adminAuth',
    { nodeRed: { host: '0.0.0.0' } },
    /nodeRed\.adminAuth: null .* "0\.0\.0\.0" \(not a loopback address\)/,
  ],
  [
    'a short broker password',
    { broker: { users: [{ username: 'ha', password: 'x' }] } },
    /broker\.users\[0\]\.password: "x"/,
  ],
  [
    'a flow file that does not exist',
    { nodeRed: { flow: '/nonexistent/flows.json' } },
    /nodeRed\.flow: "\/nonexistent\/flows\.json" is not allowed; expected "default" or the path of an existing flow JSON file/,
  ],
  [
    'a flow file that is not an array of nodes',
    { nodeRed: { flow: path.join(__dirname, '..', 'package.json') } },
    /nodeRed\.flow: ".*package\.json" is not allowed; expected a Node-RED flow file \(a JSON array of nodes\): the top level is not an array/,
  ],
  [
    'a battery with a negative capacity',
    { sim: { battery: { capacityWh: -1 } } },
    /sim\.battery\.capacityWh: -1 is not allowed; expected a number of Wh > 0/,
  ],
  [
    'a load/PV profile that does not exist',
    { sim: { profileFile: '/nonexistent/load.csv' } },
    /sim\.profileFile: "\/nonexistent\/load\.csv" is not allowed; expected a readable CSV file/,
  ],
  [
    'a journal cap below two segments',
    { store: { journal: { segmentBytes: 1048576, maxBytes: 1048576 } } },
    /store\.journal\.maxBytes: 1048576 is not allowed; expected at least twice segmentBytes/,
  ],
  ['JSON that does not parse', '{"chain": ', /--settings: ".*settings\.json" .* valid JSON/],
];

for (const [name, settings, message] of badSettings) {
  cli(`refuses ${name} with exit code 2 and the field in the message`, async (ctx) => {
    const { code, output } = await startWith(ctx.dir, settings);
    assert.is(code, 2, output);
    assert.match(output, message);
    assert.not.ok(existsSync(path.join(ctx.dir, 'user')), 'nothing was written to the user dir');
  });
}

cli('a user dir that belongs to another device is refused before anything starts', async (ctx) => {
  const userDir = path.join(ctx.dir, 'user');
  mkdirSync(userDir);
  writeFileSync(path.join(userDir, 'identity.json'), JSON.stringify({ serial: 'HPK-FIRST' }));
  const { code, output } = await startWith(ctx.dir, { userDir, identity: { serial: 'HPK-SECOND' } });
  assert.is(code, 1, output);
  assert.match(
    output,
    /identity\.json: this user dir belongs to device HPK-FIRST, but identity\.serial is HPK-SECOND/,
  );
  assert.not.ok(existsSync(path.join(userDir, 'keys')), 'no key was created');
});

cli('broker-credentials derives a login from the broker secret and names a bad flag', async (ctx) => {
  const userDir = path.join(ctx.dir, 'user');
  const hub = runCli(['broker-credentials', '--service', 'hub', '--json', '--user-dir', userDir]);
  assert.is((await hub.exited).code, 0, hub.output());
  assert.equal(JSON.parse(hub.output()), brokerCredentialsFor(TEST_BROKER_SECRET, { service: 'hub' }));
  const device = runCli(['broker-credentials', '--device', 'HPK-0001', '--user-dir', userDir]);
  assert.is((await device.exited).code, 0, device.output());
  const { password } = brokerCredentialsFor(TEST_BROKER_SECRET, { device: 'HPK-0001' });
  assert.match(device.output(), `username  HPK-0001\n  password  ${password}\n`);
  for (const [args, message] of [
    [[], /--device: null is not allowed; expected exactly one of --device SERIAL or --service hub\|gateway/],
    [['--device', 'a/b'], /--device: "a\/b" is not allowed; expected a device serial/],
    [['--service', 'admin'], /--service: "admin" is not allowed; expected one of hub, gateway/],
    [['--device', 'HPK-1', '--service', 'hub'], /--service: "hub" is not allowed; expected exactly one of/],
  ] as const) {
    const run = runCli(['broker-credentials', ...args, '--user-dir', userDir]);
    assert.is((await run.exited).code, 2, run.output());
    assert.match(run.output(), message);
  }
  // Without $HEPEK_BROKER_SECRET the secret is created once in the user dir (mode 0600) and reused.
  const first = runCli(['broker-credentials', '--service', 'gateway', '--json', '--user-dir', userDir], {
    HEPEK_BROKER_SECRET: '',
  });
  assert.is((await first.exited).code, 0, first.output());
  const secretFile = path.join(userDir, 'keys', 'broker-secret');
  assert.is(statSync(secretFile).mode & 0o777, 0o600);
  const stored = readFileSync(secretFile, 'utf8').trim();
  assert.equal(JSON.parse(first.output()), brokerCredentialsFor(stored, { service: 'gateway' }));
  const again = runCli(['broker-credentials', '--service', 'gateway', '--json', '--user-dir', userDir], {
    HEPEK_BROKER_SECRET: '',
  });
  assert.is((await again.exited).code, 0);
  assert.is(again.output(), first.output(), 'the same secret the next time');
});

cli('a missing settings file is named', async (ctx) => {
  const run = runCli(['start', '--settings', path.join(ctx.dir, 'nope.json')]);
  const { code } = await run.exited;
  assert.is(code, 2);
  assert.match(
    run.output(),
    /--settings: ".*nope\.json" is not allowed; expected a readable JSON settings file/,
  );
});

cli('unknown flags and commands are refused, help and version work', async () => {
  const flag = runCli(['start', '--setings', 'x.json']);
  assert.is((await flag.exited).code, 2);
  assert.match(
    flag.output(),
    /--setings: "--setings" is not allowed; expected one of --settings, --user-dir/,
  );
  const command = runCli(['strat']);
  assert.is((await command.exited).code, 2);
  assert.match(command.output(), /command: "strat"/);
  const help = runCli(['help']);
  assert.is((await help.exited).code, 0);
  assert.match(help.output(), /hepek <command>/);
  const version = runCli(['--version']);
  assert.is((await version.exited).code, 0);
  assert.match(version.output(), /^\d+\.\d+\.\d+/);
});

cli('parseArgs accepts --flag value and --flag=value', () => {
  const parsed = parseArgs(['start', '--settings', 'a.json', '--user-dir=/tmp/x'], {
    start: ['--settings', '--user-dir'],
  });
  assert.is(parsed.command, 'start');
  assert.is(parsed.flags.get('--settings'), 'a.json');
  assert.is(parsed.flags.get('--user-dir'), '/tmp/x');
  assert.throws(
    () => parseArgs(['start', '--settings'], { start: ['--settings'] }),
    (e: unknown) => e instanceof ConfigError,
  );
});

cli('--user-dir wins over the settings file and HEPEK_SETTINGS is read', (ctx) => {
  const file = path.join(ctx.dir, 's.json');
  writeFileSync(file, JSON.stringify({ userDir: '/tmp/from-file', balance: { lowThresholdErgon: 3 } }));
  const fromEnv = settingsFromArgs(new Map(), { HEPEK_SETTINGS: file });
  assert.is(fromEnv.userDir, '/tmp/from-file');
  assert.is(fromEnv.balance.lowThresholdErgon, 3);
  const flagged = settingsFromArgs(new Map([['--user-dir', '/tmp/from-flag']]), { HEPEK_SETTINGS: file });
  assert.is(flagged.userDir, '/tmp/from-flag');
  assert.is(flagged.balance.lowThresholdErgon, 3);
});

cli.run();
