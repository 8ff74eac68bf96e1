/**
 * The same gateway code against a separate JSON-RPC node process (`hardhat node` on a free port)
 * through `chain.rpcUrl`: it funds its dev roles from the node's unlocked account, deploys,
 * provisions, serves the flow, and on restart reuses the deployment. A node that does not answer
 * is a clear, immediate error naming chain.rpcUrl.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  freePort,
  gatewayPorts,
  removeDir,
  startGateway,
  stopCli,
  tempDir,
  waitForStatus,
  writeSettings,
  type RunningCli,
} from './helpers/gateway';
import { startHardhatNode, type HardhatNode } from './helpers/hardhat-node';

interface Status {
  chain: { chainId: number; rpcUrl: string | null };
  contracts: { ErgonToken: string; GatewayRegistry: string };
  balance: { spendableErgon: number; ergonWei: string };
  channel?: { payer: { depositWei: string | null } | null };
}

const rpc = suite<{ dir: string; node?: HardhatNode; cli?: RunningCli }>(
  'gateway on an external JSON-RPC node',
);

rpc.before.each((ctx) => {
  ctx.dir = tempDir('rpc');
  ctx.node = undefined;
  ctx.cli = undefined;
});

rpc.after.each(async (ctx) => {
  if (ctx.cli) await stopCli(ctx.cli);
  await ctx.node?.kill();
  removeDir(ctx.dir);
});

rpc(
  'deploys, provisions and runs against hardhat node, and reuses the deployment on restart',
  async (ctx) => {
    ctx.node = await startHardhatNode(ctx.dir, 31338);
    const rpcUrl = ctx.node.url;
    const ports = await gatewayPorts();
    const settings = writeSettings(ctx.dir, ports, { chain: { rpcUrl }, balance: { demoMintErgon: 7 } });

    ctx.cli = startGateway(settings);
    const first = (await waitForStatus(ctx.cli, ports, 'status on the RPC node')) as Status;
    assert.is(first.chain.rpcUrl, rpcUrl);
    assert.is(first.chain.chainId, 31338);
    // Spendable = wallet + unspent deposit; billing may already have spent a little of it.
    assert.ok(first.balance.spendableErgon <= 7 && first.balance.spendableErgon > 6);
    const stopped = await stopCli(ctx.cli);
    assert.is(stopped.code, 0, ctx.cli.output());

    ctx.cli = startGateway(settings);
    const second = (await waitForStatus(ctx.cli, ports, 'status after restart')) as Status;
    assert.equal(second.contracts, first.contracts, 'the remembered deployment is reused');
    // The payer bills the hub from a channel funded by the wallet: wallet + deposit is the mint.
    const held = BigInt(second.balance.ergonWei) + BigInt(second.channel?.payer?.depositWei ?? 0);
    assert.is(held, 7n * 10n ** 18n, 'the demo mint happened once');
  },
);

rpc('an RPC URL where nothing answers fails fast, naming chain.rpcUrl', async (ctx) => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const ports = await gatewayPorts();
  const settings = writeSettings(ctx.dir, ports, { chain: { rpcUrl: dead } });
  ctx.cli = startGateway(settings);
  const { code, ms } = await ctx.cli.exited;
  assert.is(code, 1);
  assert.match(ctx.cli.output(), `chain.rpcUrl: no JSON-RPC answer from ${dead}`);
  assert.ok(ms < 20_000, `took ${ms} ms`);
});

rpc.run();
