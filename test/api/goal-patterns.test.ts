import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goalRepository } from '../../shared/db/repositories/goal.repository.js';
import { migrate } from '../../shared/db/migrate.js';
import { newGoalId } from '../../shared/ids.js';
import { compileGoals, matchEvent } from '../../shared/matching/goal-matcher.js';
import { bearer, openApiFixture, type ApiFixture } from './api-fixture.js';

/**
 * Issue 12, stored goals: regex goals stored before the linear-time engine (JavaScript
 * regexes, inserted here straight into the table with `pattern_engine` NULL, as migration 010
 * leaves them) are classified by the migration runner's stored-pattern check. A goal whose
 * pattern the engine refuses or reads differently is listed (logged, and kept in
 * `pattern_issue`), shown as invalid, never matches, and is backfilled once its pattern is
 * changed to a valid one. A rewritten goal keeps its meaning under a new spelling.
 */
describe('regex goals stored before the current engine', () => {
  let f: ApiFixture;
  let auth: { authorization: string };
  let siteId: string;
  const ids = {
    same: newGoalId(),
    rewritten: newGoalId(),
    foldsDifferently: newGoalId(),
    jsOnly: newGoalId(),
    tooBig: newGoalId(),
  };

  async function insertStored(id: string, name: string, pattern: string, caseSensitive: boolean) {
    await f.db.query(
      'test.insert_stored_goal',
      `INSERT INTO goals (id, website_id, name, goal_type, match_operator, match_value,
         case_sensitive, pattern_engine)
       VALUES ($1, $2, $3, 'pageview', 'regex', $4, $5, NULL)`,
      [id, siteId, name, pattern, caseSensitive],
    );
  }

  beforeAll(async () => {
    f = await openApiFixture('goal-patterns');
    auth = bearer(f.bootstrapKey);
    const res = await f.app.inject({
      method: 'POST',
      url: '/api/websites',
      headers: auth,
      payload: { name: 'Stored patterns', domain: 'stored.example.com' },
    });
    siteId = res.json<{ data: { id: string } }>().data.id;
    await insertStored(ids.same, 'same', '^/checkout/(success|done)$', true);
    await insertStored(ids.rewritten, 'rewritten', '^/blog/.*$', true);
    await insertStored(ids.foldsDifferently, 'folds differently', '\\bpricing', false);
    await insertStored(ids.jsOnly, 'js only', '^/caf\\u00e9$', true);
    await insertStored(ids.tooBig, 'too big', '^(a{200}){2}$', true);
    // The runner's post-migration step (every file is already applied in the test database).
    await migrate(f.db, f.logger);
  });

  afterAll(async () => {
    await f.db.query('test.cleanup', 'DELETE FROM websites WHERE id = $1', [siteId]);
    await f.close();
  });

  const getGoal = async (id: string) =>
    f.app.inject({ method: 'GET', url: `/api/websites/${siteId}/goals/${id}`, headers: auth });

  it('classifies each stored pattern once: same, rewritten, or refused with a reason', async () => {
    const { rows } = await f.db.query<{
      id: string;
      match_value: string;
      pattern_engine: number;
      pattern_issue: string | null;
      pattern_rewritten_from: string | null;
    }>(
      'test.read_patterns',
      `SELECT id, match_value, pattern_engine, pattern_issue, pattern_rewritten_from
         FROM goals WHERE website_id = $1`,
      [siteId],
    );
    const by = new Map(rows.map((r) => [r.id, r]));
    expect(rows.every((r) => r.pattern_engine === 2)).toBe(true);
    expect(by.get(ids.same)).toMatchObject({ pattern_issue: null, pattern_rewritten_from: null });
    expect(by.get(ids.rewritten)).toMatchObject({
      match_value: '^/blog/[^\\n\\r\\x{2028}-\\x{2029}]*$',
      pattern_rewritten_from: '^/blog/.*$',
      pattern_issue: null,
    });
    expect(by.get(ids.foldsDifferently)!.pattern_issue).toContain('\\b');
    expect(by.get(ids.jsOnly)).toMatchObject({
      match_value: '^/caf\\x{e9}$',
      pattern_rewritten_from: '^/caf\\u00e9$',
    });
    expect(by.get(ids.tooBig)!.pattern_issue).toContain('too complex');

    // Running the check again changes nothing.
    await migrate(f.db, f.logger);
    const again = await goalRepository.findById(f.db, siteId, ids.rewritten);
    expect(again!.match_value).toBe('^/blog/[^\\n\\r\\x{2028}-\\x{2029}]*$');
  });

  it('shows refused goals as invalid in both dialects', async () => {
    const res = await getGoal(ids.foldsDifferently);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      data: { invalid: { reason: expect.stringContaining('\\b') as string } },
    });
    const ok = await getGoal(ids.same);
    expect(ok.json<{ data: object }>().data).not.toHaveProperty('invalid');
    const rewritten = await getGoal(ids.rewritten);
    expect(rewritten.json()).toMatchObject({
      data: { pattern_rewritten_from: '^/blog/.*$' },
    });

    const list = await f.app.inject({
      method: 'GET',
      url: `/api/goals/${siteId}`,
      headers: auth,
    });
    expect(list.statusCode).toBe(200);
    const body = list.json<{ data: Array<{ name: string; goalpost?: { invalid?: unknown } }> }>();
    const rybbit = body.data.find((g) => g.name === 'too big');
    expect(rybbit?.goalpost?.invalid).toMatchObject({ reason: expect.any(String) as string });
  });

  it('the matcher never runs a refused pattern; rewritten and same ones run', async () => {
    const defs = await goalRepository.definitionsForWebsite(f.db, siteId);
    const goals = compileGoals(defs);
    const hit = (path: string) =>
      matchEvent(goals, { type: 'pageview', event_name: null, path, properties: null }).map(
        (m) => m.goal.id,
      );
    expect(hit('/pricing')).toEqual([]);
    expect(hit('/checkout/done')).toEqual([ids.same]);
    expect(hit('/blog/a')).toEqual([ids.rewritten]);
    expect(hit('/blog/a\rb')).toEqual([]); // JavaScript's `.` never matched \r; nor does the rewrite
    expect(hit('/café')).toEqual([ids.jsOnly]);
  });

  it('a rename keeps the issue; a valid new pattern clears it, bumps the version and backfills', async () => {
    const url = `/api/websites/${siteId}/goals/${ids.foldsDifferently}`;
    const rename = await f.app.inject({
      method: 'PUT',
      url,
      headers: auth,
      payload: { name: 'renamed' },
    });
    expect(rename.statusCode).toBe(200);
    expect(rename.json()).toMatchObject({
      data: { invalid: { reason: expect.any(String) as string } },
    });

    const stillBad = await f.app.inject({
      method: 'PUT',
      url,
      headers: auth,
      payload: { match_value: '\\u0070ricing' },
    });
    expect(stillBad.statusCode).toBe(422);
    expect(stillBad.json()).toMatchObject({ error: { field: 'match_value' } });

    const before = await goalRepository.findById(f.db, siteId, ids.foldsDifferently);
    const fixed = await f.app.inject({
      method: 'PUT',
      url,
      headers: auth,
      payload: { match_value: '\\bpricing' },
    });
    expect(fixed.statusCode).toBe(200);
    expect(fixed.json<{ data: object }>().data).not.toHaveProperty('invalid');
    const after = await goalRepository.findById(f.db, siteId, ids.foldsDifferently);
    expect(after!.pattern_issue).toBeNull();
    expect(after!.definition_version).toBe(before!.definition_version + 1);
    expect(after!.backfill).toMatchObject({ state: expect.any(String) as string });
    const defs = await goalRepository.definitionsForWebsite(f.db, siteId);
    const goal = compileGoals(defs.filter((d) => d.id === ids.foldsDifferently))[0]!;
    expect(
      goal.matches({ type: 'pageview', event_name: null, path: '/PRICING', properties: null }),
    ).toBe(true);
  });
});
