import * as assert from 'uvu/assert';
import type { BaseContract, ContractTransactionResponse, LogDescription } from 'ethers';

/** Finds the revert data (0x-prefixed hex) in an ethers or EIP-1193 provider error, if any. */
function revertData(err: unknown): string | undefined {
  // ethers wraps provider errors differently for calls, estimates and sends; the data sits at one
  // of these depths depending on the path taken.
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const rec = e as Record<string, unknown>;
    const data = rec.data;
    if (typeof data === 'string' && /^0x[0-9a-fA-F]*$/.test(data) && data.length >= 10) return data;
    for (const k of ['data', 'error', 'info', 'cause']) if (k in rec) stack.push(rec[k]);
  }
  return undefined;
}

/**
 * Asserts that `promise` reverts with the custom error `name` of `contract`'s interface (or any
 * error the interface knows, including inherited OpenZeppelin ones) and exactly `args`.
 */
export async function expectRevert(
  promise: Promise<unknown>,
  contract: BaseContract,
  name: string,
  args: readonly unknown[] = [],
): Promise<void> {
  let threw = false;
  let err: unknown;
  try {
    await promise;
  } catch (e) {
    threw = true;
    err = e;
  }
  if (!threw) return assert.unreachable(`expected revert ${name}, but the call succeeded`);
  const data = revertData(err);
  if (data === undefined) {
    return assert.unreachable(`expected revert ${name}, got an error without revert data: ${String(err)}`);
  }
  const parsed = contract.interface.parseError(data);
  assert.ok(parsed, `expected revert ${name}, got unknown revert data ${data}`);
  assert.is(parsed.name, name, `expected revert ${name}, got ${parsed.name}(${parsed.args.join(', ')})`);
  assert.equal([...parsed.args], [...args], `arguments of ${name}`);
}

/**
 * Asserts that the transaction emitted exactly one `name` event from `contract` with exactly `args`.
 * Events from other contracts in the same receipt are ignored.
 */
export async function expectEvent(
  tx: Promise<ContractTransactionResponse> | ContractTransactionResponse,
  contract: BaseContract,
  name: string,
  args: readonly unknown[],
): Promise<void> {
  const receipt = await (await tx).wait();
  assert.ok(receipt, 'transaction has no receipt');
  const address = (await contract.getAddress()).toLowerCase();
  const events = receipt.logs
    .filter((log) => log.address.toLowerCase() === address)
    .map((log) => contract.interface.parseLog(log))
    .filter((parsed): parsed is LogDescription => parsed?.name === name);
  assert.is(events.length, 1, `expected exactly one ${name} event, got ${events.length}`);
  assert.equal([...events[0].args], [...args], `arguments of ${name}`);
}

/** The error `fn` throws, for asserting on its class and fields; fails when it returns. */
export function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

/** Asserts that `promise` rejects with an error whose message matches `message`. */
export async function rejects(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected a rejection matching ${message}`);
}
