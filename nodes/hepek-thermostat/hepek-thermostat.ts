/** `hepek-thermostat`: switches the AC / heat pump and sets its mode and setpoint; the compressor is protected. */
import { commandReason } from '../shared/commands';
import { runDeviceNode } from '../shared/device-node';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { noThermostat, parseThermostatCommand, thermostatStatus } from './logic';

export = function (RED: NodeAPI): void {
  function HepekThermostatNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    runDeviceNode(RED, this, def, {
      device: (gateway) => {
        if (!gateway.thermostat) throw noThermostat();
        return gateway.thermostat;
      },
      parseCommand: parseThermostatCommand,
      reason: commandReason,
      status: (state) => {
        const s = thermostatStatus(state);
        return {
          fill: s.fill,
          shape: s.shape,
          text: RED._(`hepek-thermostat.${s.key}`, {
            mode: s.mode,
            setpoint: s.setpoint,
            indoor: s.indoor,
            at: s.at,
          }),
        };
      },
    });
  }
  registerHepekType(RED, 'hepek-thermostat', HepekThermostatNode);
};
