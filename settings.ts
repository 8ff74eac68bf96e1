/**
 * HEPEK settings: one typed object with defaults, overridden by a JSON file
 * (`hepek start --settings FILE` or `HEPEK_SETTINGS`), validated at boot.
 *
 * The schema below is the single source: the defaults, the validator and `settings.schema.json`
 * (written by the build, checked by a test) all come from it, so they cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './gateway/errors';
import type { DemandEvent } from './gateway/demand/types';

export type Mode = 'consumer' | 'prosumer' | 'generator';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface BrokerUser {
  username: string;
  password: string;
}

export interface Settings {
  /** Where keys, chain journal, deployments, Node-RED flows and simulator state live. */
  userDir: string;
  mode: Mode;
  identity: {
    /** The device serial; the on-chain device id is keccak256 of it. null = generated at first start. */
    serial: string | null;
    /** Environment variable holding the keystore password. */
    keystorePasswordEnv: string;
    /** scrypt cost of the encrypted keystore (a power of two). */
    scryptN: number;
  };
  chain: {
    /** null = the in-process EVM dev chain; otherwise an http(s):// or ws(s):// JSON-RPC URL. */
    rpcUrl: string | null;
    chainId: number;
    hardfork: string;
    /** On a dev node (hardhat node, anvil, geth --dev) fund the generated keys from its first unlocked account. */
    devFunding: boolean;
    /** In-process dev chain only: stamp new blocks no earlier than the simulated meter's clock (so readings signed on it are never in the chain's future). */
    followSimClock: boolean;
    /** Addresses of an existing deployment; null = deploy at first start and remember them. */
    contracts: {
      ErgonToken: string;
      GatewayRegistry: string;
      MeterReadings?: string;
      Purchase?: string;
      PaymentChannels?: string;
      EnergyMarket?: string;
    } | null;
  };
  broker: {
    /** null = the embedded broker; otherwise mqtt://, mqtts://, ws:// or wss:// of an external one. */
    url: string | null;
    host: string;
    port: number;
    /** Extra accounts with full access (Tasmota, Shelly, your own tools); see gateway/broker/README.md. */
    users: BrokerUser[];
    /** Environment variable holding the operator's broker secret (device passwords are HMACs under it). */
    secretEnv: string;
  };
  nodeRed: {
    host: string;
    port: number;
    /** `default` = flows/default.json, else a path to a flow file; used when the user dir has no flows yet. */
    flow: string;
    /** Node-RED `adminAuth` (https://nodered.org/docs/user-guide/runtime/securing-node-red). */
    adminAuth: Record<string, unknown> | null;
  };
  meter: {
    type: 'simulated' | 'dsmr' | 'modbus';
    /** A Modbus meter (gateway/meters/modbus), used when type is `modbus`; its factory checks the fields. */
    modbus: Record<string, unknown>;
    /** The DSMR P1 meter on a serial port, used when type is `dsmr`. */
    dsmr: {
      /** Serial device, e.g. /dev/ttyUSB0; required for type `dsmr`. */
      port: string | null;
      /** `dsmr4` = 115200 8N1 (DSMR 4.x/5.x), `dsmr2` = 9600 7E1 (DSMR 2.2/3.0). */
      profile: 'dsmr4' | 'dsmr2';
      /** Overrides of the profile; null = the profile's value. */
      baudRate: number | null;
      dataBits: 7 | 8 | null;
      parity: 'none' | 'even' | 'odd' | null;
      stopBits: 1 | 2 | null;
      /** Wait before reopening a lost port, ms. */
      retryMs: number;
    };
    speed: number;
    intervalMs: number;
    annualLoadKWh: number;
    pvPeakW: number;
    latitudeDeg: number;
    seed: number;
  };
  relay: {
    type: 'simulated' | 'tasmota' | 'shelly' | 'modbus';
    /** The adapter's options (topic, prefix, host, coil, …), decoded by its factory in gateway/devices/registry.ts. */
    options: Record<string, unknown>;
    /** What the relay does when the balance or chain link is lost: hold, open or close. */
    onChainLoss: 'hold' | 'open' | 'close';
    /** Time between chain link checks, ms. */
    chainCheckMs: number;
    /** How long balance reads may fail before the link counts as lost, ms. */
    chainLossAfterMs: number;
  };
  /** A home battery; type none = no battery. */
  battery: { type: 'none' | 'simulated' | 'mqtt' | 'modbus'; options: Record<string, unknown> };
  /** A thermostat / AC / heat pump; type none = none. */
  thermostat: {
    type: 'none' | 'simulated' | 'tasmota' | 'shelly' | 'mqtt';
    options: Record<string, unknown>;
  };
  /** Where the HEPEK is: configured, or from a GPS receiver's NMEA sentences. */
  gps: {
    source: 'settings' | 'nmea';
    latitudeDeg: number | null;
    longitudeDeg: number | null;
    altitudeM: number | null;
    path: string | null;
    baudRate: number;
  };
  /** Extra sensors read from MQTT topics (e.g. an outdoor temperature). */
  sensors: {
    id: string;
    quantity: 'power' | 'energy' | 'stateOfCharge' | 'temperature';
    topic: string;
    path: string;
  }[];
  /** The payment provider's webhook (gateway/purchase/): a signed payment mints ERGON once per payment id. */
  purchases: {
    /** Mount POST /hepek/purchases/webhook when this gateway holds the operator key. */
    enabled: boolean;
    /** Environment variable with the webhook secret(s); wins over webhookSecretFile. */
    webhookSecretEnv: string;
    /** A file with the webhook secret(s), one a line; null = <userDir>/keys/purchase-webhook-secret. */
    webhookSecretFile: string | null;
    /** How far the signature's t may be from this clock, seconds. */
    toleranceSeconds: number;
    /** The largest purchase one payment may mint, ERGON. */
    maxErgon: number;
    /** Environment variable with the operator's private key (Purchase OPERATOR_ROLE); unset = the dev operator on a chain this gateway deployed. */
    operatorKeyEnv: string;
    /** The operator's payment page the DApp's "Buy ERGON" opens (?serial=…&amountErgon=…); null = none. */
    checkoutUrl: string | null;
  };
  /** The P2P energy market (gateway/market/): what the gateway does for its own offers and buys. */
  market: {
    /** Submit the window readings, prove and settle this device's offers and positions automatically. */
    auto: boolean;
    /** How often the market agent looks at the chain, ms. */
    intervalMs: number;
    /** EnergyMarket tolerance of a deployment this gateway makes, s (proof readings this far outside the window). */
    toleranceS: number;
    /** EnergyMarket grace period of a deployment this gateway makes, s after the window end for the proof. */
    graceS: number;
  };
  balance: {
    /** Below this spendable balance (ERGON) the meter relay opens. */
    lowThresholdErgon: number;
    /** ERGON minted to the HEPEK wallet when the dev chain is provisioned. */
    demoMintErgon: number;
  };
  /** The payer's billing loop over a payment channel to the hub (gateway/channel/, docs/money-path.md). */
  channel: {
    /** Run the billing loop. */
    enabled: boolean;
    /** Length of a billing cycle, seconds of the meter's clock (the simulator's when simulated). */
    cycleSeconds: number;
    /** Deposit of a new channel, ERGON (at most what the wallet holds). */
    depositErgon: number;
    /** Top the channel up when deposit − newest voucher falls below this, ERGON. */
    topUpBelowErgon: number;
    /** How much a top-up adds, ERGON (at most what the wallet holds). */
    topUpErgon: number;
    /** The channel's challenge period, seconds (the contract allows 3600 to 2592000). */
    challengePeriod: number;
    /** Resend an unacknowledged voucher / reading / open / top-up this often, seconds. */
    resendSeconds: number;
    /** Read the channel and wallet from the chain this often, seconds. */
    checkSeconds: number;
    /** Send a device-signed reading each cycle for the hub to relay (export rewards). */
    sendReadings: boolean;
    /** Buy ERGON automatically when the spendable balance is low (opt-in). */
    autoPurchase: { enabled: boolean; amountErgon: number; belowErgon: number };
  };
  /** The operator's hub this HEPEK pays and trusts (gateway/hub/, docs/money-path.md). */
  hub: {
    /** Run the operator hub in this process with the dev `hub` key (the embedded default plays every role). */
    embedded: boolean;
    /** The hub address to pay and whose DEMAND events and tariffs to trust; null = the embedded hub's key. */
    address: string | null;
    /** This gateway's region (the retained DEMAND and tariff topics it listens on). */
    region: string;
    /** The flat tariff the embedded hub signs, ERGON per kWh. */
    tariffErgonPerKWh: number;
    /** The embedded hub closes a channel when its newest voucher reaches this share of the deposit, percent (0 = never). */
    closeSpentPercent: number;
    /** The embedded hub closes every channel holding a voucher this often, seconds (0 = never). */
    closeIntervalSeconds: number;
    /** The embedded hub's periodic work (events, relays, closes, reading batches), ms. */
    tickMs: number;
    /** DEMAND events the embedded hub signs and broadcasts (the current or next one, on the meter's clock). */
    demand: DemandEvent[];
  };
  /** The simulated home behind the simulated meter (gateway/sim/home.ts); validated at boot. */
  sim: {
    battery: Record<string, unknown> | null;
    thermal: Record<string, unknown> | null;
    profileFile: string | null;
    /** Where the simulated clock starts (ISO 8601, e.g. "2026-06-21T09:00:00Z"); null = now. A restart continues from the saved state. */
    startTime: string | null;
    /** A day-ahead price dataset to replay on the meter's clock: "NP", "PJM", "BE" (in $HEPEK_DATA/prices) or a CSV path; null = none. */
    priceFile: string | null;
    /** The dataset day the replay starts at (YYYY-MM-DD); null = its first day with a week of history. */
    priceStartDate: string | null;
    /** The price forecaster's ONNX model (relative to the package); null = prices only. */
    priceForecastModel: string | null;
    batterySetpoint: number | 'self-consumption';
  };
  /** The durable journal (gateway/store/journal.ts) every acknowledged reading goes through. */
  store: { journal: { segmentBytes: number; retainBytes: number; maxBytes: number } };
  /** An InfluxDB 1.x to write readings to (gateway/store/influx.ts); null = none. */
  influx: InfluxSettings | null;
  log: { level: LogLevel };
  integrations: {
    homeAssistant: {
      /** Publish MQTT discovery for Home Assistant on the gateway's broker. */
      enabled: boolean;
      /** HA's discovery prefix. */
      discoveryPrefix: string;
      /** How often the ERGON balance is read and published for HA, ms. */
      balanceIntervalMs: number;
    };
    openadr: {
      /** Base URL of the utility's OpenADR 3 VTN (…/openadr3/3.0.1); null = no VEN. */
      vtnUrl: string | null;
      /** Environment variable holding the VTN's bearer token. */
      tokenEnv: string;
      /** The VEN's clientName at the VTN; null = the device serial. */
      venName: string | null;
      /** How often programs and events are polled, ms. */
      pollIntervalMs: number;
      /** Region written into DEMAND events whose VTN event names none. */
      region: string;
    };
  };
}

/** `settings.influx`: url and database are required, the rest default (see the schema). */
export interface InfluxSettings {
  url: string;
  database: string;
  username?: string | null;
  password?: string | null;
  batchSize?: number;
  flushIntervalMs?: number;
  maxRetryDelayMs?: number;
  timeoutMs?: number;
}

/** The subset of JSON Schema (draft 2020-12) the validator understands. */
export interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  /** Human wording for error messages; not part of JSON Schema proper (kept under an x- key). */
  'x-allowed'?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean;
  items?: SchemaNode;
}

const port = (description: string, value: number): SchemaNode => ({
  type: 'integer',
  minimum: 1,
  maximum: 65535,
  default: value,
  description,
  'x-allowed': 'a TCP port, an integer from 1 to 65535',
});

const host = (description: string): SchemaNode => ({
  type: 'string',
  minLength: 1,
  default: '127.0.0.1',
  description,
  'x-allowed': 'an IP address or host name to bind to',
});

const address = (description: string): SchemaNode => ({
  type: 'string',
  pattern: '^0x[0-9a-fA-F]{40}$',
  description,
  'x-allowed': 'a 0x-prefixed 20-byte hex address',
});

/** A device's free-form options: its factory (gateway/devices/registry.ts) decodes and checks them at boot. */
const deviceOptions = (kind: string): SchemaNode => ({
  type: 'object',
  default: {},
  description: `Options of the ${kind} adapter type (topic, prefix, host, registers, limits …); see gateway/devices/README.md.`,
  'x-allowed': `an object of ${kind} options`,
});

export const settingsSchema: SchemaNode = {
  type: 'object',
  description: 'HEPEK gateway settings. Every key is optional; omitted keys take their default.',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string', description: 'Path or URL of this schema, for editors.' },
    $comment: { type: 'string', description: 'Free text, ignored.' },
    userDir: {
      type: 'string',
      minLength: 1,
      description: 'Folder for keys, chain journal, deployments, Node-RED flows and simulator state.',
      'x-allowed': 'a folder path (default: $HEPEK_USER_DIR or ~/.hepek)',
    },
    mode: {
      enum: ['consumer', 'prosumer', 'generator'],
      default: 'prosumer',
      description: 'How this HEPEK takes part: consumer, prosumer or generator.',
    },
    identity: {
      type: 'object',
      additionalProperties: false,
      properties: {
        serial: {
          type: ['string', 'null'],
          pattern: '^[A-Za-z0-9._-]{3,64}$',
          default: null,
          description:
            'Device serial; the on-chain device id is keccak256 of it. null: generated at first start.',
          'x-allowed': 'null or 3 to 64 letters, digits, dots, dashes or underscores',
        },
        keystorePasswordEnv: {
          type: 'string',
          pattern: '^[A-Z_][A-Z0-9_]*$',
          default: 'HEPEK_KEYSTORE_PASSWORD',
          description:
            'Environment variable with the keystore password. Unset: a random password is kept in <userDir>/keys/.keystore-password (mode 0600).',
          'x-allowed': 'an environment variable name (upper case, digits, underscores)',
        },
        scryptN: {
          type: 'integer',
          enum: [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144],
          default: 131072,
          description: 'scrypt cost of the encrypted device keystore.',
          'x-allowed': 'a power of two from 1024 to 262144',
        },
      },
    },
    chain: {
      type: 'object',
      additionalProperties: false,
      properties: {
        rpcUrl: {
          type: ['string', 'null'],
          pattern: '^(https?|wss?)://[^\\s]+$',
          default: null,
          description: 'JSON-RPC URL of an Ethereum node. null: the in-process EVM dev chain.',
          'x-allowed': 'null (in-process dev chain) or an http(s):// or ws(s):// JSON-RPC URL string',
        },
        chainId: {
          type: 'integer',
          minimum: 1,
          maximum: 4294967295,
          default: 31337,
          description: 'Chain id of the in-process dev chain.',
          'x-allowed': 'an integer from 1 to 4294967295',
        },
        hardfork: {
          enum: ['shanghai', 'cancun', 'prague'],
          default: 'cancun',
          description:
            'Hardfork of the in-process dev chain; must not be older than the contracts’ evmVersion.',
        },
        devFunding: {
          type: 'boolean',
          default: true,
          description:
            "On an external dev node, fund the generated keys from the node's first unlocked account.",
        },
        followSimClock: {
          type: 'boolean',
          default: true,
          description:
            "In-process dev chain with a simulated meter: new blocks are stamped no earlier than the simulator's clock, so device-signed readings and vouchers on the accelerated clock are never in the chain's future.",
        },
        contracts: {
          type: ['object', 'null'],
          additionalProperties: false,
          required: ['ErgonToken', 'GatewayRegistry'],
          default: null,
          description: 'Addresses of an existing deployment. null: deploy at first start and remember them.',
          properties: {
            ErgonToken: address('ErgonToken address.'),
            GatewayRegistry: address('GatewayRegistry address.'),
            MeterReadings: address('MeterReadings address (optional for deployments made before it).'),
            Purchase: address('Purchase address (optional for deployments made before it).'),
            PaymentChannels: address('PaymentChannels address (optional for deployments made before it).'),
            EnergyMarket: address('EnergyMarket address (optional for deployments made before it).'),
          },
        },
      },
    },
    broker: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: {
          type: ['string', 'null'],
          pattern: '^(mqtts?|wss?)://[^\\s]+$',
          default: null,
          description: 'URL of an external MQTT broker. null: the embedded broker.',
          'x-allowed': 'null (embedded broker) or an mqtt://, mqtts://, ws:// or wss:// URL string',
        },
        host: host('Address the embedded broker binds to.'),
        port: port('Port of the embedded broker.', 1883),
        users: {
          type: 'array',
          default: [],
          description:
            'Extra full-access accounts on the embedded broker (Tasmota, Shelly, your own tools); devices and the hub log in with accounts derived from the broker secret.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['username', 'password'],
            properties: {
              username: { type: 'string', minLength: 1, 'x-allowed': 'a non-empty string' },
              password: { type: 'string', minLength: 8, 'x-allowed': 'a string of at least 8 characters' },
            },
          },
        },
        secretEnv: {
          type: 'string',
          pattern: '^[A-Z_][A-Z0-9_]*$',
          default: 'HEPEK_BROKER_SECRET',
          description:
            "Environment variable with the operator's broker secret: device passwords are HMAC-SHA256(secret, serial). Unset: a random secret is kept in <userDir>/keys/broker-secret (mode 0600).",
          'x-allowed': 'an environment variable name (upper case, digits, underscores)',
        },
      },
    },
    nodeRed: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: host('Address the Node-RED editor binds to.'),
        port: port('Port of the Node-RED editor.', 1880),
        flow: {
          type: 'string',
          minLength: 1,
          default: 'default',
          description:
            'Flow deployed when the user dir has none yet: `default` or a path to a flow JSON file.',
          'x-allowed': '"default" or a path to a Node-RED flow JSON file',
        },
        adminAuth: {
          type: ['object', 'null'],
          default: null,
          description: 'Node-RED adminAuth. Required when host is not a loopback address.',
          'x-allowed': 'null or a Node-RED adminAuth object',
        },
      },
    },
    meter: {
      type: 'object',
      additionalProperties: false,
      properties: {
        type: {
          enum: ['simulated', 'dsmr', 'modbus'],
          default: 'simulated',
          description:
            'Meter adapter: the simulated household, a DSMR P1 smart meter on a serial port (meter.dsmr), or a Modbus meter (meter.modbus).',
        },
        modbus: {
          type: 'object',
          default: {},
          description:
            'The Modbus meter, used when meter.type is "modbus": {model: "sdm630" | "sunspec", host, port | path, baudRate, unitId, intervalMs, timeoutMs, retries, usage}.',
          'x-allowed': 'an object of Modbus meter options (gateway/meters/modbus/index.ts)',
        },
        dsmr: {
          type: 'object',
          additionalProperties: false,
          description: 'The DSMR P1 meter, used when meter.type is "dsmr".',
          properties: {
            port: {
              type: ['string', 'null'],
              minLength: 1,
              default: null,
              description:
                'Serial device of the P1 cable, e.g. /dev/ttyUSB0. Required when meter.type is "dsmr".',
              'x-allowed': 'null or a serial device path such as "/dev/ttyUSB0"',
            },
            profile: {
              enum: ['dsmr4', 'dsmr2'],
              default: 'dsmr4',
              description:
                'dsmr4: 115200 8N1 (DSMR 4.x, 5.x, e-MUCS, Luxembourg); dsmr2: 9600 7E1 (DSMR 2.2, 3.0).',
            },
            baudRate: {
              type: ['integer', 'null'],
              enum: [null, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400],
              default: null,
              description: "Serial speed; null: the profile's.",
              'x-allowed': 'null or one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400',
            },
            dataBits: {
              enum: [null, 7, 8],
              default: null,
              description: "Data bits; null: the profile's.",
            },
            parity: {
              enum: [null, 'none', 'even', 'odd'],
              default: null,
              description: "Parity; null: the profile's.",
            },
            stopBits: {
              enum: [null, 1, 2],
              default: null,
              description: "Stop bits; null: the profile's.",
            },
            retryMs: {
              type: 'integer',
              minimum: 10,
              maximum: 600000,
              default: 2000,
              description: 'Wait before reopening a lost serial port, ms.',
              'x-allowed': 'an integer from 10 to 600000',
            },
          },
        },
        speed: {
          type: 'number',
          minimum: 0.001,
          maximum: 100000,
          default: 60,
          description: 'Simulated seconds per real second.',
          'x-allowed': 'a number from 0.001 to 100000',
        },
        intervalMs: {
          type: 'integer',
          minimum: 10,
          maximum: 3600000,
          default: 1000,
          description: 'Real milliseconds between simulated readings.',
          'x-allowed': 'an integer from 10 to 3600000',
        },
        annualLoadKWh: {
          type: 'number',
          minimum: 0,
          maximum: 1000000,
          default: 3500,
          description: 'Yearly household consumption of the simulated home, kWh.',
          'x-allowed': 'a number from 0 to 1000000',
        },
        pvPeakW: {
          type: 'number',
          minimum: 0,
          maximum: 1000000,
          default: 4000,
          description: 'Peak PV power of the simulated home, W.',
          'x-allowed': 'a number from 0 to 1000000',
        },
        latitudeDeg: {
          type: 'number',
          minimum: -66,
          maximum: 66,
          default: 52,
          description: 'Latitude for the simulated PV, degrees.',
          'x-allowed': 'a number from -66 to 66',
        },
        seed: {
          type: 'integer',
          minimum: 0,
          maximum: 4294967295,
          default: 1,
          description: 'Seed of the simulator noise.',
          'x-allowed': 'an integer from 0 to 4294967295',
        },
      },
    },
    relay: {
      type: 'object',
      additionalProperties: false,
      properties: {
        type: {
          enum: ['simulated', 'tasmota', 'shelly', 'modbus'],
          default: 'simulated',
          description:
            'Relay adapter: simulated, tasmota (cmnd/<topic>/POWER), shelly (Gen2 <prefix>/rpc) or modbus (a coil).',
        },
        options: deviceOptions('relay'),
        onChainLoss: {
          enum: ['hold', 'open', 'close'],
          default: 'hold',
          description:
            'What the relay does once the balance/chain link is lost: hold (leave it), open (cut the supply) or close (keep it on).',
        },
        chainCheckMs: {
          type: 'integer',
          minimum: 1000,
          maximum: 3600000,
          default: 15000,
          description: 'Time between chain link checks, ms.',
          'x-allowed': 'an integer from 1000 to 3600000 ms',
        },
        chainLossAfterMs: {
          type: 'integer',
          minimum: 1000,
          maximum: 86400000,
          default: 60000,
          description: 'How long balance reads may fail before the chain link counts as lost, ms.',
          'x-allowed': 'an integer from 1000 to 86400000 ms',
        },
      },
    },
    battery: {
      type: 'object',
      additionalProperties: false,
      properties: {
        type: {
          enum: ['none', 'simulated', 'mqtt', 'modbus'],
          default: 'none',
          description: 'Battery adapter: none, simulated, mqtt (JSON <prefix>/set and /state) or modbus.',
        },
        options: deviceOptions('battery'),
      },
    },
    thermostat: {
      type: 'object',
      additionalProperties: false,
      properties: {
        type: {
          enum: ['none', 'simulated', 'tasmota', 'shelly', 'mqtt'],
          default: 'none',
          description: 'Thermostat / AC adapter: none, simulated, tasmota, shelly or mqtt (JSON).',
        },
        options: deviceOptions('thermostat'),
      },
    },
    gps: {
      type: 'object',
      additionalProperties: false,
      properties: {
        source: {
          enum: ['settings', 'nmea'],
          default: 'settings',
          description: 'Position from latitudeDeg/longitudeDeg here, or from a GPS receiver (NMEA) on path.',
        },
        latitudeDeg: {
          type: ['number', 'null'],
          minimum: -90,
          maximum: 90,
          default: null,
          description: 'Latitude, degrees north positive; null = unknown.',
          'x-allowed': 'null or degrees from -90 to 90',
        },
        longitudeDeg: {
          type: ['number', 'null'],
          minimum: -180,
          maximum: 180,
          default: null,
          description: 'Longitude, degrees east positive; null = unknown.',
          'x-allowed': 'null or degrees from -180 to 180',
        },
        altitudeM: {
          type: ['number', 'null'],
          minimum: -500,
          maximum: 9000,
          default: null,
          description: 'Altitude above mean sea level, m.',
          'x-allowed': 'null or metres from -500 to 9000',
        },
        path: {
          type: ['string', 'null'],
          minLength: 1,
          default: null,
          description: 'Serial port of the GPS receiver (source nmea), e.g. /dev/ttyACM0.',
          'x-allowed': 'null or a serial port path',
        },
        baudRate: {
          enum: [4800, 9600, 19200, 38400, 57600, 115200],
          default: 4800,
          description: 'Baud rate of the GPS receiver (8N1).',
        },
      },
    },
    sensors: {
      type: 'array',
      default: [],
      description:
        'Extra sensors read from MQTT topics, e.g. {"id": "outdoorTemperatureC", "topic": "tele/garden/SENSOR", "path": "AM2301.Temperature"}.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'topic'],
        properties: {
          id: {
            type: 'string',
            pattern: '^[A-Za-z][A-Za-z0-9]*$',
            'x-allowed': 'a camelCase identifier ending in its unit, e.g. outdoorTemperatureC',
          },
          quantity: { enum: ['power', 'energy', 'stateOfCharge', 'temperature'] },
          topic: {
            type: 'string',
            pattern: '^[^+#\\s]+$',
            'x-allowed': 'an MQTT topic without wildcards or spaces',
          },
          path: { type: 'string', 'x-allowed': 'a dotted JSON path, or "" for a plain number payload' },
        },
      },
    },
    purchases: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: {
          type: 'boolean',
          default: true,
          description:
            'Serve the payment webhook POST /hepek/purchases/webhook when this gateway holds the operator key (the dev chain it deployed, or $HEPEK_OPERATOR_KEY).',
        },
        webhookSecretEnv: {
          type: 'string',
          pattern: '^[A-Z_][A-Z0-9_]*$',
          default: 'HEPEK_PURCHASE_WEBHOOK_SECRET',
          description:
            'Environment variable with the webhook secret(s) (comma-separated while rotating). Wins over webhookSecretFile.',
          'x-allowed': 'an environment variable name (upper case, digits, underscores)',
        },
        webhookSecretFile: {
          type: ['string', 'null'],
          minLength: 1,
          default: null,
          description:
            'File with the webhook secret(s), one a line. null: <userDir>/keys/purchase-webhook-secret, created once (mode 0600).',
          'x-allowed': 'null or a file path',
        },
        toleranceSeconds: {
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: 300,
          description: "How far a signature's t may be from this gateway's clock, seconds.",
          'x-allowed': 'an integer number of seconds from 1 to 3600',
        },
        maxErgon: {
          type: 'number',
          minimum: 0.000001,
          maximum: 1000000000,
          default: 10000,
          description: 'The most ERGON one payment may mint; a larger amount is refused (HTTP 400).',
          'x-allowed': 'a number of ERGON from 0.000001 to 1000000000',
        },
        operatorKeyEnv: {
          type: 'string',
          pattern: '^[A-Z_][A-Z0-9_]*$',
          default: 'HEPEK_OPERATOR_KEY',
          description:
            "Environment variable with the operator's private key (Purchase OPERATOR_ROLE). Unset: the dev operator key, on a chain this gateway deployed.",
          'x-allowed': 'an environment variable name (upper case, digits, underscores)',
        },
        checkoutUrl: {
          type: ['string', 'null'],
          pattern: '^https?://[^\\s]+$',
          default: null,
          description:
            "The operator's payment page (card / direct debit) the DApp's Buy ERGON opens, with ?serial=<serial>&amountErgon=<amount> added; the provider then calls the webhook. null: on the embedded dev chain the DApp pays through a demo provider that signs the webhook itself.",
          'x-allowed': 'null or an http(s):// URL',
        },
      },
    },
    market: {
      type: 'object',
      additionalProperties: false,
      properties: {
        auto: {
          type: 'boolean',
          default: true,
          description:
            "Submit the delivery-window readings, prove and settle this device's market offers and positions automatically.",
        },
        intervalMs: {
          type: 'integer',
          minimum: 100,
          maximum: 3600000,
          default: 15000,
          description: 'How often the market agent looks at the chain, ms.',
          'x-allowed': 'an integer from 100 to 3600000',
        },
        toleranceS: {
          type: 'integer',
          minimum: 60,
          maximum: 86400,
          default: 900,
          description:
            "EnergyMarket tolerance when this gateway deploys the contracts, s: how far a delivery proof's readings may lie outside the window (one billing cycle).",
          'x-allowed': 'an integer from 60 to 86400 seconds',
        },
        graceS: {
          type: 'integer',
          minimum: 60,
          maximum: 86400,
          default: 21600,
          description:
            'EnergyMarket grace period when this gateway deploys the contracts, s after the window end in which delivery may be proven.',
          'x-allowed': 'an integer from 60 to 86400 seconds',
        },
      },
    },
    balance: {
      type: 'object',
      additionalProperties: false,
      properties: {
        lowThresholdErgon: {
          type: 'number',
          minimum: 0,
          default: 1,
          description: 'Below this spendable balance, ERGON, the meter relay opens.',
          'x-allowed': 'a number of ERGON ≥ 0',
        },
        demoMintErgon: {
          type: 'number',
          minimum: 0,
          maximum: 1000000,
          default: 20,
          description: 'ERGON minted to the HEPEK wallet when the dev chain is provisioned.',
          'x-allowed': 'a number of ERGON from 0 to 1000000',
        },
      },
    },
    channel: {
      type: 'object',
      additionalProperties: false,
      description: "The payer's billing loop over a payment channel to the hub (docs/money-path.md).",
      properties: {
        enabled: {
          type: 'boolean',
          default: true,
          description:
            'Run the billing loop: vouchers each cycle, channel open and top-up, relay from the balance.',
        },
        cycleSeconds: {
          type: 'integer',
          minimum: 1,
          maximum: 86400,
          default: 900,
          description:
            "Length of a billing cycle, seconds of the meter's clock (the simulator's when the meter is simulated).",
          'x-allowed': 'whole seconds from 1 to 86400',
        },
        depositErgon: {
          type: 'number',
          minimum: 0,
          default: 10,
          description: 'Deposit of a new channel, ERGON (at most what the HEPEK wallet holds).',
          'x-allowed': 'a number of ERGON ≥ 0',
        },
        topUpBelowErgon: {
          type: 'number',
          minimum: 0,
          default: 2,
          description:
            'Top the channel up from the wallet when deposit − newest voucher falls below this, ERGON.',
          'x-allowed': 'a number of ERGON ≥ 0',
        },
        topUpErgon: {
          type: 'number',
          minimum: 0,
          default: 5,
          description: 'How much one top-up adds, ERGON (at most what the wallet holds).',
          'x-allowed': 'a number of ERGON ≥ 0',
        },
        challengePeriod: {
          type: 'integer',
          minimum: 3600,
          maximum: 2592000,
          default: 86400,
          description: 'Seconds the hub has to answer an exit with a newer voucher.',
          'x-allowed': 'whole seconds from 3600 (1 h) to 2592000 (30 days)',
        },
        resendSeconds: {
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: 10,
          description:
            'Resend an unacknowledged voucher, reading, open or top-up this often, wall-clock seconds.',
          'x-allowed': 'whole seconds from 1 to 3600',
        },
        checkSeconds: {
          type: 'integer',
          minimum: 1,
          maximum: 3600,
          default: 30,
          description: 'Read the channel and the wallet from the chain this often, wall-clock seconds.',
          'x-allowed': 'whole seconds from 1 to 3600',
        },
        sendReadings: {
          type: 'boolean',
          default: true,
          description:
            'Send a device-signed reading each cycle for the hub to relay (export rewards, carbon credits).',
        },
        autoPurchase: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: {
              type: 'boolean',
              default: false,
              description: 'Buy ERGON automatically when the spendable balance is low (opt-in).',
            },
            amountErgon: {
              type: 'number',
              minimum: 0,
              default: 10,
              description: 'How much one automatic purchase buys, ERGON.',
              'x-allowed': 'a number of ERGON ≥ 0',
            },
            belowErgon: {
              type: 'number',
              minimum: 0,
              default: 2,
              description: 'Buy when the spendable balance falls below this, ERGON.',
              'x-allowed': 'a number of ERGON ≥ 0',
            },
          },
        },
      },
    },
    hub: {
      type: 'object',
      additionalProperties: false,
      description: "The operator's hub this HEPEK pays and trusts (docs/money-path.md).",
      properties: {
        embedded: {
          type: 'boolean',
          default: true,
          description:
            'Run the operator hub in this process with the dev "hub" key (channel payee, relay of opens, top-ups and readings, signer of tariffs and DEMAND events).',
        },
        address: {
          type: ['string', 'null'],
          pattern: '^0x[0-9a-fA-F]{40}$',
          default: null,
          description:
            'The hub to pay and whose signed DEMAND events and tariffs to trust; null = the embedded hub key.',
          'x-allowed': 'null or a 0x-hex address of 20 bytes',
        },
        region: {
          type: 'string',
          pattern: '^[!-"$-*,-.0-~]{1,128}$',
          default: 'default',
          description:
            "This gateway's region: it listens on hepek/hub/demand/<region> and hepek/hub/tariff/<region>.",
          'x-allowed': '1 to 128 printable characters without spaces, / + or #',
        },
        tariffErgonPerKWh: {
          type: 'number',
          minimum: 0,
          maximum: 1000,
          default: 0.25,
          description: 'The flat tariff the embedded hub signs and broadcasts, ERGON per kWh.',
          'x-allowed': 'a number of ERGON per kWh from 0 to 1000',
        },
        closeSpentPercent: {
          type: 'integer',
          minimum: 0,
          maximum: 100,
          default: 90,
          description:
            'The embedded hub closes a channel once its newest voucher reaches this share of the deposit, percent (0 = never).',
          'x-allowed': 'an integer percentage from 0 to 100',
        },
        closeIntervalSeconds: {
          type: 'integer',
          minimum: 0,
          maximum: 31536000,
          default: 86400,
          description:
            'The embedded hub closes every channel holding a voucher this often, wall-clock seconds (0 = never).',
          'x-allowed': 'whole seconds from 0 to 31536000',
        },
        tickMs: {
          type: 'integer',
          minimum: 100,
          maximum: 600000,
          default: 2000,
          description:
            'How often the embedded hub does its periodic work (events, relays, closes, reading batches), ms.',
          'x-allowed': 'an integer of ms from 100 to 600000',
        },
        demand: {
          type: 'array',
          default: [],
          description:
            "DEMAND events the embedded hub signs with its key and broadcasts retained on hepek/hub/demand/<region>: the one in progress or next, on the meter's clock (unix seconds). Each {id, region, start, end, level, targetKw, expiry}.",
          'x-allowed':
            'an array of {id, region, start, end, level, targetKw, expiry} (gateway/demand/types.ts)',
          items: { type: 'object' },
        },
      },
    },
    sim: {
      type: 'object',
      additionalProperties: false,
      properties: {
        battery: {
          type: ['object', 'null'],
          default: null,
          description:
            'A home battery behind the simulated meter: {capacityWh, maxChargeW, maxDischargeW, chargeEfficiency, dischargeEfficiency, socMinPercent, socMaxPercent, initialSocPercent}, each optional; {} = the defaults (10 kWh, 5 kW). null = none.',
          'x-allowed': 'null or an object of battery options (gateway/sim/battery.ts)',
        },
        thermal: {
          type: ['object', 'null'],
          default: null,
          description:
            'The RC thermal model of the house with a heat pump: {house: {resistanceCPerW, capacitanceJPerC, solarApertureM2, initialIndoorC}, heatPump: {ratedElectricW, copHeat, copCool}, thermostat: {mode, setpointC, hysteresisC, minOnSeconds, minOffSeconds}}, each optional. null = none.',
          'x-allowed': 'null or {house, heatPump, thermostat} (gateway/sim/thermal.ts)',
        },
        profileFile: {
          type: ['string', 'null'],
          default: null,
          minLength: 1,
          description:
            'A load/PV CSV to replay (columns timestamp, P_Load, P_PV in W, optional T_out/temp_air in °C, evenly spaced), or "emhass" for the emhass 30-min series in $HEPEK_DATA (../shared/data) when present. null = the built-in synthetic profile.',
          'x-allowed': 'null, "emhass" or the path of a CSV file',
        },
        startTime: {
          type: ['string', 'null'],
          default: null,
          minLength: 1,
          description:
            'Where the simulated clock starts, ISO 8601 (e.g. "2026-06-21T09:00:00Z" for a sunny June morning); it then runs at meter.speed. null = the real time at the first start. A restart continues from the saved simulator state.',
          'x-allowed': 'null or an ISO 8601 date-time',
        },
        priceFile: {
          type: ['string', 'null'],
          default: null,
          minLength: 1,
          description:
            'A day-ahead price dataset (epftoolbox layout) replayed on the meter\'s clock for the DApp\'s price vs forecast and the dashboards: "NP", "PJM" or "BE" for the shared datasets in $HEPEK_DATA/prices (../shared/data), or a CSV path. Tomorrow\'s prices are known from 13:00. null = no price feed.',
          'x-allowed': 'null, "NP", "PJM", "BE" or the path of a CSV file',
        },
        priceStartDate: {
          type: ['string', 'null'],
          default: null,
          pattern: '^\\d{4}-\\d{2}-\\d{2}$',
          description:
            'The dataset day the price replay starts at. null = its first day with a week of history.',
          'x-allowed': 'null or a date YYYY-MM-DD of the dataset',
        },
        priceForecastModel: {
          type: ['string', 'null'],
          default: 'models/price-np/model.onnx',
          minLength: 1,
          description:
            'The ONNX price model that forecasts today and tomorrow from the replayed history (relative to the package or absolute). null = prices only.',
          'x-allowed': 'null or the path of a model.onnx with its card.json',
        },
        batterySetpoint: {
          type: ['number', 'string'],
          default: 0,
          description:
            'Battery setpoint at start: grid-side W (+ charge, − discharge) or "self-consumption".',
          'x-allowed': 'a number of W or "self-consumption"',
        },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        journal: {
          type: 'object',
          additionalProperties: false,
          properties: {
            segmentBytes: {
              type: 'integer',
              minimum: 4096,
              maximum: 1073741824,
              default: 4194304,
              description: 'The journal starts a new segment file at this size, bytes.',
              'x-allowed': 'an integer from 4096 to 1073741824',
            },
            retainBytes: {
              type: 'integer',
              minimum: 0,
              maximum: 1099511627776,
              default: 16777216,
              description: 'History kept after every consumer (InfluxDB) has read it, bytes.',
              'x-allowed': 'an integer number of bytes ≥ 0',
            },
            maxBytes: {
              type: 'integer',
              minimum: 8192,
              maximum: 1099511627776,
              default: 268435456,
              description:
                'Hard cap on the journal: beyond it the oldest segments are deleted even if InfluxDB has not received them (logged and counted), bytes. At least twice segmentBytes.',
              'x-allowed': 'an integer number of bytes ≥ 8192 and ≥ 2 × segmentBytes',
            },
          },
        },
      },
    },
    influx: {
      type: ['object', 'null'],
      default: null,
      additionalProperties: false,
      required: ['url', 'database'],
      description: 'An InfluxDB 1.x server to write every acknowledged reading to. null = none.',
      'x-allowed': 'null or {url, database, …}',
      properties: {
        url: {
          type: 'string',
          pattern: '^https?://',
          description: 'Base URL of the InfluxDB 1.x HTTP API, e.g. http://127.0.0.1:8086.',
          'x-allowed': 'an http:// or https:// URL',
        },
        database: {
          type: 'string',
          minLength: 1,
          description: 'Database to write to (created if missing and the user may).',
          'x-allowed': 'a database name',
        },
        username: { type: ['string', 'null'], default: null, description: 'User name, or null.' },
        password: { type: ['string', 'null'], default: null, description: 'Password, or null.' },
        batchSize: {
          type: 'integer',
          minimum: 1,
          maximum: 100000,
          default: 500,
          description: 'Points per write request at most.',
          'x-allowed': 'an integer from 1 to 100000',
        },
        flushIntervalMs: {
          type: 'integer',
          minimum: 10,
          maximum: 600000,
          default: 1000,
          description: 'Longest wait before a partial batch is written, ms.',
          'x-allowed': 'an integer from 10 to 600000',
        },
        maxRetryDelayMs: {
          type: 'integer',
          minimum: 10,
          maximum: 3600000,
          default: 30000,
          description: 'Longest back-off between retries while InfluxDB is unreachable, ms.',
          'x-allowed': 'an integer from 10 to 3600000',
        },
        timeoutMs: {
          type: 'integer',
          minimum: 100,
          maximum: 600000,
          default: 10000,
          description: 'Timeout of one write request, ms.',
          'x-allowed': 'an integer from 100 to 600000',
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['error', 'warn', 'info', 'debug'], default: 'info', description: 'Log level.' },
      },
    },
    integrations: {
      type: 'object',
      additionalProperties: false,
      properties: {
        homeAssistant: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: {
              type: 'boolean',
              default: true,
              description: 'Publish Home Assistant MQTT discovery (device-based) on the broker.',
            },
            discoveryPrefix: {
              type: 'string',
              pattern: '^[a-zA-Z0-9_-]+$',
              default: 'homeassistant',
              description: "Home Assistant's MQTT discovery prefix.",
              'x-allowed': 'letters, digits, underscores or dashes (a single MQTT topic level)',
            },
            balanceIntervalMs: {
              type: 'integer',
              minimum: 1000,
              maximum: 86400000,
              default: 30000,
              description: 'How often the ERGON balance is read and published for Home Assistant, ms.',
              'x-allowed': 'an integer from 1000 to 86400000',
            },
          },
        },
        openadr: {
          type: 'object',
          additionalProperties: false,
          properties: {
            vtnUrl: {
              type: ['string', 'null'],
              pattern: '^https?://[^\\s]+$',
              default: null,
              description: 'Base URL of an OpenADR 3 VTN (the part before /programs). null: no VEN.',
              'x-allowed': 'null or an http(s):// URL',
            },
            tokenEnv: {
              type: 'string',
              pattern: '^[A-Z_][A-Z0-9_]*$',
              default: 'HEPEK_OPENADR_TOKEN',
              description: "Environment variable with the VTN's bearer token.",
              'x-allowed': 'an environment variable name (upper case, digits, underscores)',
            },
            venName: {
              type: ['string', 'null'],
              minLength: 1,
              default: null,
              description: "The VEN's clientName at the VTN. null: the device serial.",
              'x-allowed': 'null or a non-empty string',
            },
            pollIntervalMs: {
              type: 'integer',
              minimum: 1000,
              maximum: 3600000,
              default: 60000,
              description: 'How often the VEN polls programs and events, ms.',
              'x-allowed': 'an integer from 1000 to 3600000',
            },
            region: {
              type: 'string',
              default: '',
              description: 'Region written into DEMAND events when the VTN event targets none.',
              'x-allowed': 'a string',
            },
          },
        },
      },
    },
  },
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function allowedText(node: SchemaNode): string {
  if (node['x-allowed']) return node['x-allowed'];
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
  return types.length ? `a value of type ${types.join(' or ')}` : 'a valid value';
}

/** Checks `value` against `node`; throws a ConfigError naming the dotted field path. */
export function validateAgainst(node: SchemaNode, value: unknown, field: string): void {
  const actual = typeOf(value);
  if (node.type) {
    const types = Array.isArray(node.type) ? node.type : [node.type];
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok) throw new ConfigError(field, value, allowedText(node));
  }
  if (node.enum && !node.enum.includes(value)) throw new ConfigError(field, value, allowedText(node));
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ConfigError(field, value, allowedText(node));
    if (node.minimum !== undefined && value < node.minimum)
      throw new ConfigError(field, value, allowedText(node));
    if (node.maximum !== undefined && value > node.maximum)
      throw new ConfigError(field, value, allowedText(node));
  }
  if (typeof value === 'string') {
    if (node.minLength !== undefined && value.length < node.minLength)
      throw new ConfigError(field, value, allowedText(node));
    if (node.pattern && !new RegExp(node.pattern).test(value))
      throw new ConfigError(field, value, allowedText(node));
  }
  if (actual === 'object' && node.properties) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const child = node.properties[key];
      const childField = field ? `${field}.${key}` : key;
      if (!child) {
        if (node.additionalProperties === false)
          throw new ConfigError(
            childField,
            record[key],
            `a known setting (known keys here: ${Object.keys(node.properties)
              .filter((k) => !k.startsWith('$'))
              .join(', ')})`,
          );
        continue;
      }
      validateAgainst(child, record[key], childField);
    }
    for (const key of node.required ?? []) {
      if (!(key in record))
        throw new ConfigError(field ? `${field}.${key}` : key, undefined, allowedText(node.properties[key]!));
    }
  }
  if (actual === 'array' && node.items) {
    (value as unknown[]).forEach((item, i) => validateAgainst(node.items!, item, `${field}[${i}]`));
  }
}

function defaultsOf(node: SchemaNode): unknown {
  if (node.type === 'object' && node.properties) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node.properties)) {
      const value = defaultsOf(child);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  return structuredClone(node.default);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges a validated override into the defaults; arrays and null replace. */
function merge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    out[key] = isPlainObject(value) && isPlainObject(base[key]) ? merge(base[key], value) : value;
  }
  return out;
}

export function defaultUserDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HEPEK_USER_DIR && env.HEPEK_USER_DIR.length > 0
    ? path.resolve(env.HEPEK_USER_DIR)
    : path.join(os.homedir(), '.hepek');
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

export function isLoopback(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/** Rules that span fields: nothing is exposed beyond this machine without credentials. */
function checkCrossField(settings: Settings): void {
  if (settings.meter.type === 'dsmr' && settings.meter.dsmr.port === null)
    throw new ConfigError(
      'meter.dsmr.port',
      null,
      'the serial device of the P1 cable (e.g. "/dev/ttyUSB0") when meter.type is "dsmr"',
    );
  if (!isLoopback(settings.nodeRed.host) && settings.nodeRed.adminAuth === null)
    throw new ConfigError(
      'nodeRed.adminAuth',
      null,
      `a Node-RED adminAuth object when nodeRed.host is ${JSON.stringify(settings.nodeRed.host)} (not a loopback address); the editor is never exposed without credentials`,
    );
}

/**
 * Builds the effective settings: defaults ← override. Throws ConfigError naming the first bad field.
 */
export function resolveSettings(override: unknown = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  validateAgainst(settingsSchema, override, '');
  const base = defaultsOf(settingsSchema) as Record<string, unknown>;
  base.userDir = defaultUserDir(env);
  const merged = merge(base, override as Record<string, unknown>) as unknown as Settings;
  merged.userDir = path.resolve(merged.userDir);
  checkCrossField(merged);
  return merged;
}

/** Reads a settings JSON file (not yet validated); a missing file or bad JSON is a ConfigError naming the file. */
export function readSettingsFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('--settings', file, 'a readable JSON settings file', { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError('--settings', file, `valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** The JSON Schema document written to settings.schema.json. */
export function settingsJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://hepek.energy/schemas/settings.schema.json',
    title: 'HEPEK settings',
    ...settingsSchema,
  };
}
