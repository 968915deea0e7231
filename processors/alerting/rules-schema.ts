import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Name = Type.String({
  pattern: '^[a-z0-9][a-z0-9._-]*$',
  description: 'Rule name: lower case, digits, dot, dash, underscore.',
});
const Duration = Type.String({ description: 'Duration such as 30s, 5m, 1h30m, 2d.' });
const ClockTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'Wall-clock time HH:MM.' });
const Severity = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')], {
  description: 'info, warning or critical.',
});
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
const Labels = Type.Record(Type.String(), Type.String(), {
  description: 'Static labels added to every alert of the rule.',
});

/** Fields every rule kind accepts. */
const common = {
  name: Name,
  severity: Type.Optional(Severity),
  labels: Type.Optional(Labels),
  summary: Type.Optional(
    Type.String({ description: 'Message template; {{label}}, {{value}}, {{threshold}}, {{unit}} are replaced.' }),
  ),
  for: Type.Optional(
    Type.Union([Duration], { description: 'The condition must hold this long (event time) before the alert fires.' }),
  ),
  repeatInterval: Type.Optional(
    Type.Union([Duration], { description: 'Re-send a FIRING event this often while the alert stays active.' }),
  ),
  resource: Type.Optional(
    Type.String({ description: 'Template for the alert resource; default: the key labels joined by "/".' }),
  ),
};

/** Fields of rules that read one topic's records. */
const recordRule = {
  ...common,
  topic: Type.String({ description: 'Topic whose records the rule reads.' }),
  where: Type.Optional(
    Type.Record(Type.String(), Type.Union([Scalar, Type.Array(Scalar)]), {
      description: 'Only records whose field (dot path) equals the value, or one of the listed values.',
    }),
  ),
  keyBy: Type.Optional(
    Type.Array(Type.String(), {
      description: 'Field paths (or $key for the record key) whose values identify one alert; they become labels.',
    }),
  ),
  unit: Type.Optional(
    Type.String({ description: "Unit for messages; default: the record's `unit` field when it has one." }),
  ),
};

const field = Type.String({ description: 'Dot path of the numeric field to watch, e.g. value, price.' });

export const ThresholdRule = Type.Object(
  {
    ...recordRule,
    kind: Type.Literal('threshold'),
    field,
    above: Type.Optional(Type.Number({ description: 'Fire when the value is above this.' })),
    below: Type.Optional(Type.Number({ description: 'Fire when the value is below this.' })),
  },
  { additionalProperties: false },
);

export const RateOfChangeRule = Type.Object(
  {
    ...recordRule,
    kind: Type.Literal('rate-of-change'),
    field,
    maxChange: Type.Number({
      exclusiveMinimum: 0,
      description: 'Largest allowed change between consecutive values, per `per` when set.',
    }),
    per: Type.Optional(
      Type.Union([Duration], {
        description: 'Normalise the change to this span of event time (e.g. 1h); without it the raw step is compared.',
      }),
    ),
    direction: Type.Optional(
      Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('both')], { default: 'both' }),
    ),
  },
  { additionalProperties: false },
);

export const AnomalyRule = Type.Object(
  {
    ...recordRule,
    kind: Type.Literal('anomaly'),
    field,
    window: Type.Union([Duration], {
      description: 'Rolling window of event time the median and MAD are computed over.',
    }),
    minSamples: Type.Optional(
      Type.Integer({ minimum: 3, default: 10, description: 'Samples needed in the window before scoring.' }),
    ),
    threshold: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, default: 3.5, description: 'Fire when |robust z| exceeds this.' }),
    ),
  },
  { additionalProperties: false },
);

export const AbsenceRule = Type.Object(
  {
    ...recordRule,
    kind: Type.Literal('absence'),
    after: Type.Union([Duration], { description: 'Fire when a key has sent nothing for this long.' }),
    expectedKeys: Type.Optional(
      Type.Array(Type.Record(Type.String(), Type.String()), {
        description:
          'Keys expected from the start, as label maps (matching keyBy), so a key that never reports also alerts.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const PublicationLateRule = Type.Object(
  {
    ...common,
    kind: Type.Literal('publication-late'),
    topic: Type.String({ description: 'Topic the publication arrives on, e.g. market.prices.' }),
    areas: Type.Array(Type.String(), {
      minItems: 1,
      description: 'Areas (bidding zones) whose day-ahead publication is expected; each maps to its market.',
    }),
    deadline: Type.Optional(ClockTime),
    dayOffset: Type.Optional(
      Type.Integer({ description: "Day of the deadline relative to delivery (default: the market's, −1)." }),
    ),
    areaField: Type.Optional(Type.String({ default: 'area' })),
    deliveryField: Type.Optional(Type.String({ default: 'deliveryStart' })),
    where: recordRule.where,
  },
  { additionalProperties: false },
);

export const GateClosureRule = Type.Object(
  {
    ...common,
    kind: Type.Literal('gate-closure'),
    areas: Type.Array(Type.String(), {
      minItems: 1,
      description: 'Areas that must have a bid signal for each delivery day.',
    }),
    lead: Type.Union([Duration], { description: 'Fire this long before gate closure when no bid signal exists yet.' }),
    signalTopic: Type.Optional(Type.String({ default: 'bids.signals' })),
    areaField: Type.Optional(Type.String({ default: 'area' })),
    deliveryField: Type.Optional(Type.String({ default: 'deliveryStart' })),
    where: recordRule.where,
  },
  { additionalProperties: false },
);

export const PriceLimitsRule = Type.Object(
  {
    ...recordRule,
    kind: Type.Literal('price-limits'),
    field: Type.Optional(Type.String({ default: 'price' })),
    negative: Type.Optional(Type.Boolean({ default: true, description: 'Alert on prices below zero.' })),
    capped: Type.Optional(
      Type.Boolean({ default: true, description: 'Alert on prices at the market cap or floor (from the calendar).' }),
    ),
  },
  { additionalProperties: false },
);

export const ForecastBandRule = Type.Object(
  {
    ...common,
    kind: Type.Literal('forecast-band'),
    forecastTopic: Type.Optional(Type.String({ default: 'forecasts.prices' })),
    priceTopic: Type.Optional(Type.String({ default: 'market.prices' })),
    lower: Type.Optional(Type.Number({ default: 0.1, description: 'Lower quantile probability of the band.' })),
    upper: Type.Optional(Type.Number({ default: 0.9, description: 'Upper quantile probability of the band.' })),
    model: Type.Optional(Type.String({ description: 'Only forecasts of this model.' })),
    keyBy: Type.Optional(Type.Array(Type.String(), { default: ['market', 'area'] })),
  },
  { additionalProperties: false },
);

const Limit = Type.Object(
  {
    metric: Type.String({ description: 'Telemetry metric, e.g. state_of_charge, active_power.' }),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    rating: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Fire when |value| exceeds this rating.' })),
    ratings: Type.Optional(
      Type.Record(Type.String(), Type.Number({ exclusiveMinimum: 0 }), {
        description: 'Per-asset ratings by assetId.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DeviceLimitsRule = Type.Object(
  {
    ...recordRule,
    kind: Type.Literal('device-limits'),
    field: Type.Optional(Type.String({ default: 'value' })),
    metricField: Type.Optional(Type.String({ default: 'metric' })),
    soc: Type.Optional(Limit),
    power: Type.Optional(Limit),
  },
  { additionalProperties: false },
);

/** Rule schemas by `kind`: the loader validates each rule against its kind's schema for precise errors. */
export const ruleSchemas = {
  threshold: ThresholdRule,
  'rate-of-change': RateOfChangeRule,
  anomaly: AnomalyRule,
  absence: AbsenceRule,
  'publication-late': PublicationLateRule,
  'gate-closure': GateClosureRule,
  'price-limits': PriceLimitsRule,
  'forecast-band': ForecastBandRule,
  'device-limits': DeviceLimitsRule,
} satisfies Record<string, TSchema>;

export type RuleKind = keyof typeof ruleSchemas;
export type ThresholdRuleSpec = Static<typeof ThresholdRule>;
export type RateOfChangeRuleSpec = Static<typeof RateOfChangeRule>;
export type AnomalyRuleSpec = Static<typeof AnomalyRule>;
export type AbsenceRuleSpec = Static<typeof AbsenceRule>;
export type PublicationLateRuleSpec = Static<typeof PublicationLateRule>;
export type GateClosureRuleSpec = Static<typeof GateClosureRule>;
export type PriceLimitsRuleSpec = Static<typeof PriceLimitsRule>;
export type ForecastBandRuleSpec = Static<typeof ForecastBandRule>;
export type DeviceLimitsRuleSpec = Static<typeof DeviceLimitsRule>;
export type RuleSpec =
  | ThresholdRuleSpec
  | RateOfChangeRuleSpec
  | AnomalyRuleSpec
  | AbsenceRuleSpec
  | PublicationLateRuleSpec
  | GateClosureRuleSpec
  | PriceLimitsRuleSpec
  | ForecastBandRuleSpec
  | DeviceLimitsRuleSpec;

const Matchers = Type.Record(Type.String(), Type.String(), { description: 'Label equality matchers.' });
const MatchersRe = Type.Record(Type.String(), Type.String(), { description: 'Label regex matchers (anchored).' });

export interface RouteSpec {
  receiver?: string;
  match?: Record<string, string>;
  matchRe?: Record<string, string>;
  groupBy?: string[];
  continue?: boolean;
  routes?: RouteSpec[];
}

export const Route = Type.Recursive(
  (Self) =>
    Type.Object(
      {
        receiver: Type.Optional(
          Type.String({ description: 'Receiver name (from `receivers`); inherited from the parent when absent.' }),
        ),
        match: Type.Optional(Matchers),
        matchRe: Type.Optional(MatchersRe),
        groupBy: Type.Optional(
          Type.Array(Type.String(), { description: 'Labels whose values group alerts into one notification group.' }),
        ),
        continue: Type.Optional(
          Type.Boolean({ description: 'Keep matching later sibling routes after this one matched.' }),
        ),
        routes: Type.Optional(Type.Array(Self)),
      },
      { additionalProperties: false },
    ),
  { $id: 'Route' },
);

export const channelKinds = ['webhook', 'slack', 'email', 'mqtt-publish', 'kafka-alerts'] as const;

export const Receiver = Type.Object(
  {
    name: Type.String({ description: 'Receiver name routes refer to.' }),
    channel: Type.Union(
      channelKinds.map((c) => Type.Literal(c)),
      { description: 'Delivery channel (connectors/alerts): webhook, slack, email, mqtt-publish, kafka-alerts.' },
    ),
    target: Type.Optional(
      Type.String({ description: 'Name of the configured channel instance, when several of one kind exist.' }),
    ),
  },
  { additionalProperties: false },
);

export const Silence = Type.Object(
  {
    id: Type.Optional(Type.String()),
    matchers: Type.Optional(Matchers),
    matchersRe: Type.Optional(MatchersRe),
    startsAt: Type.String({ description: 'ISO 8601 instant.' }),
    endsAt: Type.String({ description: 'ISO 8601 instant; the silence expires then.' }),
    createdBy: Type.Optional(Type.String()),
    comment: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const MaintenanceWindow = Type.Object(
  {
    name: Type.String(),
    matchers: Type.Optional(Matchers),
    matchersRe: Type.Optional(MatchersRe),
    timeZone: Type.String({ description: "IANA zone the window's wall times are in." }),
    days: Type.Optional(
      Type.Array(Type.Union(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => Type.Literal(d))), {
        description: 'Weekdays the window recurs on (default: every day).',
      }),
    ),
    start: ClockTime,
    end: ClockTime,
    expiresAt: Type.Optional(
      Type.String({ description: 'ISO 8601 instant after which the window no longer applies.' }),
    ),
  },
  { additionalProperties: false },
);

const MarketOverride = Type.Object(
  {
    timeZone: Type.Optional(Type.String()),
    gateClosure: Type.Optional(ClockTime),
    biddingOpens: Type.Optional(ClockTime),
    publicationDeadline: Type.Optional(ClockTime),
    dayOffset: Type.Optional(Type.Integer()),
    priceCap: Type.Optional(Type.Number()),
    priceFloor: Type.Optional(Type.Number()),
    currency: Type.Optional(Type.String()),
    areas: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

/** The top level of a rules file (rules are validated per kind, so they are `unknown` here). */
export const RulesFileShape = Type.Object(
  {
    defaults: Type.Optional(
      Type.Object(
        {
          severity: Type.Optional(Severity),
          repeatInterval: Type.Optional(Duration),
          for: Type.Optional(Duration),
          labels: Type.Optional(Labels),
        },
        { additionalProperties: false },
      ),
    ),
    markets: Type.Optional(Type.Record(Type.String(), MarketOverride)),
    rules: Type.Array(Type.Unknown(), { description: 'Alert rules; see the rule kinds.' }),
    receivers: Type.Optional(Type.Array(Receiver)),
    route: Type.Optional(Route),
    silences: Type.Optional(Type.Array(Silence)),
    maintenance: Type.Optional(Type.Array(MaintenanceWindow)),
  },
  { additionalProperties: false },
);

export type SeverityName = Static<typeof Severity>;
export type ReceiverSpec = Static<typeof Receiver>;
export type SilenceSpec = Static<typeof Silence>;
export type MaintenanceWindowSpec = Static<typeof MaintenanceWindow>;
export type MarketOverrideSpec = Static<typeof MarketOverride>;

/** A validated rules file. */
export interface RulesFile {
  defaults: { severity?: SeverityName; repeatInterval?: string; for?: string; labels?: Record<string, string> };
  markets: Record<string, MarketOverrideSpec>;
  rules: RuleSpec[];
  receivers: ReceiverSpec[];
  route?: RouteSpec;
  silences: SilenceSpec[];
  maintenance: MaintenanceWindowSpec[];
}
