/**
 * `hepek hub` as its own process against a separate JSON-RPC node (`hardhat node`) and a broker
 * with per-device logins: it logs in as hub@hepek, publishes its tariff retained, relays a
 * device-signed Open (the device holds no ETH), accepts vouchers, and after SIGTERM and a restart
 * still holds the newest one. Bad flags exit 2 naming the flag; a dead node exits 1 naming --rpc.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JsonRpcProvider, Wallet, id, parseEther } from 'ethers';
import { brokerCredentialsFor } from '../gateway/broker/auth';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import { deployLedger } from '../gateway/chain/deploy';
import { signOpen, signPermit, signVoucher, channelIdOf } from '../gateway/chain/channels';
import { signClaim, signReceipt } from '../gateway/chain/eip712';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import {
  ErgonToken__factory,
  GatewayRegistry__factory,
  PaymentChannels__factory,
  Purchase__factory,
} from '../gateway/chain/types';
import {
  encodeOpenMessage,
  encodeVoucherMessage,
  hubDomain,
  hubTopics,
  verifyTariff,
  type Ack,
} from '../gateway/hub/protocol';
import { testKey } from './helpers/chain';
import { freePort, removeDir, runCli, stopCli, tempDir, until, type RunningCli } from './helpers/gateway';
import { startHardhatNode, type HardhatNode } from './helpers/hardhat-node';
import { deviceClient, type DeviceClient } from './helpers/hub';

/** Hardhat node's well-known dev account keys (funded on every `hardhat node`). */
const OPERATOR_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const HUB_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const MEMBER_KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a';
const CHAIN_ID = 31341;
const SERIAL = 'HPK-CLI-0001';
const SECRET = 'operator-broker-secret-hub-cli-test';

interface Ctx {
  dir: string;
  node?: HardhatNode;
  broker?: EmbeddedBroker;
  clis: RunningCli[];
  devices: DeviceClient[];
}

const hubCli = suite<Ctx>('hepek hub');

hubCli.before.each((ctx) => {
  ctx.dir = tempDir('hub-cli');
  ctx.node = undefined;
  ctx.broker = undefined;
  ctx.clis = [];
  ctx.devices = [];
});

hubCli.after.each(async (ctx) => {
  for (const d of ctx.devices) await d.close();
  for (const c of ctx.clis) await stopCli(c);
  await ctx.broker?.close();
  await ctx.node?.kill();
  removeDir(ctx.dir);
});

async function run(ctx: Ctx, args: string[], env: NodeJS.ProcessEnv = {}) {
  const cli = runCli(['hub', ...args], env);
  ctx.clis.push(cli);
  const { code } = await cli.exited;
  return { code, output: cli.output() };
}

/** Starts `hepek hub` and waits for its banner. */
async function startHubCli(ctx: Ctx, args: string[], env: NodeJS.ProcessEnv): Promise<RunningCli> {
  const cli = runCli(['hub', ...args], env);
  ctx.clis.push(cli);
  await until(
    'the hub banner',
    async () => (/HEPEK hub is running/.test(cli.output()) ? true : undefined),
    60_000,
    cli,
  );
  return cli;
}

hubCli(
  'runs against a hardhat node: hub@hepek login, retained tariff, relayed Open, vouchers kept across a restart',
  async (ctx) => {
    ctx.node = await startHardhatNode(ctx.dir, CHAIN_ID);
    const provider = new JsonRpcProvider(ctx.node.url, CHAIN_ID, { cacheTimeout: -1, staticNetwork: true });
    try {
      const operator = new Wallet(OPERATOR_KEY, provider);
      const member = new Wallet(MEMBER_KEY, provider);
      const hubAddress = new Wallet(HUB_KEY).address;
      const device = new Wallet(testKey('hub-cli-device'), provider);
      const contracts = await deployLedger(operator, {
        operator: operator.address,
        manufacturer: operator.address,
      });
      const deploymentFile = path.join(ctx.dir, 'deployment.json');
      writeFileSync(
        deploymentFile,
        JSON.stringify({ chainId: CHAIN_ID, deployer: operator.address, contracts }, null, 2),
      );
      // Manufacturer registers, the member claims (device-signed), the operator mints 50 ERGON.
      const deviceId = deviceIdFromSerial(SERIAL);
      const registry = GatewayRegistry__factory.connect(contracts.GatewayRegistry!, operator);
      await (await registry.register(deviceId, device.address, 4600)).wait();
      const claim = await signClaim(device, {
        chainId: CHAIN_ID,
        registry: contracts.GatewayRegistry!,
        deviceId,
        member: member.address,
        nonce: 0,
      });
      await (await registry.connect(member).claim(deviceId, member.address, 0, claim)).wait();
      const receipt = {
        paymentId: id('hub-cli-test'),
        hepekWallet: device.address,
        amount: parseEther('50'),
      };
      const receiptSig = await signReceipt(
        operator,
        { chainId: CHAIN_ID, verifyingContract: contracts.Purchase! },
        receipt,
      );
      await (
        await Purchase__factory.connect(contracts.Purchase!, operator).redeem(
          receipt.paymentId,
          receipt.hepekWallet,
          receipt.amount,
          receiptSig,
        )
      ).wait();

      ctx.broker = await startEmbeddedBroker({
        host: '127.0.0.1',
        port: await freePort(),
        users: [],
        auth: { secret: SECRET, admins: [] },
      });
      const now = Math.floor(Date.now() / 1000);
      const tariff = {
        id: 'cli-flat',
        region: 'nl',
        validFrom: now - 60,
        validUntil: now + 86_400,
        periodStarts: [now - 60],
        weiPerKWh: ['250000000000000000'],
      };
      const tariffFile = path.join(ctx.dir, 'tariff.json');
      writeFileSync(tariffFile, JSON.stringify(tariff));
      const state = path.join(ctx.dir, 'hub-state');
      const args = [
        '--rpc',
        ctx.node.url,
        '--key-env',
        'HUB_KEY',
        '--mqtt',
        ctx.broker.url,
        '--deployment',
        deploymentFile,
        '--state',
        state,
        '--region',
        'nl',
        '--tariff',
        tariffFile,
        '--tick-ms',
        '500',
      ];
      const env = { HUB_KEY, HEPEK_BROKER_SECRET: SECRET };
      // A broker that does not answer, and one that refuses the wrong secret: exit 1 naming --mqtt.
      const deadMqtt = `mqtt://127.0.0.1:${await freePort()}`;
      const noBroker = await run(ctx, [...args, '--mqtt', deadMqtt], env);
      assert.is(noBroker.code, 1, noBroker.output);
      assert.match(noBroker.output, `--mqtt: the broker at ${deadMqtt} did not let the hub in`);
      const wrong = await run(ctx, args, { ...env, HEPEK_BROKER_SECRET: 'not-the-secret' });
      assert.is(wrong.code, 1, wrong.output);
      assert.match(
        wrong.output,
        /--mqtt: the broker at .* did not let the hub in \(.*(Bad username or password|Not authorized)/i,
        wrong.output,
      );
      const first = await startHubCli(ctx, args, env);
      assert.match(first.output(), `hub       ${hubAddress}`);

      const dev = await deviceClient(
        ctx.broker.url,
        brokerCredentialsFor(SECRET, { device: SERIAL }),
        hubTopics.ack(SERIAL),
      );
      ctx.devices.push(dev);
      const retained = new Promise<string>((resolve) =>
        dev.client.on('message', (topic, payload) => {
          if (topic === hubTopics.tariff('nl')) resolve(payload.toString());
        }),
      );
      await dev.client.subscribeAsync(hubTopics.tariff('nl'), { qos: 1 });
      const verified = verifyTariff(
        hubDomain(CHAIN_ID, contracts.GatewayRegistry!),
        JSON.parse(await retained),
        { hub: hubAddress, region: 'nl', nowS: now },
      );
      assert.is(verified.weiPerKWh[0], parseEther('0.25'));

      // The device opens its channel through the hub: it has ERGON but no ETH.
      assert.is(await provider.getBalance(device.address), 0n);
      const deployment = { chainId: CHAIN_ID, channels: contracts.PaymentChannels! };
      const open = {
        payer: device.address,
        payee: hubAddress,
        deposit: parseEther('10'),
        challengePeriod: 3600n,
        nonce: 0n,
      };
      const token = ErgonToken__factory.connect(contracts.ErgonToken!, provider);
      const permit = await signPermit(device, {
        chainId: CHAIN_ID,
        token: contracts.ErgonToken!,
        owner: device.address,
        spender: contracts.PaymentChannels!,
        value: open.deposit,
        nonce: await token.nonces(device.address),
        deadline: 2n ** 40n,
      });
      const opened = await dev.request(
        SERIAL,
        'open',
        encodeOpenMessage({
          id: 'open-1',
          open,
          signature: await signOpen(device, deployment, open),
          permit,
        }),
        'open-1',
        30_000,
      );
      assert.ok(opened.ok && opened.kind === 'open', JSON.stringify(opened));
      const channelId = channelIdOf(device.address, 0n);
      const channels = PaymentChannels__factory.connect(contracts.PaymentChannels!, provider);
      assert.is((await channels.channelOf(channelId)).deposit, parseEther('10'));

      const voucher = async (amount: bigint, cycle: number): Promise<Ack> => {
        const msg = {
          id: `voucher-${channelId}-${cycle}`,
          channelId,
          cumulativeAmount: amount,
          cycle,
          importWh: cycle * 100,
          tariffId: 'cli-flat',
          signature: await signVoucher(device, deployment, { channelId, cumulativeAmount: amount }),
        };
        return dev.request(SERIAL, 'voucher', encodeVoucherMessage(msg), msg.id);
      };
      for (let cycle = 1; cycle <= 3; cycle++) {
        const ack = await voucher(parseEther('0.1') * BigInt(cycle), cycle);
        assert.ok(ack.ok, JSON.stringify(ack));
      }
      const stopped = await stopCli(first);
      assert.is(stopped.code, 0, first.output());

      // Restarted on the same books: the newest voucher is still held.
      await startHubCli(ctx, args, env);
      const stale = await voucher(parseEther('0.2'), 2);
      assert.ok(!stale.ok && stale.code === 'stale', JSON.stringify(stale));
      assert.match(!stale.ok ? stale.reason : '', `at least the newest held ${parseEther('0.3')} wei`);
      const next = await voucher(parseEther('0.4'), 4);
      assert.equal(
        next.ok && next.kind === 'voucher' ? next.result.cumulativeAmount : null,
        parseEther('0.4').toString(),
      );
    } finally {
      provider.destroy();
    }
  },
);

hubCli('bad flags exit 2 naming the flag; a dead node exits 1 naming --rpc', async (ctx) => {
  const deploymentFile = path.join(ctx.dir, 'deployment.json');
  writeFileSync(deploymentFile, JSON.stringify({ contracts: { GatewayRegistry: '0x12' } }));
  const good = ['--rpc', 'http://127.0.0.1:1', '--key-env', 'HUB_KEY', '--mqtt', 'mqtt://127.0.0.1:1'];
  const env = { HUB_KEY };
  const addr = '0x' + '11'.repeat(20);
  const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp | string]> = [
    ['no --rpc', [], {}, /--rpc: undefined is not allowed; expected the JSON-RPC URL/],
    [
      '--rpc scheme',
      ['--rpc', 'localhost:8545'],
      {},
      /--rpc: "localhost:8545" is not allowed; expected an http:\/\/ or https:\/\//,
    ],
    ['no --key-env', ['--rpc', 'http://127.0.0.1:1'], {}, /--key-env: undefined is not allowed/],
    [
      '--key-env unset',
      ['--rpc', 'http://127.0.0.1:1', '--key-env', 'HEPEK_NO_SUCH_VAR'],
      {},
      /--key-env: "HEPEK_NO_SUCH_VAR" is not allowed; .*HEPEK_NO_SUCH_VAR is unset/,
    ],
    [
      '--mqtt scheme',
      [...good.slice(0, 4), '--mqtt', 'http://x'],
      env,
      /--mqtt: "http:\/\/x" is not allowed; expected an mqtt:\/\//,
    ],
    ['no contracts', good, env, /--deployment: undefined is not allowed; expected a deployment file/],
    [
      'both',
      [...good, '--deployment', deploymentFile, '--registry', addr],
      env,
      /--registry: "0x1{40}" is not allowed; expected nothing when --deployment is given/,
    ],
    [
      'missing file',
      [...good, '--deployment', path.join(ctx.dir, 'nope.json')],
      env,
      /--deployment: ".*nope.json" is not allowed; expected the path of an existing JSON file/,
    ],
    [
      'bad address in the file',
      [...good, '--deployment', deploymentFile],
      env,
      /--deployment .*deployment.json: GatewayRegistry: "0x12" is not allowed; expected a 20-byte 0x-hex contract address/,
    ],
    [
      '--channels missing',
      [...good, '--registry', addr],
      env,
      /--channels: undefined is not allowed; expected a 20-byte/,
    ],
    [
      '--close-spent-percent',
      [...good, '--registry', addr, '--channels', addr, '--close-spent-percent', '150'],
      env,
      /--close-spent-percent: 150 is not allowed; expected percent of the deposit/,
    ],
    [
      '--tick-ms',
      [...good, '--registry', addr, '--channels', addr, '--tick-ms', 'fast'],
      env,
      /--tick-ms: "fast" is not allowed; expected a whole number/,
    ],
    [
      '--region',
      [...good, '--registry', addr, '--channels', addr, '--region', 'a/b'],
      env,
      /--region: "a\/b" is not allowed; expected a region name/,
    ],
    [
      'unknown flag',
      [...good, '--yes'],
      env,
      /--yes: "--yes" is not allowed; expected one of --rpc, --key-env, --mqtt/,
    ],
  ];
  for (const [name, args, caseEnv, expected] of cases) {
    const r = await run(ctx, args, caseEnv);
    assert.is(r.code, 2, `${name}: ${r.output}`);
    assert.match(r.output, expected, name);
  }
  const dead = `http://127.0.0.1:${await freePort()}`;
  const down = await run(
    ctx,
    [
      '--rpc',
      dead,
      '--key-env',
      'HUB_KEY',
      '--mqtt',
      'mqtt://127.0.0.1:1',
      '--registry',
      addr,
      '--channels',
      addr,
    ],
    env,
  );
  assert.is(down.code, 1, down.output);
  assert.match(down.output, `--rpc: no JSON-RPC answer from ${dead}`);
});

hubCli.run();
