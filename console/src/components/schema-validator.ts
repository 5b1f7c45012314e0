// Checks form data against a JSON Schema for @rjsf, by walking the schema: no generated code.
//
// Why not @rjsf/validator-ajv8: ajv compiles each schema into a function with `new Function`,
// which the hub's Content-Security-Policy (script-src 'self', no 'unsafe-eval') forbids, so the
// submit form would fail in the served console. The hub validates every payload with ajv on
// submit anyway (actors/submission.ts); this check gives people the errors before they send, and
// lets rjsf pick oneOf/anyOf options. It knows the common keywords (types, enum/const, numbers,
// strings, formats, arrays, objects, $ref, allOf/anyOf/oneOf/not, if/then/else); a keyword it
// does not know passes, and the hub's answer says what is wrong.
import {
  createErrorHandler, getDefaultFormState, toErrorSchema, unwrapErrorHandler, validationDataMerge,
  type CustomValidator, type ErrorTransformer, type RJSFSchema, type RJSFValidationError, type UiSchema,
  type ValidationData, type ValidatorType,
} from '@rjsf/utils';

type Json = unknown;
type Schema = boolean | Record<string, unknown>;

interface RawError {
  path: string[];
  keyword: string;
  message: string;
  schemaPath: string;
  params: Record<string, unknown>;
}

const MAX_DEPTH = 64;

const FORMATS: Record<string, RegExp> = {
  email: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
  date: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
  time: /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/i,
  'date-time': /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i,
  uri: /^[a-z][a-z0-9+.-]*:[^\s]*$/i,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  ipv4: /^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$/,
};

/** Every way `data` fails `schema` (resolving $ref against `root`). */
export function schemaErrors(schema: Schema, data: Json, root: Schema = schema): RawError[] {
  const out: RawError[] = [];
  check(schema, data, root, [], '#', out, 0);
  return out;
}

function check(schema: Schema, data: Json, root: Schema, path: string[], at: string, out: RawError[], depth: number): void {
  if (schema === true || depth > MAX_DEPTH) return;
  const fail = (keyword: string, message: string, params: Record<string, unknown> = {}, where = path): void => {
    out.push({ path: where, keyword, message, schemaPath: `${at}/${keyword}`, params });
  };
  if (schema === false) return fail('false schema', 'must not be present');
  const s = schema;

  if (typeof s['$ref'] === 'string') {
    const target = resolveRef(s['$ref'], root);
    if (target !== undefined) check(target, data, root, path, `${at}/$ref`, out, depth + 1);
  }
  if (s['type'] !== undefined) {
    const types = ([] as unknown[]).concat(s['type']).filter((x): x is string => typeof x === 'string');
    if (types.length && !types.some((t) => hasType(data, t))) return fail('type', `must be ${types.join(',')}`, { type: types.join(',') });
  }
  if (Array.isArray(s['enum']) && !s['enum'].some((v) => deepEqual(v, data))) {
    fail('enum', 'must be equal to one of the allowed values', { allowedValues: s['enum'] });
  }
  if ('const' in s && !deepEqual(s['const'], data)) fail('const', 'must be equal to constant', { allowedValue: s['const'] });

  if (typeof data === 'number') checkNumber(s, data, fail);
  if (typeof data === 'string') checkString(s, data, fail);
  if (Array.isArray(data)) checkArray(s, data, root, path, at, out, depth, fail);
  else if (isObject(data)) checkObject(s, data, root, path, at, out, depth, fail);

  for (const [i, sub] of list(s['allOf']).entries()) check(sub, data, root, path, `${at}/allOf/${i}`, out, depth + 1);
  const anyOf = list(s['anyOf']);
  if (anyOf.length && !anyOf.some((sub) => valid(sub, data, root, depth))) fail('anyOf', 'must match a schema in anyOf');
  const oneOf = list(s['oneOf']);
  if (oneOf.length) {
    const passing = oneOf.filter((sub) => valid(sub, data, root, depth)).length;
    if (passing !== 1) fail('oneOf', 'must match exactly one schema in oneOf', { passingSchemas: passing });
  }
  if (s['not'] !== undefined && valid(s['not'] as Schema, data, root, depth)) fail('not', 'must NOT be valid');
  if (s['if'] !== undefined) {
    const branch = valid(s['if'] as Schema, data, root, depth) ? 'then' : 'else';
    if (s[branch] !== undefined) check(s[branch] as Schema, data, root, path, `${at}/${branch}`, out, depth + 1);
  }
}

type Fail = (keyword: string, message: string, params?: Record<string, unknown>, where?: string[]) => void;

function checkNumber(s: Record<string, unknown>, n: number, fail: Fail): void {
  const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const [min, max, xmin, xmax, step] = [num('minimum'), num('maximum'), num('exclusiveMinimum'), num('exclusiveMaximum'), num('multipleOf')];
  if (min !== undefined && n < min) fail('minimum', `must be >= ${min}`, { limit: min });
  if (max !== undefined && n > max) fail('maximum', `must be <= ${max}`, { limit: max });
  if (xmin !== undefined && n <= xmin) fail('exclusiveMinimum', `must be > ${xmin}`, { limit: xmin });
  if (xmax !== undefined && n >= xmax) fail('exclusiveMaximum', `must be < ${xmax}`, { limit: xmax });
  if (step !== undefined && step > 0 && Math.abs(n / step - Math.round(n / step)) > 1e-9) fail('multipleOf', `must be multiple of ${step}`, { multipleOf: step });
}

function checkString(s: Record<string, unknown>, text: string, fail: Fail): void {
  const length = [...text].length;
  if (typeof s['minLength'] === 'number' && length < s['minLength']) fail('minLength', `must NOT have fewer than ${s['minLength']} characters`, { limit: s['minLength'] });
  if (typeof s['maxLength'] === 'number' && length > s['maxLength']) fail('maxLength', `must NOT have more than ${s['maxLength']} characters`, { limit: s['maxLength'] });
  if (typeof s['pattern'] === 'string') {
    const re = regex(s['pattern']);
    if (re && !re.test(text)) fail('pattern', `must match pattern "${s['pattern']}"`, { pattern: s['pattern'] });
  }
  if (typeof s['format'] === 'string') {
    const format = FORMATS[s['format']];
    if (format && !format.test(text)) fail('format', `must match format "${s['format']}"`, { format: s['format'] });
  }
}

function checkArray(s: Record<string, unknown>, items: Json[], root: Schema, path: string[], at: string, out: RawError[], depth: number, fail: Fail): void {
  if (typeof s['minItems'] === 'number' && items.length < s['minItems']) fail('minItems', `must NOT have fewer than ${s['minItems']} items`, { limit: s['minItems'] });
  if (typeof s['maxItems'] === 'number' && items.length > s['maxItems']) fail('maxItems', `must NOT have more than ${s['maxItems']} items`, { limit: s['maxItems'] });
  if (s['uniqueItems'] === true) {
    const seen = items.findIndex((v, i) => items.findIndex((w) => deepEqual(v, w)) !== i);
    if (seen >= 0) fail('uniqueItems', 'must NOT have duplicate items', {});
  }
  // Draft 2020 (prefixItems + items) and draft 7 (items as a list + additionalItems).
  const tuple = Array.isArray(s['prefixItems']) ? list(s['prefixItems']) : Array.isArray(s['items']) ? list(s['items']) : [];
  const rest = Array.isArray(s['items']) ? (s['additionalItems'] as Schema | undefined) : (s['items'] as Schema | undefined);
  items.forEach((item, i) => {
    const sub = i < tuple.length ? tuple[i] : rest;
    if (sub !== undefined) check(sub, item, root, [...path, String(i)], `${at}/items`, out, depth + 1);
  });
}

function checkObject(s: Record<string, unknown>, obj: Record<string, Json>, root: Schema, path: string[], at: string, out: RawError[], depth: number, fail: Fail): void {
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  const required = Array.isArray(s['required']) ? s['required'].filter((r): r is string => typeof r === 'string') : [];
  for (const name of required) {
    if (obj[name] === undefined) fail('required', `must have required property '${name}'`, { missingProperty: name });
  }
  if (typeof s['minProperties'] === 'number' && keys.length < s['minProperties']) fail('minProperties', `must NOT have fewer than ${s['minProperties']} properties`);
  if (typeof s['maxProperties'] === 'number' && keys.length > s['maxProperties']) fail('maxProperties', `must NOT have more than ${s['maxProperties']} properties`);
  const properties = isObject(s['properties']) ? (s['properties'] as Record<string, Schema>) : {};
  const patterns = isObject(s['patternProperties']) ? Object.entries(s['patternProperties'] as Record<string, Schema>) : [];
  const dependent = { ...(isObject(s['dependencies']) ? s['dependencies'] : {}), ...(isObject(s['dependentRequired']) ? s['dependentRequired'] : {}) } as Record<string, unknown>;
  for (const key of keys) {
    const value = obj[key];
    let matched = false;
    if (Object.hasOwn(properties, key)) {
      matched = true;
      check(properties[key]!, value, root, [...path, key], `${at}/properties/${key}`, out, depth + 1);
    }
    for (const [pattern, sub] of patterns) {
      if (regex(pattern)?.test(key)) {
        matched = true;
        check(sub, value, root, [...path, key], `${at}/patternProperties`, out, depth + 1);
      }
    }
    const extra = s['additionalProperties'];
    if (!matched && extra !== undefined) {
      if (extra === false) fail('additionalProperties', 'must NOT have additional properties', { additionalProperty: key });
      else check(extra as Schema, value, root, [...path, key], `${at}/additionalProperties`, out, depth + 1);
    }
    const needs = dependent[key];
    if (Array.isArray(needs)) {
      const missing = needs.filter((n): n is string => typeof n === 'string' && obj[n] === undefined);
      if (missing.length) fail('dependencies', `must have properties ${missing.join(', ')} when property ${key} is present`, { deps: missing.join(', '), property: key });
    } else if (needs !== undefined && typeof needs !== 'string') {
      check(needs as Schema, obj, root, path, `${at}/dependencies/${key}`, out, depth + 1);
    }
  }
}

function valid(schema: Schema, data: Json, root: Schema, depth: number): boolean {
  const out: RawError[] = [];
  check(schema, data, root, [], '#', out, depth + 1);
  return out.length === 0;
}

function hasType(data: Json, type: string): boolean {
  switch (type) {
    case 'string': return typeof data === 'string';
    case 'number': return typeof data === 'number' && Number.isFinite(data);
    case 'integer': return typeof data === 'number' && Number.isInteger(data);
    case 'boolean': return typeof data === 'boolean';
    case 'null': return data === null;
    case 'array': return Array.isArray(data);
    case 'object': return isObject(data);
    default: return true;
  }
}

/** `#/definitions/x`, `#/$defs/x`, or rjsf's `__rjsf_rootSchema#/...`: a pointer into the root schema. */
function resolveRef(ref: string, root: Schema): Schema | undefined {
  const hash = ref.indexOf('#');
  if (hash < 0) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(hash + 1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;
  }
  return typeof node === 'boolean' || isObject(node) ? (node as Schema) : undefined;
}

const regexCache = new Map<string, RegExp | null>();
function regex(pattern: string): RegExp | null {
  if (!regexCache.has(pattern)) {
    try {
      regexCache.set(pattern, new RegExp(pattern, 'u'));
    } catch {
      regexCache.set(pattern, null); // a pattern the browser cannot read: the hub checks it
    }
  }
  return regexCache.get(pattern)!;
}

function list(v: unknown): Schema[] {
  return Array.isArray(v) ? (v.filter((x) => typeof x === 'boolean' || isObject(x)) as Schema[]) : [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** The errors as rjsf shows them: `property` is the field's path (".a.0.b"), a missing one's included. */
function toRjsfErrors(raw: RawError[]): RJSFValidationError[] {
  return raw.map((e) => {
    const where = typeof e.params['missingProperty'] === 'string' ? [...e.path, e.params['missingProperty']] : e.path;
    const property = where.length ? `.${where.join('.')}` : '.';
    return { name: e.keyword, property, message: e.message, params: e.params, stack: `${property === '.' ? '' : property} ${e.message}`.trim(), schemaPath: e.schemaPath };
  });
}

export const schemaValidator: ValidatorType = {
  validateFormData(formData: unknown, schema: RJSFSchema, customValidate?: CustomValidator, transformErrors?: ErrorTransformer, uiSchema?: UiSchema): ValidationData<unknown> {
    let errors = toRjsfErrors(schemaErrors(schema as Schema, formData));
    if (typeof transformErrors === 'function') errors = transformErrors(errors, uiSchema);
    const errorSchema = toErrorSchema(errors);
    if (typeof customValidate !== 'function') return { errors, errorSchema };
    const full = getDefaultFormState(schemaValidator, schema, formData, schema, true);
    const handler = customValidate(full, createErrorHandler(full), uiSchema, errorSchema);
    return validationDataMerge({ errors, errorSchema }, unwrapErrorHandler(handler));
  },
  isValid(schema: RJSFSchema, formData: unknown, rootSchema: RJSFSchema): boolean {
    return schemaErrors(schema as Schema, formData, rootSchema as Schema).length === 0;
  },
  rawValidation<Result = unknown>(schema: RJSFSchema, formData?: unknown): { errors?: Result[]; validationError?: Error } {
    const errors = schemaErrors(schema as Schema, formData);
    return errors.length ? { errors: errors as Result[] } : {};
  },
};
