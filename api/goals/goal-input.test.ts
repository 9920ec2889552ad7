import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientError } from '../../shared/errors/errors.js';
import { compileGoal } from '../../shared/matching/goal-matcher.js';
import { checkRegex } from '../../shared/matching/regex.js';
import {
  definitionChanged,
  firstFreeName,
  resolveRybbitGoal,
  resolveSparklyticsGoal,
  rybbitDefaultName,
  type GoalFields,
} from './goal-input.js';

const fieldOf = (fn: () => unknown): string | null => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ClientError) return err.field;
    throw err;
  }
  throw new Error('expected a ClientError');
};

const base: GoalFields = resolveSparklyticsGoal(null, {
  name: 'Pro',
  goal_type: 'event',
  match_value: 'signup',
  value_mode: 'fixed',
  fixed_value: 99,
});

describe('resolveSparklyticsGoal', () => {
  it('applies defaults and normalizes', () => {
    const g = resolveSparklyticsGoal(null, {
      name: '  Thanks ',
      goal_type: 'page_view',
      match_value: '/thanks',
      currency: 'eur',
    });
    expect(g).toEqual({
      name: 'Thanks',
      description: null,
      goal_type: 'pageview',
      match_operator: 'equals',
      match_value: '/thanks',
      case_sensitive: true,
      property_filters: [],
      hostname: null,
      pattern_checked: true,
      value_mode: 'none',
      fixed_value: null,
      value_property_key: null,
      currency: 'EUR',
    });
  });

  it('merges a partial update and validates the result', () => {
    expect(resolveSparklyticsGoal(base, { value_mode: 'fixed' }).fixed_value).toBe('99');
    expect(resolveSparklyticsGoal(base, { value_mode: 'none' })).toMatchObject({
      fixed_value: null,
      value_property_key: null,
    });
    expect(
      resolveSparklyticsGoal(base, { value_mode: 'event_property', value_property_key: 'amount' }),
    ).toMatchObject({ fixed_value: null, value_property_key: 'amount' });
    expect(fieldOf(() => resolveSparklyticsGoal(base, { value_mode: 'event_property' }))).toBe(
      'value_property_key',
    );
    expect(fieldOf(() => resolveSparklyticsGoal(base, { value_property_key: 'k' }))).toBe(
      'value_property_key',
    );
    expect(fieldOf(() => resolveSparklyticsGoal(base, { fixed_value: null }))).toBe('fixed_value');
    expect(fieldOf(() => resolveSparklyticsGoal(base, { goal_type: 'pageview' }))).toBe(
      'goal_type',
    );
    expect(resolveSparklyticsGoal(base, { goal_type: 'event' }).goal_type).toBe('event');
  });

  it('counts code points for lengths', () => {
    expect(resolveSparklyticsGoal(base, { name: '𝒳'.repeat(100) }).name).toHaveLength(200);
    expect(fieldOf(() => resolveSparklyticsGoal(base, { name: '𝒳'.repeat(101) }))).toBe('name');
  });

  it('refuses regexes the engine cannot run, on the merged definition', () => {
    const rx = resolveSparklyticsGoal(base, { match_operator: 'regex', match_value: '^sign' });
    expect(rx.match_operator).toBe('regex');
    expect(fieldOf(() => resolveSparklyticsGoal(rx, { match_value: '(a{200}){2}' }))).toBe(
      'match_value',
    );
  });
});

describe('resolveRybbitGoal', () => {
  it('maps path and event configs onto the one goal model', () => {
    expect(
      resolveRybbitGoal(null, { goalType: 'path', config: { pathPattern: '/blog/**' } }),
    ).toMatchObject({ name: null, goal_type: 'pageview', match_operator: 'glob' });
    expect(
      resolveRybbitGoal(null, {
        name: 'Buy',
        goalType: 'event',
        config: { eventName: 'buy', eventPropertyKey: 'n', eventPropertyValue: 2 },
      }),
    ).toMatchObject({
      name: 'Buy',
      property_filters: [{ key: 'n', operator: 'equals', value: 2 }],
    });
  });

  it('keeps value settings and the name on replace', () => {
    const next = resolveRybbitGoal(base, { goalType: 'event', config: { eventName: 'x' } });
    expect(next).toMatchObject({ name: 'Pro', value_mode: 'fixed', fixed_value: '99' });
    expect(
      fieldOf(() => resolveRybbitGoal(base, { goalType: 'path', config: { pathPattern: '/' } })),
    ).toBe('goalType');
  });
});

describe('naming and versioning', () => {
  it('picks the first free default name, ignoring case', () => {
    expect(firstFreeName('event: buy', new Set())).toBe('event: buy');
    expect(firstFreeName('event: Buy', new Set(['event: buy', 'event: buy (2)']))).toBe(
      'event: Buy (3)',
    );
    expect([...rybbitDefaultName('path', 'x'.repeat(600))]).toHaveLength(94);
  });

  it('bumps the definition for matching and value changes, not for a rename', () => {
    expect(definitionChanged(base, { ...base, name: 'Other' })).toBe(false);
    expect(definitionChanged(base, { ...base, fixed_value: '99.0' })).toBe(false);
    expect(definitionChanged(base, { ...base, fixed_value: '100' })).toBe(true);
    expect(definitionChanged(base, { ...base, case_sensitive: false })).toBe(true);
    expect(
      definitionChanged(
        { ...base, property_filters: [{ key: 'a', operator: 'equals', value: 1 }] },
        { ...base, property_filters: [{ value: 1, operator: 'equals', key: 'a' } as never] },
      ),
    ).toBe(false);
  });
});

describe('property: goal input either resolves to a runnable goal or is a 4xx naming a field', () => {
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.constantFrom(
      '(',
      '.*.*.*=',
      '(a|a)*',
      '\\u0041',
      '\\p{L}',
      '(?<n>a)',
      'a{300}',
      '/**/x',
      '[^]',
    ),
  );
  const inputArb = fc.record(
    {
      name: text,
      goal_type: fc.constantFrom('event', 'pageview', 'page_view') as fc.Arbitrary<'event'>,
      match_value: text,
      match_operator: fc.constantFrom(
        'equals',
        'contains',
        'glob',
        'regex',
      ) as fc.Arbitrary<'regex'>,
      case_sensitive: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  it('Sparklytics create and update', () => {
    fc.assert(
      fc.property(inputArb, inputArb, (create, update) => {
        let g: GoalFields;
        try {
          g = resolveSparklyticsGoal(null, create);
          g = resolveSparklyticsGoal(g, update);
        } catch (err) {
          expect(err).toBeInstanceOf(ClientError);
          expect((err as ClientError).field).toEqual(expect.any(String));
          return;
        }
        if (g.match_operator === 'regex')
          expect(checkRegex(g.match_value, !g.case_sensitive)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('Rybbit path goals: any pattern is a runnable glob', () => {
    fc.assert(
      fc.property(text, (pathPattern) => {
        try {
          const g = resolveRybbitGoal(null, { goalType: 'path', config: { pathPattern } });
          expect(
            compileGoal({ ...g, id: 'g', website_id: 's', definition_version: 1 }).matches({
              type: 'pageview',
              event_name: null,
              path: pathPattern,
              properties: null,
            }),
          ).toEqual(expect.any(Boolean));
        } catch (err) {
          expect(err).toBeInstanceOf(ClientError);
        }
      }),
    );
  });
});

describe('autocapture goal types and the new conditions', () => {
  it('Sparklytics: autocapture types take any/glob/…; any refuses a value and other types', () => {
    const any = resolveSparklyticsGoal(null, {
      name: 'Out',
      goal_type: 'outbound',
      match_operator: 'any',
    });
    expect(any).toMatchObject({ goal_type: 'outbound', match_operator: 'any', match_value: '' });
    expect(
      resolveSparklyticsGoal(null, {
        name: 'Out',
        goal_type: 'outbound',
        match_operator: 'any',
        match_value: '',
      }).match_value,
    ).toBe('');
    expect(
      fieldOf(() =>
        resolveSparklyticsGoal(null, {
          name: 'x',
          goal_type: 'copy',
          match_operator: 'any',
          match_value: 'a',
        }),
      ),
    ).toBe('match_value');
    expect(
      fieldOf(() =>
        resolveSparklyticsGoal(null, { name: 'x', goal_type: 'event', match_operator: 'any' }),
      ),
    ).toBe('match_operator');
    expect(
      fieldOf(() => resolveSparklyticsGoal(null, { name: 'x', goal_type: 'button_click' })),
    ).toBe('match_value');
    expect(
      resolveSparklyticsGoal(null, {
        name: 'x',
        goal_type: 'form_submit',
        match_value: 'x'.repeat(512),
      }).match_value,
    ).toHaveLength(512);
    expect(
      fieldOf(() =>
        resolveSparklyticsGoal(null, {
          name: 'x',
          goal_type: 'event',
          match_value: 'x'.repeat(501),
        }),
      ),
    ).toBe('match_value');
    // Leaving `any` needs a value.
    expect(fieldOf(() => resolveSparklyticsGoal(any, { match_operator: 'glob' }))).toBe(
      'match_value',
    );
  });

  it('Sparklytics: hostname on pageview goals only, lower-cased; pageview filters allowed', () => {
    const g = resolveSparklyticsGoal(null, {
      name: 'p',
      goal_type: 'pageview',
      match_value: '/p',
      hostname: ' Shop.Example ',
      property_filters: [{ key: 'ref', operator: 'equals', value: 5 }],
    });
    expect(g).toMatchObject({ hostname: 'shop.example', property_filters: [{ key: 'ref' }] });
    expect(resolveSparklyticsGoal(g, { hostname: null }).hostname).toBeNull();
    expect(definitionChanged(g, resolveSparklyticsGoal(g, { hostname: null }))).toBe(true);
    expect(fieldOf(() => resolveSparklyticsGoal(g, { hostname: 'not a host' }))).toBe('hostname');
    expect(
      fieldOf(() =>
        resolveSparklyticsGoal(null, {
          name: 'e',
          goal_type: 'event',
          match_value: 'e',
          hostname: 'shop.example',
        }),
      ),
    ).toBe('hostname');
  });

  it('Rybbit: valuePattern is a value glob, empty or absent is any; fields per type', () => {
    expect(resolveRybbitGoal(null, { goalType: 'copy', config: {} })).toMatchObject({
      goal_type: 'copy',
      match_operator: 'any',
      match_value: '',
    });
    expect(
      resolveRybbitGoal(null, { goalType: 'outbound', config: { valuePattern: '  https://*  ' } }),
    ).toMatchObject({ goal_type: 'outbound', match_operator: 'glob', match_value: 'https://*' });
    expect(
      resolveRybbitGoal(null, { goalType: 'form_submit', config: { valuePattern: '   ' } })
        .match_operator,
    ).toBe('any');
    expect(
      fieldOf(() =>
        resolveRybbitGoal(null, { goalType: 'copy', config: { valuePattern: 'x'.repeat(513) } }),
      ),
    ).toBe('config.valuePattern');
    expect(
      fieldOf(() => resolveRybbitGoal(null, { goalType: 'copy', config: { eventName: 'x' } })),
    ).toBe('config.eventName');
    expect(
      fieldOf(() =>
        resolveRybbitGoal(null, {
          goalType: 'event',
          config: { eventName: 'x', valuePattern: 'y' },
        }),
      ),
    ).toBe('config.valuePattern');
    expect(
      fieldOf(() =>
        resolveRybbitGoal(null, {
          goalType: 'event',
          config: { eventName: 'x', hostname: 'a.example' },
        }),
      ),
    ).toBe('config.hostname');
    expect(fieldOf(() => resolveRybbitGoal(null, { goalType: 'path', config: {} }))).toBe(
      'config.pathPattern',
    );
  });

  it('Rybbit: propertyFilters replace the legacy pair ([] disables it); path goals get them', () => {
    const legacy = { eventName: 'buy', eventPropertyKey: 'plan', eventPropertyValue: 'pro' };
    expect(resolveRybbitGoal(null, { goalType: 'event', config: legacy }).property_filters).toEqual(
      [{ key: 'plan', operator: 'equals', value: 'pro' }],
    );
    expect(
      resolveRybbitGoal(null, { goalType: 'event', config: { ...legacy, propertyFilters: [] } })
        .property_filters,
    ).toEqual([]);
    expect(
      resolveRybbitGoal(null, {
        goalType: 'event',
        config: { ...legacy, propertyFilters: [{ key: 'n', value: 5 }] },
      }).property_filters,
    ).toEqual([{ key: 'n', operator: 'equals', value: 5 }]);
    const path = resolveRybbitGoal(null, {
      goalType: 'path',
      config: {
        pathPattern: '/p/*',
        hostname: 'Shop.example',
        propertyFilters: [{ key: 'utm', value: 'x' }],
      },
    });
    expect(path).toMatchObject({
      goal_type: 'pageview',
      hostname: 'shop.example',
      property_filters: [{ key: 'utm', operator: 'equals', value: 'x' }],
    });
    expect(
      fieldOf(() =>
        resolveRybbitGoal(null, {
          goalType: 'copy',
          config: { propertyFilters: [{ key: '', value: 1 }] },
        }),
      ),
    ).toBe('config.propertyFilters[0].key');
  });

  it('Rybbit: goalType cannot change between path/event and the autocapture types', () => {
    const out = resolveRybbitGoal(null, { goalType: 'outbound', config: {} });
    const full = { ...out, name: 'o' };
    expect(fieldOf(() => resolveRybbitGoal(full, { goalType: 'copy', config: {} }))).toBe(
      'goalType',
    );
    expect(
      resolveRybbitGoal(full, { goalType: 'outbound', config: { valuePattern: 'a' } }),
    ).toMatchObject({
      match_operator: 'glob',
    });
    expect(rybbitDefaultName('outbound', '')).toBe('outbound: any');
  });
});
