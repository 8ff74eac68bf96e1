/**
 * Wallets for the page: an injected EIP-1193 wallet (window.ethereum) or the gateway's demo member
 * wallet, and typed-data signing through either. Every signature the page asks for is EIP-712 typed
 * data built from gateway/chain/typed-data.ts — the same definition the contracts and the hub use —
 * so a wallet always shows the fields it signs, never a raw hash.
 */
import { verifyTypedData, type TypedDataDomain, type TypedDataField } from 'ethers';
import { DOMAIN_NAMES, STRUCTS, toLowS, type StructName } from '../../chain/typed-data';
import { API } from '../api';

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

/** An EIP-1193 provider error (`code` 4001 = the user rejected the request). */
export class ProviderError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

const DOMAIN_FIELDS: TypedDataField[] = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
];

export interface TypedDataPayload {
  types: Record<string, TypedDataField[]>;
  domain: { name: string; version: string; chainId: string; verifyingContract: string };
  primaryType: StructName;
  message: Record<string, string | number>;
}

/** The `eth_signTypedData_v4` payload of a HEPEK struct; integers as decimal strings (JSON has no bigint). */
export function typedDataPayload(name: StructName, domain: TypedDataDomain, value: object): TypedDataPayload {
  const message: Record<string, string | number> = {};
  for (const field of STRUCTS[name].types[name]!) {
    const v = (value as Record<string, unknown>)[field.name];
    if (v === undefined) throw new Error(`${name}.${field.name}: missing`);
    message[field.name] = typeof v === 'bigint' ? v.toString() : (v as string | number);
  }
  return {
    types: { EIP712Domain: DOMAIN_FIELDS, ...STRUCTS[name].types },
    domain: {
      name: String(domain.name),
      version: String(domain.version),
      chainId: String(domain.chainId),
      verifyingContract: String(domain.verifyingContract),
    },
    primaryType: name,
    message,
  };
}

export interface TypedDataView {
  title: string;
  rows: Array<{ label: string; type: string; value: string }>;
}

/** What the page shows before the demo wallet signs: the contract, the chain and every field. */
export function describeTypedData(payload: TypedDataPayload): TypedDataView {
  const rows = [
    { label: 'contract', type: 'domain', value: `${payload.domain.name} v${payload.domain.version}` },
    { label: 'chain id', type: 'domain', value: payload.domain.chainId },
    { label: 'verifying contract', type: 'address', value: payload.domain.verifyingContract },
    ...payload.types[payload.primaryType]!.map((f) => ({
      label: f.name,
      type: f.type,
      value: String(payload.message[f.name]),
    })),
  ];
  const known = Object.values(DOMAIN_NAMES) as string[];
  const title = known.includes(payload.domain.name)
    ? `Sign ${payload.primaryType}`
    : `Sign ${payload.primaryType} for an unknown contract`;
  return { title, rows };
}

/**
 * Signs a HEPEK struct with `account` through any EIP-1193 wallet and checks the answer: the result
 * is low-s (as the contracts require) and recovers to `account`.
 */
export async function signStructWith(
  wallet: Eip1193,
  account: string,
  name: StructName,
  domain: TypedDataDomain,
  value: object,
): Promise<string> {
  const payload = typedDataPayload(name, domain, value);
  const raw = (await wallet.request({
    method: 'eth_signTypedData_v4',
    params: [account, JSON.stringify(payload)],
  })) as string;
  const signature = toLowS(raw);
  const signer = verifyTypedData(domain, STRUCTS[name].types, value as Record<string, unknown>, signature);
  if (signer.toLowerCase() !== account.toLowerCase())
    throw new Error(`the wallet signed as ${signer}, not as ${account}`);
  return signature;
}

/**
 * The gateway's demo member wallet as an EIP-1193 provider. Typed data is shown to the user first
 * (`confirm`); a refusal is the standard 4001 error, as in any wallet.
 */
export class DemoWallet implements Eip1193 {
  constructor(
    private readonly headers: () => Record<string, string>,
    private readonly confirm: (view: TypedDataView) => Promise<boolean>,
  ) {}

  async request({ method, params = [] }: { method: string; params?: unknown[] }): Promise<unknown> {
    if (method === 'eth_signTypedData_v4') {
      const payload = JSON.parse(String(params[1])) as TypedDataPayload;
      if (!(await this.confirm(describeTypedData(payload))))
        throw new ProviderError(4001, 'User rejected the request.');
    }
    const response = await fetch(API.demoWallet, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.headers() },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = (await response.json().catch(() => ({}))) as {
      result?: unknown;
      error?: { code?: number; message?: string } | string;
    };
    if (!response.ok || body.error !== undefined) {
      const error = typeof body.error === 'string' ? { message: body.error } : (body.error ?? {});
      throw new ProviderError(error.code ?? response.status, error.message ?? `HTTP ${response.status}`);
    }
    return body.result;
  }
}

/** The injected wallet, if the browser has one (MetaMask, Rabby, a mobile wallet's browser). */
export function injectedWallet(): Eip1193 | null {
  const candidate = (globalThis as { ethereum?: Eip1193 }).ethereum;
  return candidate && typeof candidate.request === 'function' ? candidate : null;
}
