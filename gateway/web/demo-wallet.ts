/**
 * The demo member wallet, served by the gateway on the embedded dev chain only: an EIP-1193 wallet
 * whose key (the dev `member` role, DESIGN.md §1) stays in the gateway. The page shows every
 * typed-data request to the user before it calls `eth_signTypedData_v4` here.
 *
 * It signs only HEPEK's own structs (gateway/chain/typed-data.ts) for this chain, and never a raw
 * hash or message: a wallet that signs hashes can be made to sign anything.
 */
import { getAddress, type TypedDataField, type Wallet } from 'ethers';
import { InputError } from '../errors';
import { DOMAIN_NAMES, DOMAIN_VERSION, STRUCTS, signStruct, type StructName } from '../chain/typed-data';
import { createRpcProxy, RpcError, toRpcError, type RpcSend } from './rpc';

/** EIP-1193 4100: the requested account or method is not authorised. */
export const UNAUTHORIZED = 4100;

/** Methods that would sign raw bytes: refused with a pointer to typed data. */
const RAW_SIGNING = ['eth_sign', 'personal_sign', 'eth_signTypedData', 'eth_signTypedData_v3'];

interface TypedDataPayload {
  types: Record<string, TypedDataField[]>;
  domain: { name?: unknown; version?: unknown; chainId?: unknown; verifyingContract?: unknown };
  primaryType: string;
  message: Record<string, unknown>;
}

function sameFields(a: readonly TypedDataField[] | undefined, b: readonly TypedDataField[]): boolean {
  return (
    Array.isArray(a) &&
    a.length === b.length &&
    a.every((f, i) => f?.name === b[i]!.name && f?.type === b[i]!.type)
  );
}

/**
 * Checks an `eth_signTypedData_v4` payload against the one definition of HEPEK's structs and this
 * chain; returns the struct name, or throws an InputError naming the bad field.
 */
export function checkTypedData(
  raw: unknown,
  chainId: number,
): { name: StructName; payload: TypedDataPayload } {
  let payload: unknown = raw;
  if (typeof raw === 'string') {
    try {
      payload = JSON.parse(raw);
    } catch {
      throw new InputError('typedData', raw.slice(0, 80), 'EIP-712 typed data as JSON');
    }
  }
  const p = payload as Partial<TypedDataPayload> | null;
  if (!p || typeof p !== 'object' || typeof p.primaryType !== 'string' || !p.types || !p.domain || !p.message)
    throw new InputError('typedData', p, 'an object with types, domain, primaryType and message');
  const name = p.primaryType as StructName;
  const known = Object.keys(STRUCTS);
  if (!known.includes(name))
    throw new InputError('typedData.primaryType', p.primaryType, `one of ${known.join(', ')}`);
  const struct = STRUCTS[name];
  const { EIP712Domain: _domainFields, ...types } = p.types;
  const expected = struct.types as Record<string, TypedDataField[]>;
  if (Object.keys(types).length !== Object.keys(expected).length || !sameFields(types[name], expected[name]!))
    throw new InputError(
      `typedData.types.${name}`,
      types[name],
      `exactly ${JSON.stringify(expected[name])} (gateway/chain/typed-data.ts)`,
    );
  if (p.domain.name !== DOMAIN_NAMES[struct.domain] || p.domain.version !== DOMAIN_VERSION)
    throw new InputError(
      'typedData.domain.name',
      `${String(p.domain.name)} v${String(p.domain.version)}`,
      `${DOMAIN_NAMES[struct.domain]} v${DOMAIN_VERSION} for ${name}`,
    );
  if (Number(p.domain.chainId) !== chainId)
    throw new InputError('typedData.domain.chainId', p.domain.chainId, `${chainId}, this gateway's chain`);
  return { name, payload: p as TypedDataPayload };
}

export class DemoWallet {
  readonly address: string;
  private readonly reads: RpcSend;

  constructor(
    private readonly wallet: Wallet,
    private readonly chainId: number,
    private readonly send: RpcSend,
  ) {
    this.address = wallet.address;
    this.reads = createRpcProxy(send);
  }

  private checkAccount(field: string, value: unknown): void {
    let address: string | null = null;
    try {
      address = typeof value === 'string' ? getAddress(value) : null;
    } catch {
      address = null;
    }
    if (address !== this.address)
      throw new RpcError(
        UNAUTHORIZED,
        `${field}: ${String(value)} is not this wallet; expected ${this.address}`,
      );
  }

  async request(method: string, params: unknown[]): Promise<unknown> {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [this.address];
      case 'eth_chainId':
        return `0x${this.chainId.toString(16)}`;
      case 'eth_signTypedData_v4': {
        this.checkAccount('params[0]', params[0]);
        const { name, payload } = checkTypedData(params[1], this.chainId);
        return signStruct(this.wallet, name, payload.domain as never, payload.message);
      }
      case 'eth_sendTransaction': {
        const tx = (params[0] ?? {}) as { from?: unknown; to?: unknown; data?: unknown; value?: unknown };
        this.checkAccount('params[0].from', tx.from);
        if (typeof tx.to !== 'string')
          throw new InputError('params[0].to', tx.to, 'a contract address (deployments go through the CLI)');
        try {
          const nonce = (await this.send('eth_getTransactionCount', [this.address, 'pending'])) as string;
          const fees = (await this.send('eth_getBlockByNumber', ['latest', false])) as {
            baseFeePerGas?: string;
          };
          const base = BigInt(fees.baseFeePerGas ?? '0x3b9aca00');
          const request = {
            to: tx.to,
            data: typeof tx.data === 'string' ? tx.data : '0x',
            value: typeof tx.value === 'string' ? BigInt(tx.value) : 0n,
            chainId: this.chainId,
            nonce: Number(BigInt(nonce)),
            type: 2,
            maxPriorityFeePerGas: 1_000_000_000n,
            maxFeePerGas: base * 2n + 1_000_000_000n,
          };
          const gas = (await this.send('eth_estimateGas', [
            {
              from: this.address,
              to: request.to,
              data: request.data,
              value: `0x${request.value.toString(16)}`,
            },
          ])) as string;
          const signed = await this.wallet.signTransaction({
            ...request,
            gasLimit: (BigInt(gas) * 12n) / 10n,
          });
          return await this.send('eth_sendRawTransaction', [signed]);
        } catch (err) {
          throw err instanceof InputError ? err : toRpcError(err);
        }
      }
      default:
        if (RAW_SIGNING.includes(method))
          throw new RpcError(
            UNAUTHORIZED,
            `method: ${method} is not offered; the demo wallet signs only HEPEK's EIP-712 structs with eth_signTypedData_v4, never raw hashes or messages`,
          );
        // Everything else is a read: the same rules as the read-only proxy.
        return this.reads(method, params);
    }
  }
}
