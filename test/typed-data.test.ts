import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Wallet, recoverAddress } from 'ethers';
import {
  assertLowS,
  digestOf,
  domainOf,
  encodeType,
  signStruct,
  toLowS,
  type TypedDataSigner,
} from '../gateway/chain/typed-data';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const wallet = new Wallet('0x' + '11'.repeat(32));
const domain = domainOf('channels', 31337, '0x' + '22'.repeat(20));
const voucher = { channelId: 7n, cumulativeAmount: 1234n };

/** The malleable twin of a signature: s → n − s, v flipped. Recovers the same address. */
function highSTwin(sig: string): string {
  const s = BigInt('0x' + sig.slice(66, 130));
  const v = parseInt(sig.slice(130), 16);
  return sig.slice(0, 66) + (N - s).toString(16).padStart(64, '0') + (v === 27 ? '1c' : '1b');
}

const signing = suite('typed-data signing');

signing('encodeType spells the Solidity type string', () => {
  assert.is(encodeType('Voucher'), 'Voucher(uint256 channelId,uint256 cumulativeAmount)');
  assert.is(
    encodeType('Reading'),
    'Reading(bytes32 deviceId,uint64 seq,uint64 timestamp,uint64 importWh,uint64 exportWh,uint16 batteryPermille)',
  );
});

signing('signStruct returns a low-s signature that recovers to the signer', async () => {
  const sig = await signStruct(wallet, 'Voucher', domain, voucher);
  assertLowS(sig);
  assert.is(recoverAddress(digestOf('Voucher', domain, voucher), sig), wallet.address);
});

signing('a signer that answers high-s is normalised, not passed on', async () => {
  const highS: TypedDataSigner = {
    signTypedData: async (d, t, v) => highSTwin(await wallet.signTypedData(d, t, v)),
  };
  const sig = await signStruct(highS, 'Voucher', domain, voucher);
  assertLowS(sig);
  assert.is(sig, await signStruct(wallet, 'Voucher', domain, voucher));
});

signing('assertLowS refuses the high-s twin and malformed input, naming the field', async () => {
  const sig = await signStruct(wallet, 'Voucher', domain, voucher);
  assert.throws(() => assertLowS(highSTwin(sig), 'voucher.signature'), /voucher\.signature: .*low-s/);
  assert.throws(() => assertLowS('0x1234'), /signature: "0x1234" is not allowed; expected a 65-byte/);
  assert.throws(
    () => assertLowS(sig.slice(0, 130) + '05'),
    /signature\.v: 5 is not allowed; expected 27 or 28/,
  );
  assert.is(toLowS(highSTwin(sig)), sig);
});

signing('domains differ per contract, chain and address', () => {
  const other = [
    domainOf('readings', 31337, '0x' + '22'.repeat(20)),
    domainOf('channels', 1, '0x' + '22'.repeat(20)),
    domainOf('channels', 31337, '0x' + '33'.repeat(20)),
  ];
  const digests = new Set([domain, ...other].map((d) => digestOf('Voucher', d, voucher)));
  assert.is(digests.size, 4);
});

signing.run();
