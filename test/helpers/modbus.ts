/**
 * A Modbus TCP device in the test process (modbus-serial's ServerTCP) serving a register table,
 * which can be told to stop answering (requests are read and never answered) or be shut down and
 * brought back on the same port.
 */
import { ServerTCP } from 'modbus-serial';
import { encodeRegisters, type RegisterMap } from '../../gateway/meters/modbus/registers';
import { freePort } from './gateway';

export interface FakeModbusDevice {
  port: number;
  /** Words by `fc * 65536 + address`. */
  words: Map<number, number>;
  coils: Map<number, boolean>;
  /** true: requests are swallowed, so clients time out. */
  silent: boolean;
  /** Requests served (answered or swallowed). */
  requests: number;
  set(map: RegisterMap, values: Record<string, number>, base?: number): void;
  setWords(fc: 3 | 4, address: number, words: number[]): void;
  /** Closes the listening socket and every connection (a device powered off). */
  stop(): Promise<void>;
  /** Listens again on the same port (the device back). */
  start(): Promise<void>;
}

export async function fakeModbusDevice(port?: number): Promise<FakeModbusDevice> {
  let server: ServerTCP | null = null;
  const device: FakeModbusDevice = {
    port: port ?? (await freePort()),
    words: new Map(),
    coils: new Map(),
    silent: false,
    requests: 0,
    set(map, values, base = 0) {
      for (const { fc, address, word } of encodeRegisters(map, values, base))
        device.words.set(fc * 0x10000 + address, word);
    },
    setWords(fc, address, words) {
      words.forEach((w, i) => device.words.set(fc * 0x10000 + address + i, w));
    },
    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      for (const sock of s.socks.keys()) sock.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async start() {
      const read =
        (fc: 3 | 4) =>
        (addr: number, length: number, _unit: number, cb: (err: Error | null, v: number[]) => void): void => {
          device.requests++;
          if (device.silent) return; // never answer
          const out: number[] = [];
          for (let i = 0; i < length; i++) out.push(device.words.get(fc * 0x10000 + addr + i) ?? 0);
          cb(null, out);
        };
      const s = new ServerTCP(
        {
          getMultipleHoldingRegisters: read(3),
          getMultipleInputRegisters: read(4),
          getHoldingRegister: (addr: number, _unit: number, cb: (err: Error | null, v: number) => void) => {
            device.requests++;
            if (!device.silent) cb(null, device.words.get(3 * 0x10000 + addr) ?? 0);
          },
          getCoil: (addr: number, _unit: number, cb: (err: Error | null, v: boolean) => void) => {
            device.requests++;
            if (!device.silent) cb(null, device.coils.get(addr) ?? false);
          },
          setCoil: (addr: number, value: boolean, _unit: number, cb: (err: Error | null) => void) => {
            device.requests++;
            if (device.silent) return;
            device.coils.set(addr, value);
            cb(null);
          },
          setRegister: (addr: number, value: number, _unit: number, cb: (err: Error | null) => void) => {
            device.requests++;
            if (device.silent) return;
            device.words.set(3 * 0x10000 + addr, value);
            cb(null);
          },
        },
        { host: '127.0.0.1', port: device.port, unitID: 1 },
      );
      s.on('socketError', () => undefined);
      await new Promise<void>((resolve, reject) => {
        s.once('initialized', () => resolve());
        s.once('serverError', reject);
      });
      server = s;
    },
  };
  await device.start();
  return device;
}
