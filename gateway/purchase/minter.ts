/**
 * The chain side of a purchase: find the HEPEK wallet in the registry, sign the operator's
 * `Receipt {paymentId, hepekWallet, amount}` and redeem it at Purchase, which mints the ERGON once
 * per payment id. Redeeming is idempotent here too: a payment id the contract already redeemed
 * (a crash between sending and journaling, or a retry after an outage) is answered with the
 * original redemption, never minted again.
 */
import { ZeroAddress, isError, type Signer } from 'ethers';
import { deviceIdFromSerial } from '../chain/ids';
import { signReceipt } from '../chain/eip712';
import type { Receipt, TypedDataSigner } from '../chain/typed-data';
import {
  GatewayRegistry__factory,
  Purchase__factory,
  type GatewayRegistry,
  type Purchase,
} from '../chain/types';
import { DeviceUnavailableError, InputError, StateError } from '../errors';
import type { PaymentEvent } from './payload';

export interface Redemption {
  txHash: string;
  blockNumber: number;
}

export interface PurchaseTarget {
  /** Checksummed HEPEK wallet (the device key's address). */
  wallet: string;
  /** bytes32 device id. */
  deviceId: string;
}

/** What the webhook needs from the chain; a test may wrap it, the runtime uses createChainMinter. */
export interface PurchaseChain {
  /** Resolves the wallet to credit; InputError when the body names no active, claimed HEPEK. */
  resolve(event: PaymentEvent): Promise<PurchaseTarget>;
  /** The operator's signature on a receipt. */
  sign(receipt: Receipt): Promise<string>;
  /** Mints through Purchase.redeem, or finds the earlier redemption of the same payment id. */
  redeem(receipt: Receipt, signature: string): Promise<Redemption>;
}

export interface ChainMinterOptions {
  chainId: bigint | number;
  registry: string;
  purchase: string;
  /** The operator key: holds Purchase's OPERATOR_ROLE, signs receipts and pays the gas. */
  operator: TypedDataSigner & Signer;
  /** How the chain is named in messages. */
  chainLabel: string;
}

/** Turns an ethers failure into what the webhook answers: a contract refusal or an unreachable chain. */
function classify(err: unknown, chainLabel: string, what: string): Error {
  if (err instanceof InputError || err instanceof StateError) return err;
  // A decoded custom error is the contract's answer. ethers also reports a failed eth_estimateGas
  // or eth_call as CALL_EXCEPTION "missing revert data" when the node is unreachable: retryable.
  if (isError(err, 'CALL_EXCEPTION') && err.revert) {
    const revert = `${err.revert.name}(${err.revert.args.join(', ')})`;
    return new StateError('Purchase', `${what} reverted: ${revert}`, { cause: err });
  }
  return new DeviceUnavailableError(chainLabel, `${what}: ${(err as Error).message}`, { cause: err });
}

export function createChainMinter(options: ChainMinterOptions): PurchaseChain {
  const runner = options.operator;
  const registry: GatewayRegistry = GatewayRegistry__factory.connect(options.registry, runner);
  const purchase: Purchase = Purchase__factory.connect(options.purchase, runner);
  const where = { chainId: options.chainId, verifyingContract: options.purchase };

  async function earlier(paymentId: string): Promise<Redemption | null> {
    const events = await purchase.queryFilter(purchase.filters.ReceiptRedeemed(paymentId));
    const first = events[0];
    return first ? { txHash: first.transactionHash, blockNumber: first.blockNumber } : null;
  }

  return {
    async resolve(event) {
      try {
        let deviceId: string;
        let key: string;
        if (event.deviceSerial !== null) {
          deviceId = deviceIdFromSerial(event.deviceSerial);
          const device = await registry.deviceOf(deviceId);
          key = device.key;
          if (key === ZeroAddress)
            throw new InputError(
              'deviceSerial',
              event.deviceSerial,
              'the serial of a HEPEK registered in the GatewayRegistry',
            );
          if (event.wallet !== null && event.wallet.toLowerCase() !== key.toLowerCase())
            throw new InputError(
              'wallet',
              event.wallet,
              `the HEPEK wallet of device ${event.deviceSerial}, ${key} (or leave wallet out)`,
            );
        } else {
          key = event.wallet!;
          deviceId = await registry.deviceIdOfKey(key);
          if (/^0x0+$/.test(deviceId))
            throw new InputError(
              'wallet',
              event.wallet,
              'the HEPEK wallet (registered device key) of a HEPEK',
            );
        }
        const field = event.deviceSerial !== null ? 'deviceSerial' : 'wallet';
        const value = event.deviceSerial ?? event.wallet;
        if (!(await registry.isActiveClaimed(deviceId)))
          throw new InputError(field, value, 'a HEPEK that is active (not revoked) and claimed by a member');
        if (event.member !== null) {
          const owner = await registry.ownerOf(deviceId);
          if (owner.toLowerCase() !== event.member.toLowerCase())
            throw new InputError('member', event.member, `the owner of this HEPEK in the registry, ${owner}`);
        }
        return { wallet: key, deviceId };
      } catch (err) {
        throw classify(err, options.chainLabel, 'registry lookup');
      }
    },
    sign(receipt) {
      return signReceipt(runner, where, receipt);
    },
    async redeem(receipt, signature) {
      try {
        if (await purchase.isRedeemed(receipt.paymentId)) {
          const found = await earlier(receipt.paymentId);
          if (found) return found;
        }
        const tx = await purchase.redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, signature);
        const mined = await tx.wait();
        if (!mined) throw new DeviceUnavailableError(options.chainLabel, `redeem ${tx.hash} was not mined`);
        return { txHash: mined.hash, blockNumber: mined.blockNumber };
      } catch (err) {
        // Someone (an earlier attempt whose answer was lost) redeemed it meanwhile: that is our mint.
        if (isError(err, 'CALL_EXCEPTION') && err.revert?.name === 'PurchaseReceiptUsed') {
          const found = await earlier(receipt.paymentId).catch(() => null);
          if (found) return found;
        }
        throw classify(err, options.chainLabel, 'Purchase.redeem');
      }
    },
  };
}
