import { spec } from './generated/spec';
import { ACTIONS } from './policy';
import { DECISION_STATUSES, REASON_CODES, RISK_LEVELS, SOURCE_STATUSES } from './gate';
import { SEVERITIES, SIGNAL_STATUSES } from './signal';
import { EXCEPTION_MAX_LEVELS, EXCEPTION_STATUSES } from './exception';

type Schema = { enum?: readonly string[]; properties?: Record<string, Schema>; $ref?: string };
const schemas = spec.components.schemas as unknown as Record<string, Schema>;
const enumOf = (schema: Schema | undefined): string[] => {
  const resolved = schema?.$ref ? schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;
  return [...(resolved?.enum ?? [])].sort();
};

/** The status lists live once, here in -common; openapi.yaml must say the same. */
describe('status and level lists agree with openapi.yaml', () => {
  it.each([
    ['Decision', ACTIONS, schemas.Decision],
    ['GateDecision.status', DECISION_STATUSES, schemas.GateDecision.properties?.status],
    ['RiskLevel', RISK_LEVELS, schemas.GateDecision.properties?.riskLevel],
    ['Exception.status', EXCEPTION_STATUSES, schemas.Exception.properties?.status],
    ['ExceptionRequest.maxLevel', EXCEPTION_MAX_LEVELS, schemas.ExceptionRequest.properties?.maxLevel],
    ['SourceHealth.status', SOURCE_STATUSES, schemas.SourceHealth.properties?.status],
    ['Signal.status', SIGNAL_STATUSES, schemas.Signal?.properties?.status],
    ['Signal.severity', SEVERITIES, schemas.Signal?.properties?.severity],
    ['Reason.code', REASON_CODES, schemas.Reason?.properties?.code],
  ] as const)('%s', (_name, list, schema) => {
    expect(enumOf(schema as Schema | undefined)).toEqual([...list].sort());
  });
});
