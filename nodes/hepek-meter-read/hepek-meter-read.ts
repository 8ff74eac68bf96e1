/** `hepek-meter-read`: a message for every meter reading, and the newest one on any input. */
import { DeviceUnavailableError } from '../../gateway/errors';
import type { MeterReading } from '../../gateway/context';
import { failInput, failOutsideInput } from '../shared/errors';
import { gatewayAttachment } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { pollMessage, readingMessage, readingStatus } from './logic';

export = function (RED: NodeAPI): void {
  function HepekMeterReadNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    const showReading = (reading: MeterReading): void => {
      const status = readingStatus(reading);
      node.status({
        fill: status.fill,
        shape: status.shape,
        text: RED._(`hepek-meter-read.${status.key}`, { power: status.power }),
      });
    };

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

    try {
      attach();
    } catch (err) {
      failOutsideInput(node, err);
    }

    node.on('input', async (msg, send, done) => {
      try {
        const gateway = attach();
        const reading = gateway.meter.latest();
        if (!reading) {
          throw new DeviceUnavailableError(`meter (${gateway.meter.kind})`, 'has not produced a reading yet');
        }
        send(pollMessage(msg, reading));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-meter-read', HepekMeterReadNode);
};
