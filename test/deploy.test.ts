/**
 * `hepek deploy` against a separate JSON-RPC node (`hardhat node`): the ledger set lands with the
 * roles of the deployment plan, with the node's unlocked account or a key from an environment
 * variable; bad usage exits 2 naming the flag, a dead node exits 1 naming --rpc.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JsonRpcProvider, Wallet, id } from 'ethers';
import { LEDGER_CONTRACTS } from '../gateway/chain/deploy';
import { ErgonToken__factory, GatewayRegistry__factory } from '../gateway/chain/types';
import { freePort, removeDir, runCli, tempDir, type RunningCli } from './helpers/gateway';
import { startHardhatNode, type HardhatNode } from './helpers/hardhat-node';

/** Hardhat node's well-known first dev account key (funded on every `hardhat node`). */
const HARDHAT_KEY_1 = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';

interface Run {
  code: number | null;
  stdout: string;
  output: string;
}

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const cli: RunningCli = runCli(['deploy', ...args], env);
  let stdout = '';
  cli.proc.stdout!.on('data', (d) => (stdout += d));
  const { code } = await cli.exited;
  return { code, stdout, output: cli.output() };
}

const deploy = suite<{ dir: string; node?: HardhatNode }>('hepek deploy');

deploy.before.each((ctx) => {
  ctx.dir = tempDir('deploy');
  ctx.node = undefined;
});

deploy.after.each(async (ctx) => {
  await ctx.node?.kill();
  removeDir(ctx.dir);
});

deploy(
  'deploys the set with the unlocked account and with --key-env, printing the addresses',
  async (ctx) => {
    ctx.node = await startHardhatNode(ctx.dir, 31339);
    const first = await run(['--rpc', ctx.node.url, '--json']);
    assert.is(first.code, 0, first.output);
    const result = JSON.parse(first.stdout) as {
      chainId: number;
      deployer: string;
      contracts: Record<string, string>;
    };
    assert.is(result.chainId, 31339);
    assert.equal(Object.keys(result.contracts), LEDGER_CONTRACTS);
    const provider = new JsonRpcProvider(ctx.node.url, 31339, { cacheTimeout: -1, staticNetwork: true });
    try {
      for (const address of Object.values(result.contracts))
        assert.ok((await provider.getCode(address)) !== '0x');
      const token = ErgonToken__factory.connect(result.contracts.ErgonToken!, provider);
      const minter = id('MINTER_ROLE');
      assert.ok(await token.hasRole(minter, result.contracts.MeterReadings!));
      assert.ok(await token.hasRole(minter, result.contracts.Purchase!));
      assert.not.ok(await token.hasRole(minter, result.deployer));
      const registry = GatewayRegistry__factory.connect(result.contracts.GatewayRegistry!, provider);
      assert.ok(await registry.hasRole(id('MANUFACTURER_ROLE'), result.deployer));

      const second = await run(['--rpc', ctx.node.url, '--key-env', 'DEPLOYER_KEY'], {
        DEPLOYER_KEY: HARDHAT_KEY_1,
      });
      assert.is(second.code, 0, second.output);
      const deployer = new Wallet(HARDHAT_KEY_1).address;
      assert.match(second.stdout, `chain 31339, deployer ${deployer}`);
      const line = second.stdout.split('\n').find((l) => l.startsWith('ErgonToken'))!;
      const address = line.split(/\s+/)[1]!;
      assert.is.not(address, result.contracts.ErgonToken);
      assert.ok(
        await ErgonToken__factory.connect(address, provider).hasRole(`0x${'00'.repeat(32)}`, deployer),
      );
    } finally {
      provider.destroy();
    }
  },
);

deploy('bad usage exits 2 naming the flag; a node that does not answer exits 1 naming --rpc', async () => {
  const missing = await run([]);
  assert.is(missing.code, 2);
  assert.match(missing.output, /--rpc: undefined is not allowed; expected the JSON-RPC URL/);
  const scheme = await run(['--rpc', 'localhost:8545']);
  assert.is(scheme.code, 2);
  assert.match(scheme.output, /--rpc: "localhost:8545" is not allowed; expected an http:\/\/ or https:\/\//);
  const unset = await run(['--rpc', 'http://127.0.0.1:1', '--key-env', 'HEPEK_NO_SUCH_VAR']);
  assert.is(unset.code, 2);
  assert.match(unset.output, /--key-env: "HEPEK_NO_SUCH_VAR" is not allowed; .*HEPEK_NO_SUCH_VAR is unset/);
  const unknown = await run(['--rpc', 'http://127.0.0.1:1', '--yes']);
  assert.is(unknown.code, 2);
  assert.match(unknown.output, /--yes: "--yes" is not allowed; expected one of --rpc, --key-env, --json/);
  const dead = `http://127.0.0.1:${await freePort()}`;
  const down = await run(['--rpc', dead]);
  assert.is(down.code, 1);
  assert.match(down.output, `--rpc: no JSON-RPC answer from ${dead}`);
});

deploy.run();
