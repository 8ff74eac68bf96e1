/** A stand-in for the embedded gateway: real simulators on an injected clock, and a balance the test sets. */
import type { GatewayContext, SpendableBalance } from '../../gateway/context';
import { SimulatedRelay } from '../../gateway/devices/sim-relay';
import { SimulatedHousehold } from '../../gateway/sim/household';

export const WALLET = '0x' + 'ab'.repeat(20);
export const START = Date.UTC(2025, 5, 21, 10);

export type Fake = ReturnType<typeof fakeGateway>;

export function fakeGateway(initialErgon = 10, start = START) {
  let t = start;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const meter = new SimulatedHousehold({ startTime: start, speed: 60 }, { now: clock.now });
  const relay = new SimulatedRelay({ now: clock.now });
  let ergon = initialErgon;
  let failure: Error | undefined;
  let block = 100;
  const balance = {
    async read(): Promise<SpendableBalance> {
      if (failure) throw failure;
      const wei = BigInt(Math.round(ergon * 1e6)) * 10n ** 12n;
      return {
        wallet: WALLET,
        ergonWei: wei.toString(),
        channelUnspentWei: '0',
        spendableWei: wei.toString(),
        spendableErgon: ergon,
        blockNumber: block++,
      };
    },
  };
  const context: GatewayContext = {
    deviceId: '0x' + '01'.repeat(32),
    serial: 'HEPEK-SIM-0001',
    wallet: WALLET,
    chainId: 31337,
    contracts: { ErgonToken: '0x' + '11'.repeat(20), GatewayRegistry: '0x' + '22'.repeat(20) },
    lowThresholdErgon: 1,
    meter,
    relay,
    balance,
  };
  return {
    context,
    meter,
    relay,
    /** Advances the clock one real second and emits a reading. */
    tick: () => {
      clock.advance(1000);
      return meter.step();
    },
    setErgon: (value: number) => (ergon = value),
    fail: (err: Error | undefined) => (failure = err),
  };
}
