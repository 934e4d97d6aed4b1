/**
 * Property tests for configuration parsing: any config.toml table and any NORA_* variable values
 * give a config or a ConfigError (never another exception, never a polluted prototype); every key
 * the schema does not read is warned about; numbers, booleans and lists in variables read back
 * as the values they spell.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { envBindings, readEnvOverlay, unwrap } from '../../../src/config/env.ts';
import { ConfigError, parseConfigObject } from '../../../src/config/load.ts';
import { configSchema } from '../../../src/config/schema.ts';

const bindings = envBindings(configSchema);
const SECTIONS = Object.keys((unwrap(configSchema) as z.ZodObject).shape);

/** The schema field at a config path (`['server', 'port']`), unwrapped. */
function fieldAt(path: readonly string[]): z.ZodType | undefined {
  let current: z.ZodType = unwrap(configSchema);
  for (const key of path) {
    if (!(current instanceof z.ZodObject)) return undefined;
    const shape = current.shape as Record<string, z.ZodType>;
    if (!Object.hasOwn(shape, key)) return undefined;
    current = unwrap(shape[key] as z.ZodType);
  }
  return current;
}

const OBJECT_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

function onlyConfigErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `unexpected ${String(err)}`);
  }
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
  for (const key of ['polluted', 'x', 'url', 'port']) {
    assert.equal((Object.prototype as Record<string, unknown>)[key], undefined, key);
  }
}

const envValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    'none',
    'NONE',
    '0',
    '-1',
    '1e3',
    '0x10',
    'Infinity',
    'NaN',
    '9007199254740993',
    'true',
    ' Yes ',
    'off',
    'http://127.0.0.1:1/',
    'u:p',
    'a,b,,c',
    'http://h/|u:p|x,https://k',
    '__proto__',
    '{"polluted":1}',
  ),
);

test('any NORA_* values give a config or a ConfigError', () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...bindings.flatMap((b) => b.names)), envValue, {
        maxKeys: 6,
      }),
      (env) => {
        onlyConfigErrors(() => parseConfigObject({}, { ...env }));
      },
    ),
    { numRuns: 500 },
  );
});

test('any config.toml tables give a config or a ConfigError, and unknown keys are warned', () => {
  const key = fc.oneof(fc.constantFrom(...OBJECT_KEYS), fc.stringMatching(/^[a-z_]{1,8}$/));
  const table = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...SECTIONS, ...OBJECT_KEYS), table, { maxKeys: 3 }),
      (raw) => {
        // As a TOML parser hands it over: `__proto__` an own key, never the prototype.
        const doc = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
        let warnings: string[] | undefined;
        onlyConfigErrors(() => {
          warnings = parseConfigObject(doc).warnings;
        });
        if (warnings === undefined) return;
        for (const [section, value] of Object.entries(doc)) {
          const keys = value !== null && typeof value === 'object' ? Object.keys(value) : [];
          if (fieldAt([section]) === undefined) {
            assert.ok(
              warnings.some((w) => w.startsWith(`unknown config key "${section}"`)),
              `${section}: ${warnings.join('; ')}`,
            );
            continue;
          }
          for (const k of keys) {
            if (fieldAt([section, k]) !== undefined) continue;
            assert.ok(
              warnings.some((w) => w.startsWith(`unknown config key "${section}.${k}"`)),
              `${section}.${k}: ${warnings.join('; ')}`,
            );
          }
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('regression: keys named like Object members are unknown keys, warned', () => {
  // Found by the property above: the schema lookup found Object.prototype's `constructor`
  // and `__proto__`, so `[server] constructor = 1` was silently ignored.
  const raw = JSON.parse(
    '{"server":{"constructor":1,"__proto__":2,"toString":3},"valueOf":{}}',
  ) as Record<string, unknown>;
  const { warnings } = parseConfigObject(raw);
  for (const key of ['server.constructor', 'server.__proto__', 'server.toString', 'valueOf']) {
    assert.ok(
      warnings.some((w) => w.startsWith(`unknown config key "${key}"`)),
      key,
    );
  }
});

test('variables read back as the numbers, booleans and lists they spell', () => {
  type Typed = { b: (typeof bindings)[number]; kind: 'number' | 'boolean' | 'list' };
  const typed = bindings.flatMap((b): Typed[] => {
    const field = fieldAt(b.path);
    if (b.names[0] === undefined) return [];
    if (field instanceof z.ZodNumber) return [{ b, kind: 'number' }];
    if (field instanceof z.ZodBoolean) return [{ b, kind: 'boolean' }];
    if (field instanceof z.ZodArray && unwrap(field.element as z.ZodType) instanceof z.ZodString)
      return [{ b, kind: 'list' }];
    return [];
  });
  assert.ok(typed.length > 5);
  fc.assert(
    fc.property(
      fc.constantFrom(...typed),
      // Numbers as decimal digits spell them: exponent forms (`5e-324`, `1e21`) are refused
      // by design (trial 25 ops F8), so they are not generated here.
      fc
        .oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
        .map((x) => x + 0)
        .filter((x) => !/e/i.test(String(x))),
      fc.boolean(),
      fc.array(fc.stringMatching(/^[a-z0-9:/._-]{1,6}$/), { maxLength: 4 }),
      fc.constantFrom('', ' ', '\t'),
      ({ b, kind }, n, yes, list, pad) => {
        const name = b.names[0] ?? '';
        const text =
          kind === 'number'
            ? `${pad}${String(n)}${pad}`
            : kind === 'boolean'
              ? `${pad}${yes ? 'TRUE' : 'Off'}${pad}`
              : list.join(` ,${pad}`);
        const overlay = readEnvOverlay(configSchema, { [name]: text });
        let value: unknown = overlay.values;
        for (const key of b.path) value = (value as Record<string, unknown> | undefined)?.[key];
        if (kind === 'list' && text === '') return; // an empty variable is unset
        const expected = kind === 'number' ? n : kind === 'boolean' ? yes : list;
        assert.deepEqual(value, expected, `${name}=${JSON.stringify(text)}`);
      },
    ),
    { numRuns: 500 },
  );
});
