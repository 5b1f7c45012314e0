// A message type's conditions are a JSON Schema its processing data must satisfy (claim 1.5, DESIGN.md
// section 6); failing them sends the message to rejected-for-revision with the reasons shown to the
// requester. Ajv is used in strict mode (a misspelt keyword is an error, not a silently ignored rule),
// with allErrors so the requester sees every problem at once, and ajv-formats for "email", "date" etc.
//
// One Ajv instance is shared by all types of one compileConditions call. It is created per call, not
// per module, so nothing happens at import time and a reloaded configuration whose schemas reuse a
// `$id` does not collide with the schemas of the configuration it replaces. load-config.ts uses the
// same helpers, so a schema that passes configuration loading also compiles here.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { MessageType } from '../config/config.schema.ts';

export type ConditionsResult = { ok: true } | { ok: false; errors: string[] };
export type ConditionsCheck = (typeName: string, data: unknown) => ConditionsResult;

/** The Ajv configuration every conditions schema is compiled with. */
export function createConditionsAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats.default(ajv);
  return ajv;
}

/** Short human strings such as `/amount must be <= 1000`; `/` is the data itself. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const where = e.instancePath || '/';
    const extra =
      e.keyword === 'additionalProperties' && typeof e.params['additionalProperty'] === 'string'
        ? ` (${e.params['additionalProperty']})`
        : '';
    return `${where} ${e.message ?? 'is invalid'}${extra}`;
  });
}

/**
 * Compiles every type's conditions once and returns the check the processing step runs. A type
 * without conditions always passes; an unknown type name fails (the caller has a bug or a stale type).
 * Throws if a schema does not compile (loadConfig has already reported that as a config problem).
 */
export function compileConditions(types: Record<string, MessageType>): ConditionsCheck {
  const ajv = createConditionsAjv();
  const validators = new Map<string, ValidateFunction | null>();
  for (const [name, type] of Object.entries(types)) {
    validators.set(name, type.conditions ? ajv.compile(type.conditions) : null);
  }
  return (typeName, data) => {
    const validate = validators.get(typeName);
    if (validate === undefined) return { ok: false, errors: [`unknown message type ${JSON.stringify(typeName)}`] };
    if (validate === null || validate(data)) return { ok: true };
    return { ok: false, errors: describeErrors(validate.errors) };
  };
}
