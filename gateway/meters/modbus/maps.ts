/**
 * Register maps of the supported Modbus devices, as data. Addresses are protocol addresses
 * (0-based: the SDM630 manual's 30001 is input register 0).
 */
import type { RegisterMap } from './registers';

/**
 * Eastron SDM630 (v2, MID) three-phase meter: IEEE 754 float32 input registers, high word first.
 * Power is positive while importing. Energy registers count kWh; the map scales them to Wh.
 */
export const SDM630: RegisterMap = {
  model: 'Eastron SDM630',
  registers: [
    { name: 'l1VoltageV', address: 0x0000, fc: 4, type: 'float32', unit: 'V' },
    { name: 'l2VoltageV', address: 0x0002, fc: 4, type: 'float32', unit: 'V' },
    { name: 'l3VoltageV', address: 0x0004, fc: 4, type: 'float32', unit: 'V' },
    { name: 'l1CurrentA', address: 0x0006, fc: 4, type: 'float32', unit: 'A' },
    { name: 'l2CurrentA', address: 0x0008, fc: 4, type: 'float32', unit: 'A' },
    { name: 'l3CurrentA', address: 0x000a, fc: 4, type: 'float32', unit: 'A' },
    { name: 'l1PowerW', address: 0x000c, fc: 4, type: 'float32', unit: 'W' },
    { name: 'l2PowerW', address: 0x000e, fc: 4, type: 'float32', unit: 'W' },
    { name: 'l3PowerW', address: 0x0010, fc: 4, type: 'float32', unit: 'W' },
    { name: 'powerW', address: 0x0034, fc: 4, type: 'float32', unit: 'W' },
    { name: 'frequencyHz', address: 0x0046, fc: 4, type: 'float32', unit: 'Hz' },
    { name: 'importWh', address: 0x0048, fc: 4, type: 'float32', scale: 1000, unit: 'Wh' },
    { name: 'exportWh', address: 0x004a, fc: 4, type: 'float32', scale: 1000, unit: 'Wh' },
  ],
};

/**
 * SunSpec model 103 (three-phase inverter, integer + scale factor), relative to the model's ID
 * register. The model is found by walking the SunSpec model chain from the base ('SunS').
 */
export const SUNSPEC_INVERTER_103: RegisterMap = {
  model: 'SunSpec inverter (model 103)',
  registers: [
    { name: 'modelId', address: 0, fc: 3, type: 'uint16', unit: 'enum' },
    { name: 'currentA', address: 2, fc: 3, type: 'uint16', scaleFactor: 'A_SF', unit: 'A' },
    { name: 'l1CurrentA', address: 3, fc: 3, type: 'uint16', scaleFactor: 'A_SF', unit: 'A' },
    { name: 'l2CurrentA', address: 4, fc: 3, type: 'uint16', scaleFactor: 'A_SF', unit: 'A' },
    { name: 'l3CurrentA', address: 5, fc: 3, type: 'uint16', scaleFactor: 'A_SF', unit: 'A' },
    { name: 'A_SF', address: 6, fc: 3, type: 'sunssf', unit: '' },
    { name: 'l1VoltageV', address: 10, fc: 3, type: 'uint16', scaleFactor: 'V_SF', unit: 'V' },
    { name: 'l2VoltageV', address: 11, fc: 3, type: 'uint16', scaleFactor: 'V_SF', unit: 'V' },
    { name: 'l3VoltageV', address: 12, fc: 3, type: 'uint16', scaleFactor: 'V_SF', unit: 'V' },
    { name: 'V_SF', address: 13, fc: 3, type: 'sunssf', unit: '' },
    { name: 'powerW', address: 14, fc: 3, type: 'int16', scaleFactor: 'W_SF', unit: 'W' },
    { name: 'W_SF', address: 15, fc: 3, type: 'sunssf', unit: '' },
    { name: 'frequencyHz', address: 16, fc: 3, type: 'uint16', scaleFactor: 'Hz_SF', unit: 'Hz' },
    { name: 'Hz_SF', address: 17, fc: 3, type: 'sunssf', unit: '' },
    { name: 'energyWh', address: 24, fc: 3, type: 'acc32', scaleFactor: 'WH_SF', unit: 'Wh' },
    { name: 'WH_SF', address: 26, fc: 3, type: 'sunssf', unit: '' },
    { name: 'dcPowerW', address: 31, fc: 3, type: 'int16', scaleFactor: 'DCW_SF', unit: 'W' },
    { name: 'DCW_SF', address: 32, fc: 3, type: 'sunssf', unit: '' },
    { name: 'heatSinkC', address: 34, fc: 3, type: 'int16', scaleFactor: 'Tmp_SF', unit: '°C' },
    { name: 'Tmp_SF', address: 37, fc: 3, type: 'sunssf', unit: '' },
    { name: 'operatingState', address: 38, fc: 3, type: 'uint16', unit: 'enum' },
  ],
};

/** SunSpec's marker at the base address: 'SunS'. */
export const SUNSPEC_MARKER = [0x5375, 0x6e53] as const;
/** Model ids of the inverter models whose layout model 103 shares (101 single-, 102 split-phase). */
export const SUNSPEC_INVERTER_MODELS = [101, 102, 103] as const;
/** Model id that ends the chain. */
export const SUNSPEC_END = 0xffff;
