/** `hepek-price-forecast`: tomorrow's hourly prices (P10/P50/P90) from the shipped ONNX model. */
import { PriceForecastService } from '../../gateway/forecast/service';
import { failInput, failOutsideInput } from '../shared/errors';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { forecastMessage, forecastStatus, priceForecastConfig } from './logic';

export = function (RED: NodeAPI): void {
  function HepekPriceForecastNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let service: Promise<PriceForecastService> | null = null;
    try {
      const config = priceForecastConfig(def as { model?: unknown });
      service = PriceForecastService.open(config.model);
      // A model that fails to load shows at once; each message then reports it too.
      service.catch((err: unknown) => failOutsideInput(node, err));
    } catch (err) {
      failOutsideInput(node, err);
      const error = err;
      service = Promise.reject(error);
      service.catch(() => {});
    }

    node.on('input', async (msg, send, done) => {
      try {
        const forecast = await (await service!).forecast(msg.payload, 'msg.payload');
        node.status(forecastStatus(forecast));
        send(forecastMessage(msg, forecast));
        done();
      } catch (err) {
        failInput(node, err, done);
      }
    });

    node.on('close', (_removed, done) => {
      service!
        .then((s) => s.close())
        .catch(() => {})
        .finally(done);
    });
  }
  registerHepekType(RED, 'hepek-price-forecast', HepekPriceForecastNode);
};
