/** `hepek-battery`: sets the home battery's charge/discharge power and SoC limits, reports its state. */
import type { BatteryDevice, BatteryState } from '../../gateway/devices/api';
import { failInput, failOutsideInput } from '../shared/errors';
import { gatewayAttachment, type NodeGateway } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { batteryMessage, batteryReason, batteryStatus, noBattery, parseBatteryCommand } from './logic';

function batteryOf(gateway: NodeGateway): BatteryDevice {
  if (!gateway.battery) throw noBattery();
  return gateway.battery;
}

export = function (RED: NodeAPI): void {
  function HepekBatteryNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    const showState = (state: BatteryState): void => {
      const s = batteryStatus(state);
      node.status({
        fill: s.fill,
        shape: s.shape,
        text: RED._(`hepek-battery.${s.key}`, { power: s.power, soc: s.soc }),
      });
    };

    // Follows changes made elsewhere (another node, the SoC limits stopping a charge) for the status.
    const attach = gatewayAttachment(RED, node, def.config, (gateway) => {
      const battery = batteryOf(gateway);
      showState(battery.state());
      return battery.subscribe(showState);
    });

    try {
      attach();
    } catch (err) {
      failOutsideInput(node, err);
    }

    node.on('input', async (msg, send, done) => {
      try {
        const command = parseBatteryCommand(msg.payload);
        const battery = batteryOf(attach());
        const state = await battery.set(command, batteryReason(msg));
        showState(state);
        send(batteryMessage(msg, state));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-battery', HepekBatteryNode);
};
