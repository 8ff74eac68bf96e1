/**
 * Home Assistant's rules for MQTT discovery payloads, written down as data so a test can check every
 * payload HEPEK publishes the way HA would before it ever reaches a real HA.
 *
 * Sources (HA documentation and core, 2025): the MQTT integration page ("Device discovery payload",
 * the abbreviation tables, "Discovery topic"), `homeassistant/components/sensor/const.py`
 * (DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES, STATE_CLASS_UNITS),
 * `homeassistant/components/mqtt/sensor.py` (validate_sensor_state_and_device_class_config),
 * the binary_sensor / switch device class enums and the climate HVAC modes, and the Energy
 * dashboard's requirements for grid sensors. Only what HEPEK could get wrong is encoded; a device
 * class missing from SENSOR_DEVICE_CLASS_UNITS has its unit left unchecked, as HA does for `monetary`.
 */

/** Abbreviation → full option name (HA "Supported abbreviations"), the subset a payload may use. */
export const ABBREVIATIONS: Readonly<Record<string, string>> = {
  avty: 'availability',
  avty_mode: 'availability_mode',
  avty_t: 'availability_topic',
  avty_tpl: 'availability_template',
  cmd_t: 'command_topic',
  cmd_tpl: 'command_template',
  cmps: 'components',
  curr_temp_t: 'current_temperature_topic',
  curr_temp_tpl: 'current_temperature_template',
  dev: 'device',
  dev_cla: 'device_class',
  dsp_prc: 'display_precision',
  e: 'encoding',
  en: 'enabled_by_default',
  ent_cat: 'entity_category',
  exp_aft: 'expire_after',
  ic: 'icon',
  json_attr_t: 'json_attributes_topic',
  json_attr_tpl: 'json_attributes_template',
  lrst_val_tpl: 'last_reset_value_template',
  max_temp: 'max_temp',
  min_temp: 'min_temp',
  mode_cmd_t: 'mode_command_topic',
  mode_cmd_tpl: 'mode_command_template',
  mode_stat_t: 'mode_state_topic',
  mode_stat_tpl: 'mode_state_template',
  o: 'origin',
  obj_id: 'object_id',
  ops: 'options',
  opt: 'optimistic',
  p: 'platform',
  pl_avail: 'payload_available',
  pl_not_avail: 'payload_not_available',
  pl_off: 'payload_off',
  pl_on: 'payload_on',
  ret: 'retain',
  stat_cla: 'state_class',
  stat_off: 'state_off',
  stat_on: 'state_on',
  stat_t: 'state_topic',
  sug_dsp_prc: 'suggested_display_precision',
  temp_cmd_t: 'temperature_command_topic',
  temp_cmd_tpl: 'temperature_command_template',
  temp_stat_t: 'temperature_state_topic',
  temp_stat_tpl: 'temperature_state_template',
  temp_unit: 'temperature_unit',
  uniq_id: 'unique_id',
  unit_of_meas: 'unit_of_measurement',
  val_tpl: 'value_template',
};

/** Abbreviations inside `device` and `origin`. */
export const DEVICE_ABBREVIATIONS: Readonly<Record<string, string>> = {
  cu: 'configuration_url',
  cns: 'connections',
  ids: 'identifiers',
  name: 'name',
  mf: 'manufacturer',
  mdl: 'model',
  mdl_id: 'model_id',
  hw: 'hw_version',
  sw: 'sw_version',
  sa: 'suggested_area',
  sn: 'serial_number',
};
export const ORIGIN_ABBREVIATIONS: Readonly<Record<string, string>> = {
  name: 'name',
  sw: 'sw_version',
  url: 'support_url',
};

/** Options a device-based payload may share at its root (HA: availability, origin, command/state topic, qos, encoding). */
export const SHARED_ROOT_OPTIONS = new Set([
  'device',
  'origin',
  'components',
  'availability',
  'availability_topic',
  'availability_mode',
  'availability_template',
  'payload_available',
  'payload_not_available',
  'command_topic',
  'state_topic',
  'qos',
  'encoding',
]);

interface PlatformRule {
  /** Options that must be present (in the component or shared at the root). */
  required: string[];
  /** Entity platforms need unique_id in device-based discovery. */
  entity: boolean;
  /** Allowed device classes; null = the platform has none. */
  deviceClasses: readonly string[] | null;
  /** Options HA ignores on this platform (a sign of a mistake). */
  foreign?: string[];
}

export const BINARY_SENSOR_DEVICE_CLASSES = [
  'battery',
  'battery_charging',
  'carbon_monoxide',
  'cold',
  'connectivity',
  'door',
  'garage_door',
  'gas',
  'heat',
  'light',
  'lock',
  'moisture',
  'motion',
  'moving',
  'occupancy',
  'opening',
  'plug',
  'power',
  'presence',
  'problem',
  'running',
  'safety',
  'smoke',
  'sound',
  'tamper',
  'update',
  'vibration',
  'window',
] as const;

export const STATE_CLASSES = ['measurement', 'measurement_angle', 'total', 'total_increasing'] as const;
type StateClass = (typeof STATE_CLASSES)[number];
const ALL_STATE_CLASSES: readonly StateClass[] = STATE_CLASSES;
const MEASUREMENT: readonly StateClass[] = ['measurement'];
const TOTALS: readonly StateClass[] = ['total', 'total_increasing'];

/** HA `DEVICE_CLASS_STATE_CLASSES`: the state classes each sensor device class allows. */
export const SENSOR_DEVICE_CLASS_STATE_CLASSES: Readonly<Record<string, readonly StateClass[]>> = {
  apparent_power: MEASUREMENT,
  aqi: MEASUREMENT,
  area: ALL_STATE_CLASSES,
  atmospheric_pressure: MEASUREMENT,
  battery: MEASUREMENT,
  blood_glucose_concentration: MEASUREMENT,
  co: MEASUREMENT,
  co2: MEASUREMENT,
  conductivity: MEASUREMENT,
  current: MEASUREMENT,
  data_rate: MEASUREMENT,
  data_size: ALL_STATE_CLASSES,
  date: [],
  distance: ALL_STATE_CLASSES,
  duration: ALL_STATE_CLASSES,
  energy: TOTALS,
  energy_distance: MEASUREMENT,
  energy_storage: MEASUREMENT,
  enum: [],
  frequency: MEASUREMENT,
  gas: TOTALS,
  humidity: MEASUREMENT,
  illuminance: MEASUREMENT,
  irradiance: MEASUREMENT,
  moisture: MEASUREMENT,
  monetary: ['total'],
  nitrogen_dioxide: MEASUREMENT,
  nitrogen_monoxide: MEASUREMENT,
  nitrous_oxide: MEASUREMENT,
  ozone: MEASUREMENT,
  ph: MEASUREMENT,
  pm1: MEASUREMENT,
  pm10: MEASUREMENT,
  pm25: MEASUREMENT,
  power_factor: MEASUREMENT,
  power: MEASUREMENT,
  precipitation: ALL_STATE_CLASSES,
  precipitation_intensity: MEASUREMENT,
  pressure: MEASUREMENT,
  reactive_power: MEASUREMENT,
  signal_strength: MEASUREMENT,
  sound_pressure: MEASUREMENT,
  speed: MEASUREMENT,
  sulphur_dioxide: MEASUREMENT,
  temperature: MEASUREMENT,
  timestamp: [],
  volatile_organic_compounds: MEASUREMENT,
  volatile_organic_compounds_parts: MEASUREMENT,
  voltage: MEASUREMENT,
  volume: TOTALS,
  volume_storage: MEASUREMENT,
  volume_flow_rate: MEASUREMENT,
  water: TOTALS,
  weight: ['measurement', 'total', 'total_increasing'],
  wind_direction: ['measurement_angle'],
  wind_speed: MEASUREMENT,
};

const ENERGY_UNITS = [
  'J',
  'kJ',
  'MJ',
  'GJ',
  'mWh',
  'Wh',
  'kWh',
  'MWh',
  'GWh',
  'TWh',
  'cal',
  'kcal',
  'Mcal',
  'Gcal',
];

/** HA `DEVICE_CLASS_UNITS` for the classes HEPEK uses or could plausibly use; null = no unit allowed. */
export const SENSOR_DEVICE_CLASS_UNITS: Readonly<Record<string, readonly (string | null)[]>> = {
  battery: ['%'],
  current: ['mA', 'A'],
  date: [null],
  duration: ['d', 'h', 'min', 's', 'ms', 'μs'],
  energy: ENERGY_UNITS,
  energy_storage: ENERGY_UNITS,
  enum: [null],
  humidity: ['%'],
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW'],
  power_factor: ['%', null],
  temperature: ['°C', '°F', 'K'],
  timestamp: [null],
  voltage: ['μV', 'mV', 'V', 'kV', 'MV'],
};

/** HA `STATE_CLASS_UNITS`. */
export const STATE_CLASS_UNITS: Readonly<Partial<Record<StateClass, readonly string[]>>> = {
  measurement_angle: ['°'],
};

/** Units the Energy dashboard accepts for grid consumption / return sensors. */
export const ENERGY_DASHBOARD_UNITS = ['Wh', 'kWh', 'MWh', 'GWh', 'MJ', 'GJ'];

export const CLIMATE_MODES = ['auto', 'off', 'cool', 'heat', 'dry', 'fan_only', 'heat_cool'] as const;

export const ENTITY_CATEGORIES = ['config', 'diagnostic'] as const;

export const PLATFORMS: Readonly<Record<string, PlatformRule>> = {
  sensor: {
    required: ['state_topic'],
    entity: true,
    deviceClasses: Object.keys(SENSOR_DEVICE_CLASS_STATE_CLASSES),
  },
  binary_sensor: {
    required: ['state_topic'],
    entity: true,
    deviceClasses: BINARY_SENSOR_DEVICE_CLASSES,
    foreign: ['unit_of_measurement', 'state_class'],
  },
  switch: {
    required: ['command_topic'],
    entity: true,
    deviceClasses: ['outlet', 'switch'],
    foreign: ['unit_of_measurement', 'state_class'],
  },
  climate: {
    required: [],
    entity: true,
    deviceClasses: null,
    foreign: ['unit_of_measurement', 'state_class'],
  },
  number: { required: ['command_topic'], entity: true, deviceClasses: null },
  select: { required: ['command_topic', 'options'], entity: true, deviceClasses: null },
  button: { required: ['command_topic'], entity: true, deviceClasses: ['identify', 'restart', 'update'] },
  device_automation: {
    required: ['automation_type', 'topic', 'type', 'subtype'],
    entity: false,
    deviceClasses: null,
  },
};

const TOPIC_ID = /^[a-zA-Z0-9_-]+$/;

function expand(
  record: Record<string, unknown>,
  table: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) out[table[key] ?? key] = value;
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function checkTopic(problems: string[], where: string, value: unknown, publish: boolean): void {
  if (typeof value !== 'string' || value.length === 0) {
    problems.push(`${where}: ${show(value)} is not a topic; expected a non-empty string`);
    return;
  }
  if (publish && /[+#]/.test(value))
    problems.push(
      `${where}: ${show(value)} contains a wildcard; HA publishes to it, so it must be a plain topic`,
    );
}

/** Checks one component (already expanded). `root` holds the shared options. */
function checkComponent(
  problems: string[],
  key: string,
  raw: Record<string, unknown>,
  root: Record<string, unknown>,
  deviceName: string | undefined,
): void {
  const where = `cmps.${key}`;
  const c = expand(raw, ABBREVIATIONS);
  if (!TOPIC_ID.test(key)) problems.push(`${where}: the component id must match [a-zA-Z0-9_-]+`);
  const platform = c.platform;
  const rule = typeof platform === 'string' ? PLATFORMS[platform] : undefined;
  if (!rule) {
    problems.push(
      `${where}.platform: ${show(platform)} is not allowed; expected one of ${Object.keys(PLATFORMS).join(', ')}`,
    );
    return;
  }
  if (Object.keys(c).length < 2) problems.push(`${where}: needs at least one option besides platform`);
  if (rule.entity && (typeof c.unique_id !== 'string' || c.unique_id.length === 0))
    problems.push(`${where}.unique_id: required for an entity in device-based discovery`);
  for (const option of rule.required)
    if (c[option] === undefined && root[option] === undefined)
      problems.push(`${where}.${option}: required for platform ${platform}`);
  for (const option of rule.foreign ?? [])
    if (c[option] !== undefined) problems.push(`${where}.${option}: not an option of platform ${platform}`);

  for (const [option, value] of Object.entries(c)) {
    if (option.endsWith('_topic'))
      checkTopic(problems, `${where}.${option}`, value, option.includes('command'));
  }
  if (c.name !== undefined && c.name !== null) {
    if (typeof c.name !== 'string') problems.push(`${where}.name: ${show(c.name)} is not a string or null`);
    else if (deviceName && c.name.toLowerCase().startsWith(deviceName.toLowerCase()))
      problems.push(
        `${where}.name: ${show(c.name)} starts with the device name; HA names entities "<device> <entity>" itself`,
      );
  }
  if (c.entity_category !== undefined && !ENTITY_CATEGORIES.includes(c.entity_category as never))
    problems.push(
      `${where}.entity_category: ${show(c.entity_category)} is not allowed; expected one of ${ENTITY_CATEGORIES.join(', ')}`,
    );

  const deviceClass = c.device_class;
  if (deviceClass !== undefined && deviceClass !== null) {
    if (rule.deviceClasses === null)
      problems.push(`${where}.device_class: platform ${platform} has no device classes`);
    else if (!rule.deviceClasses.includes(deviceClass as string))
      problems.push(
        `${where}.device_class: ${show(deviceClass)} is not a ${platform} device class; expected one of ${rule.deviceClasses.join(', ')}`,
      );
  }

  if (platform === 'sensor') checkSensor(problems, where, c);
  if (platform === 'climate') checkClimate(problems, where, c);
  if (platform === 'switch' || platform === 'binary_sensor') {
    if ((c.payload_on ?? 'ON') === (c.payload_off ?? 'OFF'))
      problems.push(`${where}: payload_on and payload_off must differ`);
  }
}

/** HA mqtt/sensor.py validate_sensor_state_and_device_class_config + sensor const tables. */
function checkSensor(problems: string[], where: string, c: Record<string, unknown>): void {
  const deviceClass = (c.device_class ?? null) as string | null;
  const stateClass = (c.state_class ?? null) as string | null;
  const unitRaw = c.unit_of_measurement;
  const unit =
    typeof unitRaw === 'string' && unitRaw.trim() === '' ? null : ((unitRaw ?? null) as string | null);

  if (stateClass !== null && !STATE_CLASSES.includes(stateClass as StateClass))
    problems.push(
      `${where}.state_class: ${show(stateClass)} is not allowed; expected one of ${STATE_CLASSES.join(', ')}`,
    );
  if (c.last_reset_value_template !== undefined && stateClass !== 'total')
    problems.push(
      `${where}.last_reset_value_template: cannot be used together with state class ${show(stateClass)}`,
    );
  if (c.options !== undefined) {
    if (!Array.isArray(c.options) || c.options.length === 0)
      problems.push(`${where}.options: an empty options list is not allowed`);
    if (stateClass !== null || unit !== null)
      problems.push(`${where}.options: not allowed together with state_class or unit_of_measurement`);
    if (deviceClass !== 'enum')
      problems.push(
        `${where}.options: must be used together with device class enum, got ${show(deviceClass)}`,
      );
  }
  if (deviceClass === 'enum' && c.options === undefined)
    problems.push(`${where}.options: a sensor with device class enum lists its possible states`);
  if (stateClass !== null) {
    const allowedUnits = STATE_CLASS_UNITS[stateClass as StateClass];
    if (allowedUnits && !allowedUnits.includes(unit as string))
      problems.push(
        `${where}.unit_of_measurement: ${show(unit)} is not valid together with state class ${stateClass}`,
      );
  }
  if (deviceClass !== null && SENSOR_DEVICE_CLASS_STATE_CLASSES[deviceClass]) {
    const allowedStates = SENSOR_DEVICE_CLASS_STATE_CLASSES[deviceClass]!;
    if (stateClass !== null && !allowedStates.includes(stateClass as StateClass))
      problems.push(
        `${where}.state_class: ${show(stateClass)} is impossible for device class ${deviceClass}; allowed: ${allowedStates.join(', ') || 'none'}`,
      );
    const allowedUnits = SENSOR_DEVICE_CLASS_UNITS[deviceClass];
    if (allowedUnits && !allowedUnits.includes(unit))
      problems.push(
        `${where}.unit_of_measurement: ${show(unit)} is not valid together with device class ${deviceClass}; allowed: ${allowedUnits.map((u) => (u === null ? 'none' : u)).join(', ')}`,
      );
  }
  const precision = c.suggested_display_precision;
  if (precision !== undefined && !(Number.isInteger(precision) && (precision as number) >= 0))
    problems.push(`${where}.suggested_display_precision: ${show(precision)} is not an integer ≥ 0`);
}

function checkClimate(problems: string[], where: string, c: Record<string, unknown>): void {
  const modes = c.modes;
  if (modes !== undefined) {
    if (!Array.isArray(modes) || modes.length === 0)
      problems.push(`${where}.modes: must be a non-empty list`);
    else
      for (const mode of modes)
        if (!CLIMATE_MODES.includes(mode as never))
          problems.push(
            `${where}.modes: ${show(mode)} is not an HVAC mode; expected ${CLIMATE_MODES.join(', ')}`,
          );
  }
  const min = c.min_temp;
  const max = c.max_temp;
  if (min !== undefined && typeof min !== 'number')
    problems.push(`${where}.min_temp: ${show(min)} is not a number`);
  if (max !== undefined && typeof max !== 'number')
    problems.push(`${where}.max_temp: ${show(max)} is not a number`);
  if (typeof min === 'number' && typeof max === 'number' && !(min < max))
    problems.push(`${where}.min_temp: ${min} must be below max_temp ${max}`);
  if (c.temperature_unit !== undefined && c.temperature_unit !== 'C' && c.temperature_unit !== 'F')
    problems.push(
      `${where}.temperature_unit: ${show(c.temperature_unit)} is not allowed; expected "C" or "F"`,
    );
  if (c.precision !== undefined && ![0.1, 0.5, 1].includes(c.precision as number))
    problems.push(`${where}.precision: ${show(c.precision)} is not allowed; expected 0.1, 0.5 or 1.0`);
  if (c.temp_step !== undefined && !(typeof c.temp_step === 'number' && c.temp_step > 0))
    problems.push(`${where}.temp_step: ${show(c.temp_step)} is not a number > 0`);
  for (const [template, topic] of [
    ['current_temperature_template', 'current_temperature_topic'],
    ['temperature_state_template', 'temperature_state_topic'],
    ['mode_state_template', 'mode_state_topic'],
  ] as const)
    if (c[template] !== undefined && c[topic] === undefined)
      problems.push(`${where}.${template}: has no ${topic} to apply to`);
}

/**
 * Every problem HA would have with a device-based discovery message (empty = valid). `prefix` is
 * HA's discovery prefix the topic must start with.
 */
export function validateDeviceDiscovery(topic: string, payload: unknown, prefix = 'homeassistant'): string[] {
  const problems: string[] = [];
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== prefix || parts[1] !== 'device' || parts[3] !== 'config')
    problems.push(`topic: ${show(topic)} is not ${prefix}/device/<object_id>/config`);
  else if (!TOPIC_ID.test(parts[2]!))
    problems.push(`topic: object id ${show(parts[2])} must match [a-zA-Z0-9_-]+`);
  if (!isObject(payload)) return [...problems, 'payload: must be a JSON object'];

  const root = expand(payload, ABBREVIATIONS);
  if (!isObject(root.device)) problems.push('dev: the device mapping is required in device-based discovery');
  const device = isObject(root.device) ? expand(root.device, DEVICE_ABBREVIATIONS) : {};
  const ids = device.identifiers;
  const hasIds = typeof ids === 'string' || (Array.isArray(ids) && ids.length > 0);
  const hasConnections = Array.isArray(device.connections) && device.connections.length > 0;
  if (isObject(root.device) && !hasIds && !hasConnections)
    problems.push('dev: needs identifiers (ids) or connections (cns)');
  if (isObject(root.device) && (typeof device.name !== 'string' || device.name.length === 0))
    problems.push('dev.name: required so entities can share the device');
  if (!isObject(root.origin)) problems.push('o: the origin mapping is required in device-based discovery');
  else {
    const origin = expand(root.origin, ORIGIN_ABBREVIATIONS);
    if (typeof origin.name !== 'string' || origin.name.length === 0) problems.push('o.name: required');
  }
  for (const key of Object.keys(root))
    if (!SHARED_ROOT_OPTIONS.has(key))
      problems.push(`${key}: not a shared option of a device-based payload; put it inside a component`);
  if (root.availability_topic !== undefined) checkTopic(problems, 'avty_t', root.availability_topic, false);
  if (root.qos !== undefined && ![0, 1, 2].includes(root.qos as number))
    problems.push(`qos: ${show(root.qos)} is not allowed; expected 0, 1 or 2`);

  if (!isObject(root.components) || Object.keys(root.components).length === 0)
    return [...problems, 'cmps: at least one component is required'];
  const uniqueIds = new Map<string, string>();
  for (const [key, component] of Object.entries(root.components)) {
    if (!isObject(component)) {
      problems.push(`cmps.${key}: must be an object`);
      continue;
    }
    checkComponent(problems, key, component, root, typeof device.name === 'string' ? device.name : undefined);
    const uid = expand(component, ABBREVIATIONS).unique_id;
    if (typeof uid === 'string') {
      const other = uniqueIds.get(uid);
      if (other) problems.push(`cmps.${key}.unique_id: ${show(uid)} is also used by cmps.${other}`);
      uniqueIds.set(uid, key);
    }
  }
  return problems;
}

/** Problems that keep a sensor out of the Energy dashboard's grid consumption / return lists. */
export function energyDashboardProblems(component: Record<string, unknown>): string[] {
  const c = expand(component, ABBREVIATIONS);
  const problems: string[] = [];
  if (c.platform !== 'sensor') problems.push(`platform: ${show(c.platform)} is not sensor`);
  if (c.device_class !== 'energy') problems.push(`device_class: ${show(c.device_class)} is not energy`);
  if (c.state_class !== 'total' && c.state_class !== 'total_increasing')
    problems.push(`state_class: ${show(c.state_class)} is not total or total_increasing`);
  if (!ENERGY_DASHBOARD_UNITS.includes(c.unit_of_measurement as string))
    problems.push(
      `unit_of_measurement: ${show(c.unit_of_measurement)} is not one of ${ENERGY_DASHBOARD_UNITS.join(', ')}`,
    );
  return problems;
}
