/** `hepek-battery`: sets the home battery's charge/discharge power and SoC limits, reports its state. */
import { commandReason } from '../shared/commands';
import { runDeviceNode } from '../shared/device-node';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { batteryStatus, noBattery, parseBatteryCommand } from './logic';

export = function (RED: NodeAPI): void {
  function HepekBatteryNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    // The status also follows changes made elsewhere (another node, the SoC limits stopping a charge).
    runDeviceNode(RED, this, def, {
      device: (gateway) => {
        if (!gateway.battery) throw noBattery();
        return gateway.battery;
      },
      parseCommand: parseBatteryCommand,
      reason: commandReason,
      status: (state) => {
        const s = batteryStatus(state);
        return {
          fill: s.fill,
          shape: s.shape,
          text: RED._(`hepek-battery.${s.key}`, { power: s.power, soc: s.soc }),
        };
      },
    });
  }
  registerHepekType(RED, 'hepek-battery', HepekBatteryNode);
};
