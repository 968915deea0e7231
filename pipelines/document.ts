import { Type, type Static } from '@sinclair/typebox';

/** One topic name or several. */
export const TopicNames = Type.Union(
  [Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })],
  {
    description: 'a topic name or a list of them',
  },
);

const componentFields = {
  name: Type.String({
    pattern: '^[a-z][a-z0-9-]*$',
    description: 'unique name of this component in the pipeline (kebab-case)',
  }),
  use: Type.String({ description: 'the registered component to run, e.g. rollup' }),
  description: Type.Optional(Type.String()),
  config: Type.Optional(Type.Unknown({ description: "the component's config, checked against its schema" })),
};

export const SourceEntry = Type.Object(
  { ...componentFields, outputs: Type.Optional(TopicNames) },
  {
    additionalProperties: false,
    description: 'a source: writes to `outputs` (default: the topics its definition names)',
  },
);
export const ProcessorEntry = Type.Object(
  { ...componentFields, inputs: TopicNames, outputs: Type.Optional(TopicNames) },
  {
    additionalProperties: false,
    description: 'a processor: reads `inputs`, writes `outputs` (the first is its default output)',
  },
);
export const SinkEntry = Type.Object(
  { ...componentFields, inputs: TopicNames },
  { additionalProperties: false, description: 'a sink: reads `inputs`' },
);

export const TopicEntry = Type.Object(
  {
    schema: Type.Optional(
      Type.String({
        description: 'Avro value schema, relative to the pipeline file (default: schemas/avro/<topic>-value.avsc)',
      }),
    ),
    partitions: Type.Optional(
      Type.Integer({ minimum: 1, description: 'partitions when the runtime creates it (default 1)' }),
    ),
  },
  { additionalProperties: false },
);

/** A point in time: ms since the epoch or an ISO-8601 date. */
const time = (description: string) => Type.Union([Type.Integer(), Type.String()], { description });

export const TestRecord = Type.Object(
  {
    key: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    value: Type.Optional(
      Type.Unknown({
        description: 'the record value; in `expect`, leave it out to check only key, timestamp and headers',
      }),
    ),
    timestamp: Type.Optional(
      Type.Union([Type.Integer(), Type.String()], {
        description: 'event time: ms since the epoch or an ISO-8601 date',
      }),
    ),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    at: Type.Optional(
      time(
        'input only: processing time (virtual clock) at which the record arrives; records arrive in `at` order and the processors run until idle before the clock moves on',
      ),
    ),
    fields: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description:
          'expect only, instead of `value`: dotted field paths of the value and what each must equal (the other fields are not compared)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const TestClock = Type.Object(
  {
    start: Type.Optional(time('virtual processing time when the case starts (default 0, i.e. 1970-01-01T00:00:00Z)')),
    end: Type.Optional(
      time('after the last input, the clock moves here and processor timers run before the case ends'),
    ),
  },
  { additionalProperties: false, description: 'the virtual clock (processing time) of a test case' },
);

export const TestCase = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    clock: Type.Optional(TestClock),
    input: Type.Record(Type.String(), Type.Array(TestRecord), {
      description: 'records per topic, fed to the processors',
    }),
    expect: Type.Record(Type.String(), Type.Array(TestRecord), {
      description: 'every record expected per topic, in order (numbers compared to 1e-9)',
    }),
  },
  { additionalProperties: false },
);

export const Duration = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+(ms|s|m|h|d)$' })]);

export const Settings = Type.Object(
  {
    maxOutOfOrderness: Type.Optional(Duration),
    batchSize: Type.Optional(Type.Integer({ minimum: 1 })),
    maxInFlight: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

/** The shape of a pipeline YAML file. */
export const PipelineDocument = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z][a-z0-9.-]*$',
      description: 'pipeline name: consumer groups, changelogs and dlq.<name> derive from it',
    }),
    description: Type.Optional(Type.String()),
    settings: Type.Optional(Settings),
    topics: Type.Optional(Type.Record(Type.String(), TopicEntry)),
    sources: Type.Optional(Type.Array(SourceEntry)),
    processors: Type.Optional(Type.Array(ProcessorEntry)),
    sinks: Type.Optional(Type.Array(SinkEntry)),
    tests: Type.Optional(Type.Array(TestCase)),
  },
  { additionalProperties: false },
);
export type PipelineDocument = Static<typeof PipelineDocument>;
export type TestCase = Static<typeof TestCase>;
export type TestRecord = Static<typeof TestRecord>;
