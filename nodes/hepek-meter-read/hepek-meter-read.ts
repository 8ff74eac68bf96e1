/**
 * `hepek-meter-read`: a message for every meter reading, and the newest one on any input. The
 * meter is the gateway's (source `gateway`), one the node runs itself from the meter registry
 * (`simulated`, `dsmr` on a serial port, ...), or raw P1 bytes arriving as messages (`raw`, e.g.
 * from node-red-node-serialport's `serial in`), split into telegrams across messages.
 */
import type { MeterReading } from '../../gateway/context';
import { DeviceUnavailableError } from '../../gateway/errors';
import type { TelegramError } from '../../gateway/meters/dsmr/parser';
import { telegramToReading } from '../../gateway/meters/dsmr/reading';
import { TelegramStream } from '../../gateway/meters/dsmr/splitter';
import type { DsmrTelegram } from '../../gateway/meters/dsmr/types';
import { createMeter, type ManagedMeter } from '../../gateway/meters/registry';
import type { LinkStatus } from '../../gateway/meters/serial';
import { failInput, failOutsideInput, statusText } from '../shared/errors';
import { gatewayAttachment } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../shared/red';
import { registerHepekType } from '../shared/register';
import {
  linkStatus,
  normaliseMeterReadConfig,
  pollMessage,
  problemStatus,
  rawPayloadBytes,
  readingMessage,
  readingStatus,
  telegramMessage,
  type MeterReadConfig,
} from './logic';

/** What a registry meter may offer beyond MeterSource (the DSMR meter does). */
interface RichMeter extends ManagedMeter {
  subscribeTelegrams?(listener: (telegram: DsmrTelegram) => void): () => void;
  subscribeProblems?(listener: (err: Error) => void): () => void;
  subscribeStatus?(listener: (status: LinkStatus) => void): () => void;
  linkStatus?(): LinkStatus;
}

/** Shortest time between two reading statuses, ms. */
const STATUS_INTERVAL_MS = 250;

export = function (RED: NodeAPI): void {
  function HepekMeterReadNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    // A meter may send several readings a second (or a flow thousands): the status shows the
    // newest at most every STATUS_INTERVAL_MS, so translating and publishing it costs nothing per
    // reading. Problems are shown at once and cancel a pending reading status.
    let statusShownAt = -Infinity;
    let pendingReading: MeterReading | null = null;
    let statusTimer: ReturnType<typeof setTimeout> | undefined;
    const renderReading = (reading: MeterReading): void => {
      statusShownAt = Date.now();
      const status = readingStatus(reading);
      node.status({
        fill: status.fill,
        shape: status.shape,
        text: RED._(`hepek-meter-read.${status.key}`, { power: status.power }),
      });
    };
    const showReading = (reading: MeterReading): void => {
      if (Date.now() - statusShownAt >= STATUS_INTERVAL_MS) return renderReading(reading);
      pendingReading = reading;
      statusTimer ??= setTimeout(() => {
        statusTimer = undefined;
        if (pendingReading) renderReading(pendingReading);
        pendingReading = null;
      }, STATUS_INTERVAL_MS);
    };
    const cancelPendingStatus = (): void => {
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = undefined;
      pendingReading = null;
    };
    node.on('close', (_removed, done) => {
      cancelPendingStatus();
      done();
    });
    const showProblem = (err: TelegramError | Error): void => {
      cancelPendingStatus();
      statusShownAt = Date.now();
      const status = problemStatus(err);
      node.status({
        fill: status.fill,
        shape: status.shape,
        text: RED._(`hepek-meter-read.${status.key}`, { reason: status.reason }),
      });
    };

    let config: MeterReadConfig;
    try {
      config = normaliseMeterReadConfig(def);
    } catch (err) {
      failOutsideInput(node, err);
      node.on('input', (_msg, _send, done) => done(err as Error));
      return;
    }

    // --- raw P1 bytes in messages ------------------------------------------------------------
    if (config.source === 'raw') {
      const stream = new TelegramStream();
      node.status({ fill: 'grey', shape: 'ring', text: RED._('hepek-meter-read.status.waitingBytes') });
      node.on('input', (msg, send, done) => {
        try {
          const results = stream.push(rawPayloadBytes(msg.payload));
          let firstError: TelegramError | undefined;
          const accepted = results.filter((r) => r.ok).length;
          // With a refusal, the incoming message goes to done(err); readings then travel in copies.
          const reuse = accepted === results.length;
          let index = 0;
          for (const result of results) {
            if (!result.ok) {
              if (firstError) node.warn(result.error.message);
              else firstError = result.error;
              showProblem(result.error);
              continue;
            }
            const reading = telegramToReading(result.telegram, Date.now());
            // The last telegram of this message travels in the message itself; others in copies.
            const base = reuse && ++index === accepted ? msg : { ...msg };
            send(telegramMessage(base, reading, result.telegram));
            if (reading) showReading(reading);
          }
          if (firstError) {
            // Values of the refused telegram stay available to a Catch node.
            msg.telegram = firstError.telegram ?? undefined;
            node.status({ fill: 'red', shape: 'ring', text: statusText(firstError) });
            done(firstError);
          } else done();
        } catch (err) {
          failInput(node, err, done);
        }
      });
      return;
    }

    // --- the gateway's meter -----------------------------------------------------------------
    if (config.source === 'gateway') {
      // Subscribes once; retried on input when the gateway was not there at start-up.
      const attach = gatewayAttachment(RED, node, def.config, (gateway) => {
        const latest = gateway.meter.latest();
        if (latest) showReading(latest);
        else node.status({ fill: 'grey', shape: 'ring', text: RED._('hepek-meter-read.status.waiting') });
        return gateway.meter.subscribe((reading) => {
          showReading(reading);
          node.send(readingMessage(reading));
        });
      });
      node.on('input', async (msg, send, done) => {
        try {
          const gateway = attach();
          const reading = gateway.meter.latest();
          if (!reading) {
            throw new DeviceUnavailableError(
              `meter (${gateway.meter.kind})`,
              'has not produced a reading yet',
            );
          }
          send(pollMessage(msg, reading));
          done();
        } catch (err) {
          failInput(node, err, done);
        }
      });
      return;
    }

    // --- a meter of a registered type, run by this node --------------------------------------
    let meter: RichMeter | undefined;
    let startError: unknown;
    const unsubscribe: Array<() => void> = [];
    try {
      meter = createMeter(config.source, config.meter ?? {}, {
        onListenerError: (err) => node.error(err as Error),
      }) as RichMeter;
      if (meter.subscribeTelegrams) {
        unsubscribe.push(
          meter.subscribeTelegrams((telegram) => {
            const reading = telegramToReading(telegram, Date.now());
            if (reading) showReading(reading);
            node.send(telegramMessage({}, reading, telegram));
          }),
        );
      } else {
        unsubscribe.push(
          meter.subscribe((reading) => {
            showReading(reading);
            node.send(readingMessage(reading));
          }),
        );
      }
      if (meter.subscribeProblems) {
        unsubscribe.push(
          meter.subscribeProblems((err) => {
            showProblem(err);
            const telegram = (err as TelegramError).telegram;
            node.error(err, {
              topic: 'meter',
              payload: null,
              ...(telegram ? { telegram } : {}),
            } as NodeMessage);
          }),
        );
      }
      if (meter.subscribeStatus) {
        let reported: string | undefined;
        unsubscribe.push(
          meter.subscribeStatus((status) => {
            const s = linkStatus(status);
            cancelPendingStatus();
            node.status({
              fill: s.fill,
              shape: s.shape,
              text: status.error ? statusText(status.error) : RED._(`hepek-meter-read.${s.key}`),
            });
            // A lost port is reported once per cause, not on every retry.
            if (status.state === 'lost' && status.error && status.error.message !== reported) {
              reported = status.error.message;
              // With a message, so Catch nodes see it (Node-RED only routes errors with one).
              node.error(status.error, { topic: 'meter', payload: null } as NodeMessage);
            }
            if (status.state === 'open') reported = undefined;
          }),
        );
      }
      meter.start();
    } catch (err) {
      startError = err;
      failOutsideInput(node, err);
    }

    node.on('input', (msg, send, done) => {
      try {
        // A config the meter refused is the answer to every poll, so Catch nodes see why.
        if (startError !== undefined || !meter) throw startError;
        const reading = meter.latest();
        if (!reading) {
          // A lost port says more than "no reading yet".
          const link = meter.linkStatus?.();
          throw (
            link?.error ??
            new DeviceUnavailableError(`meter (${meter.kind})`, 'has not produced a reading yet')
          );
        }
        send(pollMessage(msg, reading));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });

    node.on('close', (_removed, done) => {
      for (const off of unsubscribe) off();
      Promise.resolve(meter?.stop())
        .catch((err: Error) => node.warn(`meter stop: ${err.message}`))
        .finally(() => done());
    });
  }
  registerHepekType(RED, 'hepek-meter-read', HepekMeterReadNode);
};
