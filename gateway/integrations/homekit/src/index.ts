/** homebridge-hepek: registers the HEPEK dynamic platform with Homebridge 1.11. */
import type { API } from 'homebridge';
import { PLATFORM_NAME } from './config';
import { HepekPlatform } from './platform';

export = (api: API): void => {
  api.registerPlatform(PLATFORM_NAME, HepekPlatform);
};
