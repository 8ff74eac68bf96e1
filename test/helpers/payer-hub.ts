/**
 * A small stand-in for the operator's hub, played by the payer tests so they exercise the payer
 * alone: over a real MQTT broker it relays device-signed opens and top-ups to PaymentChannels with
 * the hub's wallet, checks each voucher as the contract does (verifyVoucher, never over the
 * deposit, never stale), keeps the newest per channel and acks every request on `…/hub/ack`
 * (docs/money-path.md). `deaf` drops requests unanswered (a hub that is down).
 */
import type { MqttClient } from 'mqtt';
import { compact, verifyVoucher, type ChannelsDeployment } from '../../gateway/chain/channels';
import type { PaymentChannels } from '../../gateway/chain/types';
import type {
  OpenJson as OpenMessage,
  TopUpJson as TopUpMessage,
  VoucherJson as VoucherMessage,
} from '../../gateway/channel/messages';

export interface TestHub {
  deaf: boolean;
  /** Newest accepted voucher per channel id. */
  newest: Map<string, VoucherMessage>;
  /** Every voucher id received (including resends). */
  received: string[];
  readings: Array<{ seq: number; importWh: number; exportWh: number }>;
  /** Closes a channel with the newest voucher; returns the amount paid to the hub. */
  close(channelId: string): Promise<bigint>;
  stop(): Promise<void>;
}

export async function startTestHub(
  client: MqttClient,
  channels: PaymentChannels,
  deployment: ChannelsDeployment,
): Promise<TestHub> {
  const hub: TestHub = {
    deaf: false,
    newest: new Map(),
    received: [],
    readings: [],
    async close(channelId) {
      const v = hub.newest.get(channelId);
      const amount = v ? BigInt(v.cumulativeAmount) : 0n;
      const zero = `0x${'0'.repeat(64)}`;
      const { r, vs } = v ? compact(v.signature) : { r: zero, vs: zero };
      await (await channels.close(BigInt(channelId), amount, r, vs)).wait();
      return amount;
    },
    async stop() {
      client.removeListener('message', onMessage);
      await client.unsubscribeAsync('hepek/+/hub/+');
    },
  };
  const ack = (serial: string, body: Record<string, unknown>) =>
    client.publish(`hepek/${serial}/hub/ack`, JSON.stringify(body), { qos: 1 });

  const onMessage = (topic: string, payload: Buffer) => {
    const m = /^hepek\/([^/]+)\/hub\/(open|voucher|reading|topup)$/.exec(topic);
    if (!m || hub.deaf) return;
    const [, serial, kind] = m as unknown as [string, string, string];
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    void handle(serial, kind, body).catch((err: Error) =>
      ack(serial, { id: body.id, ok: false, kind, code: 'chain-unavailable', reason: err.message }),
    );
  };

  async function handle(serial: string, kind: string, body: Record<string, unknown>) {
    if (kind === 'open') {
      const o = body as unknown as OpenMessage;
      const sig = compact(o.signature);
      const tx = await channels.open(
        {
          payer: o.open.payer,
          payee: o.open.payee,
          deposit: BigInt(o.open.deposit),
          challengePeriod: BigInt(o.open.challengePeriod),
          nonce: BigInt(o.open.nonce),
        },
        sig.r,
        sig.vs,
        { deadline: BigInt(o.permit.deadline), r: o.permit.r, vs: o.permit.vs },
      );
      await tx.wait();
      const channelId = (BigInt(o.open.payer) << 96n) | BigInt(o.open.nonce);
      ack(serial, { id: o.id, ok: true, kind, result: { channelId: channelId.toString(), txHash: tx.hash } });
    } else if (kind === 'topup') {
      const t = body as unknown as TopUpMessage;
      const tx = await channels.topUp(BigInt(t.channelId), BigInt(t.amount), {
        deadline: BigInt(t.permit.deadline),
        r: t.permit.r,
        vs: t.permit.vs,
      });
      await tx.wait();
      const { deposit } = await channels.channelOf(BigInt(t.channelId));
      ack(serial, {
        id: t.id,
        ok: true,
        kind,
        result: { channelId: t.channelId, deposit: deposit.toString(), txHash: tx.hash },
      });
    } else if (kind === 'voucher') {
      const v = body as unknown as VoucherMessage;
      hub.received.push(v.id);
      const amount = BigInt(v.cumulativeAmount);
      try {
        verifyVoucher(deployment, { channelId: BigInt(v.channelId), cumulativeAmount: amount }, v.signature);
      } catch (err) {
        return ack(serial, {
          id: v.id,
          ok: false,
          kind,
          code: 'wrong-signer',
          reason: (err as Error).message,
        });
      }
      const state = await channels.channelOf(BigInt(v.channelId));
      if (amount > state.deposit)
        return ack(serial, {
          id: v.id,
          ok: false,
          kind,
          code: 'over-deposit',
          reason: `${amount} > ${state.deposit}`,
        });
      const held = hub.newest.get(v.channelId);
      if (held && BigInt(held.cumulativeAmount) > amount)
        return ack(serial, { id: v.id, ok: false, kind, code: 'stale', reason: 'older than the one held' });
      hub.newest.set(v.channelId, v);
      ack(serial, {
        id: v.id,
        ok: true,
        kind,
        result: { channelId: v.channelId, cumulativeAmount: v.cumulativeAmount },
      });
    } else if (kind === 'reading') {
      const r = (body as { reading: { seq: number; importWh: number; exportWh: number } }).reading;
      hub.readings.push({ seq: r.seq, importWh: r.importWh, exportWh: r.exportWh });
      ack(serial, { id: body.id, ok: true, kind, result: { seq: r.seq, status: 'queued' } });
    }
  }

  client.on('message', onMessage);
  await client.subscribeAsync('hepek/+/hub/+', { qos: 1 });
  return hub;
}
