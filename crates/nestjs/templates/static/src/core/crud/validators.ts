import { ValidationOptions, registerDecorator, type ValidationArguments } from 'class-validator';

/**
 * Validators for values JSON cannot carry exactly: bigint and numeric travel as strings (a
 * number is accepted and turned into its string first), times as HH:MM[:SS], JSON values as-is.
 */
function make(name: string, check: (v: unknown) => boolean, message: (a: ValidationArguments) => string, options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({ name, target: target.constructor, propertyName, options, validator: { validate: check, defaultMessage: message } });
}

const INT = /^-?\d{1,19}$/;

export function IsBigIntString(options?: ValidationOptions) {
  return make(
    'isBigIntString',
    (v) => typeof v === 'string' && INT.test(v) && BigInt(v) <= 9223372036854775807n && BigInt(v) >= -9223372036854775808n,
    (a) => `${a.property} must be an integer in a string (64-bit)`,
    options,
  );
}

/** numeric(precision, scale): at most precision-scale digits before the point and scale after. */
export function IsDecimalString(precision?: number, scale?: number, options?: ValidationOptions) {
  const re = /^-?(\d+)(?:\.(\d+))?$/;
  return make(
    'isDecimalString',
    (v) => {
      if (typeof v !== 'string') return false;
      const m = re.exec(v);
      if (!m) return false;
      if (precision === undefined) return true;
      const intDigits = m[1].replace(/^0+(?=\d)/, '').length;
      const fracDigits = m[2]?.length ?? 0;
      return intDigits <= precision - (scale ?? 0) && fracDigits <= (scale ?? 0);
    },
    (a) =>
      precision === undefined
        ? `${a.property} must be a decimal number in a string`
        : `${a.property} must be a decimal number in a string with at most ${precision - (scale ?? 0)} digits before the point and ${scale ?? 0} after`,
    options,
  );
}

export function IsTimeString(withZone: boolean, options?: ValidationOptions) {
  const re = withZone
    ? /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$/
    : /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$/;
  return make(
    'isTimeString',
    (v) => typeof v === 'string' && re.test(v),
    (a) => `${a.property} must be a time (HH:MM[:SS[.ffffff]]${withZone ? ' with a zone' : ''})`,
    options,
  );
}

export function IsDateOnly(options?: ValidationOptions) {
  return make(
    'isDateOnly',
    (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)),
    (a) => `${a.property} must be a date (YYYY-MM-DD)`,
    options,
  );
}

/** Any JSON value (object, array, string, number, boolean) but not undefined. */
export function IsJsonValue(options?: ValidationOptions) {
  return make(
    'isJsonValue',
    (v) => v !== undefined,
    (a) => `${a.property} must be a JSON value`,
    options,
  );
}

/**
 * Numbers become strings before validation, for bigint and numeric fields. An integer beyond
 * 2^53 has already lost digits in JSON.parse, so it stays a number and fails validation: send
 * such values as strings.
 */
export function numberToString({ value }: { value: unknown }): unknown {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value;
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return value;
  return String(value);
}
