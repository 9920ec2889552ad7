import { describe, expect, it } from 'vitest';
import { FALLBACK_OPTIONS, optionsFromOpenApi } from './goal-options.js';

describe('goal form options from the OpenAPI document', () => {
  const lit = (...vs: string[]) => ({ anyOf: vs.map((v) => ({ type: 'string', enum: [v] })) });
  const doc = (props: object) => ({
    paths: {
      '/api/websites/{website_id}/goals': {
        post: {
          requestBody: { content: { 'application/json': { schema: { properties: props } } } },
        },
      },
    },
  });

  it('reads the enums of the create body, without aliases, so new types appear in the form', () => {
    const o = optionsFromOpenApi(
      doc({
        goal_type: lit('event', 'pageview', 'page_view', 'outbound'),
        match_operator: lit('equals', 'any'),
        property_filters: { items: { properties: { operator: lit('equals', 'exists') } } },
        value_mode: { type: 'string', enum: ['none', 'fixed'] },
      }),
    );
    expect(o).toEqual({
      goalTypes: ['event', 'pageview', 'outbound'],
      matchOperators: ['equals', 'any'],
      filterOperators: ['equals', 'exists'],
      valueModes: ['none', 'fixed'],
    });
  });

  it('falls back to the built-in lists for what the document lacks', () => {
    expect(optionsFromOpenApi(null)).toEqual(FALLBACK_OPTIONS);
    expect(optionsFromOpenApi(doc({ goal_type: lit('event') })).matchOperators).toEqual(
      FALLBACK_OPTIONS.matchOperators,
    );
  });
});
