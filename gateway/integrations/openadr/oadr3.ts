/**
 * The subset of the OpenADR 3.0.1 object model (openadr3.yaml, components/schemas) the VEN reads
 * and writes. Only fields HEPEK uses are typed; VTNs may send more and they are ignored.
 */

/** `{type, values}` — targets, payloads and attributes all use this shape. */
export interface ValuesMap {
  type: string;
  values: unknown[];
}

/** ISO 8601 start (`dateTime`) and duration (`duration`, e.g. PT1H); PT0S = instantaneous or open-ended. */
export interface IntervalPeriod {
  start: string;
  duration?: string;
  randomizeStart?: string;
}

export interface Interval {
  id: number;
  intervalPeriod?: IntervalPeriod;
  payloads: ValuesMap[];
}

export interface EventPayloadDescriptor {
  objectType?: 'EVENT_PAYLOAD_DESCRIPTOR';
  payloadType: string;
  units?: string;
  currency?: string;
}

export interface Program {
  id: string;
  programName: string;
  country?: string | null;
  principalSubdivision?: string | null;
  targets?: ValuesMap[] | null;
}

export interface OadrEvent {
  id: string;
  programID: string;
  eventName?: string | null;
  modificationDateTime?: string;
  priority?: number | null;
  targets?: ValuesMap[] | null;
  payloadDescriptors?: EventPayloadDescriptor[] | null;
  intervalPeriod?: IntervalPeriod;
  intervals: Interval[];
}

export interface ReportPayloadDescriptor {
  objectType: 'REPORT_PAYLOAD_DESCRIPTOR';
  payloadType: string;
  readingType?: string;
  units?: string;
}

export interface Report {
  objectType?: 'REPORT';
  programID: string;
  eventID: string;
  clientName: string;
  reportName?: string | null;
  payloadDescriptors?: ReportPayloadDescriptor[] | null;
  resources: Array<{ resourceName: string; intervalPeriod?: IntervalPeriod; intervals: Interval[] }>;
}

/**
 * OpenADR 3 has no opt object (2.0b's oadrCreatedEvent/optType); a VEN says whether it follows an
 * event with the OPERATING_STATE report payload: *_CURTAILED while following it, *_OPTED_OUT when
 * it does not (Definition, "Operating State Enumerations", from CTA-2045).
 */
export const OPERATING_STATE = {
  optIn: 'RUNNING_CURTAILED',
  optOut: 'RUNNING_OPTED_OUT',
} as const;

/** Target types that name a place, in the order the VEN prefers them for DemandEvent.region. */
export const REGION_TARGET_TYPES = ['SERVICE_AREA', 'POWER_SERVICE_LOCATION', 'GROUP'] as const;
