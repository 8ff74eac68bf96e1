/**
 * MQTT clients that play a Tasmota plug and a Shelly Gen2 switch the way the firmware does: they
 * answer commands, echo their state and keep a retained last will.
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface FakeTasmota {
  client: MqttClient;
  on: boolean;
  /** Commands received on cmnd/<topic>/POWER (payloads, '' for a query). */
  commands: string[];
  /** false: commands are received but not answered (a hung device). */
  answering: boolean;
  /** A press on the device's button: switches and reports like the firmware. */
  press(on: boolean): Promise<void>;
  sensor(temperatureC: number): Promise<void>;
  /** Publishes the retained LWT `Offline` the broker would send when the device drops. */
  goOffline(): Promise<void>;
  close(): Promise<void>;
}

export async function fakeTasmota(url: string, topic: string, initialOn = false): Promise<FakeTasmota> {
  const client = await mqtt.connectAsync(url, {
    clientId: `DVES_${topic}`,
    will: { topic: `tele/${topic}/LWT`, payload: Buffer.from('Offline'), qos: 1, retain: true },
  });
  const word = (on: boolean): string => (on ? 'ON' : 'OFF');
  const report = async (device: FakeTasmota): Promise<void> => {
    await client.publishAsync(`stat/${topic}/RESULT`, JSON.stringify({ POWER: word(device.on) }));
    await client.publishAsync(`stat/${topic}/POWER`, word(device.on));
  };
  const device: FakeTasmota = {
    client,
    on: initialOn,
    commands: [],
    answering: true,
    async press(on) {
      device.on = on;
      await report(device);
    },
    async sensor(temperatureC) {
      await client.publishAsync(
        `tele/${topic}/SENSOR`,
        JSON.stringify({
          Time: '2025-06-21T10:00:00',
          DS18B20: { Id: '01', Temperature: temperatureC },
          TempUnit: 'C',
        }),
      );
    },
    async goOffline() {
      await client.publishAsync(`tele/${topic}/LWT`, 'Offline', { qos: 1, retain: true });
    },
    async close() {
      await client.publishAsync(`tele/${topic}/LWT`, '', { qos: 1, retain: true }); // clear the retained will
      await client.endAsync();
    },
  };
  client.on('message', (_t, payload) => {
    const text = payload.toString().trim().toUpperCase();
    device.commands.push(text);
    if (!device.answering) return;
    if (text === 'ON' || text === 'OFF') device.on = text === 'ON';
    else if (text === 'TOGGLE') device.on = !device.on;
    void report(device);
  });
  await client.subscribeAsync(`cmnd/${topic}/POWER`);
  await client.publishAsync(`tele/${topic}/LWT`, 'Online', { qos: 1, retain: true });
  return device;
}

export interface FakeShelly {
  client: MqttClient;
  on: boolean;
  /** Every JSON-RPC request received. */
  requests: { id: number; src: string; method: string; params: Record<string, unknown> }[];
  /** Set to answer Switch.Set with this error instead. */
  failWith: { code: number; message: string } | null;
  answering: boolean;
  press(on: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function fakeShelly(url: string, prefix: string, initialOn = false): Promise<FakeShelly> {
  const client = await mqtt.connectAsync(url, {
    clientId: prefix,
    will: { topic: `${prefix}/online`, payload: Buffer.from('false'), qos: 1, retain: true },
  });
  const status = (device: FakeShelly) => ({
    id: 0,
    source: 'MQTT',
    output: device.on,
    apower: device.on ? 1200.5 : 0,
    voltage: 231.2,
    temperature: { tC: 45.3, tF: 113.5 },
  });
  const publishStatus = async (device: FakeShelly): Promise<void> => {
    await client.publishAsync(`${prefix}/status/switch:0`, JSON.stringify(status(device)));
  };
  const device: FakeShelly = {
    client,
    on: initialOn,
    requests: [],
    failWith: null,
    answering: true,
    async press(on) {
      device.on = on;
      await client.publishAsync(
        `${prefix}/events/rpc`,
        JSON.stringify({
          src: prefix,
          dst: `${prefix}/events`,
          method: 'NotifyStatus',
          params: { ts: 1, 'switch:0': { id: 0, output: on } },
        }),
      );
    },
    async close() {
      await client.publishAsync(`${prefix}/online`, '', { qos: 1, retain: true });
      await client.endAsync();
    },
  };
  client.on('message', (_t, payload) => {
    const request = JSON.parse(payload.toString()) as FakeShelly['requests'][number];
    device.requests.push(request);
    if (!device.answering) return;
    const answer = (body: Record<string, unknown>) =>
      client.publishAsync(
        `${request.src}/rpc`,
        JSON.stringify({ id: request.id, src: prefix, dst: request.src, ...body }),
      );
    if (request.method === 'Switch.GetStatus') return void answer({ result: status(device) });
    if (request.method === 'Switch.Set') {
      if (device.failWith) return void answer({ error: device.failWith });
      const wasOn = device.on;
      device.on = request.params.on === true;
      void answer({ result: { was_on: wasOn } }).then(() => publishStatus(device));
      return;
    }
    void answer({ error: { code: 404, message: `No handler for ${request.method}` } });
  });
  await client.subscribeAsync(`${prefix}/rpc`);
  await client.publishAsync(`${prefix}/online`, 'true', { qos: 1, retain: true });
  return device;
}
