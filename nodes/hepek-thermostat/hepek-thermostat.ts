/** `hepek-thermostat`: switches the AC / heat pump and sets its mode and setpoint; the compressor is protected. */
import type { ThermostatDevice, ThermostatState } from '../../gateway/devices/api';
import { failInput, failOutsideInput } from '../shared/errors';
import { gatewayAttachment, type NodeGateway } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import {
  noThermostat,
  parseThermostatCommand,
  thermostatMessage,
  thermostatReason,
  thermostatStatus,
} from './logic';

function thermostatOf(gateway: NodeGateway): ThermostatDevice {
  if (!gateway.thermostat) throw noThermostat();
  return gateway.thermostat;
}

export = function (RED: NodeAPI): void {
  function HepekThermostatNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    const showState = (state: ThermostatState): void => {
      const s = thermostatStatus(state);
      node.status({
        fill: s.fill,
        shape: s.shape,
        text: RED._(`hepek-thermostat.${s.key}`, {
          mode: s.mode,
          setpoint: s.setpoint,
          indoor: s.indoor,
          at: s.at,
        }),
      });
    };

    const attach = gatewayAttachment(RED, node, def.config, (gateway) => {
      const thermostat = thermostatOf(gateway);
      showState(thermostat.state());
      return thermostat.subscribe(showState);
    });

    try {
      attach();
    } catch (err) {
      failOutsideInput(node, err);
    }

    node.on('input', async (msg, send, done) => {
      try {
        const command = parseThermostatCommand(msg.payload);
        const thermostat = thermostatOf(attach());
        const state = await thermostat.set(command, thermostatReason(msg));
        showState(state);
        send(thermostatMessage(msg, state));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });
  }
  registerHepekType(RED, 'hepek-thermostat', HepekThermostatNode);
};
