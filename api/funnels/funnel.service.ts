import { conversionRepository } from '../../shared/db/repositories/conversion.repository.js';
import {
  funnelRepository,
  isDuplicateFunnelName,
  isFunnelLimitExceeded,
  MAX_FUNNELS_PER_WEBSITE,
  type Funnel,
} from '../../shared/db/repositories/funnel.repository.js';
import { funnelWalkRepository } from '../../shared/db/repositories/funnel-walk.repository.js';
import { goalRepository, type StepGoal } from '../../shared/db/repositories/goal.repository.js';
import type { Queryable } from '../../shared/db/pool.js';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { ClientError, notFound } from '../../shared/errors/errors.js';
import type { BackfillStatus } from '../../shared/goals/backfill-status.js';
import { newFunnelId, newGoalId, parseFunnelRef } from '../../shared/ids.js';
import { handOffGoalWrites, type GoalServiceDeps } from '../goals/goal.service.js';
import type { FunnelFields, StepFields } from './funnel-input.js';
import type { FunnelView } from './funnel-view.js';

export type { FunnelView };

/** Rows of replaced or deleted steps' matches deleted per statement (after the response). */
const PURGE_BATCH = 10_000;

const duplicateName = () =>
  new ClientError(422, 'duplicate_name', 'funnel name already exists for this website', 'name');
const limitExceeded = () =>
  new ClientError(
    422,
    'limit_exceeded',
    `maximum of ${MAX_FUNNELS_PER_WEBSITE} funnels per website reached`,
    'funnels',
  );

function translate(err: unknown): unknown {
  if (isDuplicateFunnelName(err)) return duplicateName();
  if (isFunnelLimitExceeded(err)) return limitExceeded();
  return err;
}

/**
 * The steps' backfill states as the funnel's one (see {@link FunnelView.backfill}). It is done
 * only once the funnel's stored walks are rebuilt after the steps (`f.walks_version`): until
 * then it stays `running` at 0.99 at most.
 */
export function combinedBackfill(
  f: Pick<Funnel, 'walks_version' | 'definition_version'>,
  steps: readonly StepGoal[],
): BackfillStatus | null {
  const all = steps.map((s) => s.backfill).filter((b): b is BackfillStatus => b !== null);
  if (all.length === 0) return null;
  const has = (state: BackfillStatus['state']) => all.some((b) => b.state === state);
  const walked = f.walks_version === f.definition_version;
  const state = has('failed')
    ? 'failed'
    : has('running') || (has('done') && has('queued')) || (!has('queued') && !walked)
      ? 'running'
      : has('queued')
        ? 'queued'
        : 'done';
  const mean = all.reduce((s, b) => s + b.progress, 0) / all.length;
  const started = all.map((b) => b.started_at).filter((t): t is string => t !== null);
  const finished = all.map((b) => b.finished_at).filter((t): t is string => t !== null);
  return {
    state,
    progress: Math.round((walked ? mean : Math.min(mean, 0.99)) * 10_000) / 10_000,
    events_scanned: all.reduce((s, b) => s + b.events_scanned, 0),
    started_at: started.length === 0 ? null : started.sort()[0]!,
    finished_at: state === 'done' && finished.length > 0 ? finished.sort().at(-1)! : null,
    definition_version: Math.min(...all.map((b) => b.definition_version)),
  };
}

/**
 * Funnel writes shared by both dialects. A funnel's steps are step goals: creating a funnel or
 * replacing its steps writes new step goals in the same transaction as the funnel, then (after
 * the commit, as for goals) invalidates the website's cached definitions, so the processor
 * matches the steps from its next batch on, and enqueues each step's backfill. Replaced or
 * deleted steps' matches are deleted after the response, in batches; nothing reads them
 * meanwhile (their step goals are gone).
 */
export class FunnelService {
  constructor(private readonly deps: GoalServiceDeps) {}

  async list(website: Website): Promise<FunnelView[]> {
    const funnels = await funnelRepository.listForWebsite(this.deps.db, website.id);
    return this.withSteps(this.deps.db, funnels);
  }

  /**
   * The funnel a reference names on this website; 404 naming `field` when it is malformed,
   * unknown or another website's (`onOtherSite` may answer otherwise, e.g. Rybbit's 403).
   */
  async get(
    website: Website,
    raw: string | number,
    field: string,
    onOtherSite: (f: Funnel) => never = () => {
      throw notFound('funnel', field);
    },
  ): Promise<FunnelView> {
    const f = await this.find(this.deps.db, website, raw, field, onOtherSite);
    return (await this.withSteps(this.deps.db, [f]))[0]!;
  }

  async create(website: Website, fields: FunnelFields): Promise<FunnelView> {
    const view = await this.deps.db
      .tx(async (q) => {
        const f = await funnelRepository.create(q, {
          id: newFunnelId(),
          website_id: website.id,
          name: fields.name,
          window_seconds: fields.window_seconds,
        });
        return { ...f, steps: await this.writeSteps(q, f, fields.steps) };
      })
      .catch((err: unknown) => {
        throw translate(err);
      });
    await this.handOff(view, []);
    return { ...view, backfill: combinedBackfill(view, view.steps) };
  }

  /**
   * Changes a funnel: `change` receives the current definition and returns the complete new
   * one (the caller's dialect decides what an update may leave out). New steps (any change to
   * them) replace the step goals, which queues their backfill; a rename alone does not.
   */
  async update(
    website: Website,
    raw: string | number,
    field: string,
    change: (current: FunnelFields) => FunnelFields,
    onOtherSite?: (f: Funnel) => never,
  ): Promise<FunnelView> {
    let replaced: string[] = [];
    const view = await this.deps.db
      .tx(async (q) => {
        const f = await this.find(q, website, raw, field, onOtherSite, true);
        const [current] = await this.withSteps(q, [f]);
        const next = change(fieldsOf(current!));
        // A new conversion window changes every stored walk: it is rebuilt as for new steps.
        const stepsChanged =
          !sameConditions(current!.steps, next.steps) ||
          current!.window_seconds !== next.window_seconds;
        const updated = await funnelRepository.update(q, f.id, next, stepsChanged);
        if (!stepsChanged) {
          // The same conditions: labels change in place, the matches stay.
          const labels = next.steps.map((s) => s.name);
          await goalRepository.relabelSteps(q, f.id, labels);
          return { ...updated, steps: current!.steps.map((s, i) => ({ ...s, name: labels[i]! })) };
        }
        replaced = current!.steps.map((s) => s.id);
        await goalRepository.deleteSteps(q, f.id);
        return { ...updated, steps: await this.writeSteps(q, updated, next.steps) };
      })
      .catch((err: unknown) => {
        throw translate(err);
      });
    await this.handOff(replaced.length > 0 ? view : { ...view, steps: [] }, replaced);
    return { ...view, backfill: combinedBackfill(view, view.steps) };
  }

  async delete(
    website: Website,
    raw: string | number,
    field: string,
    onOtherSite?: (f: Funnel) => never,
  ): Promise<void> {
    const { id, steps } = await this.deps.db.tx(async (q) => {
      const f = await this.find(q, website, raw, field, onOtherSite, true);
      const ids = (await goalRepository.stepsOfFunnels(q, [f.id])).map((s) => s.id);
      if (!(await funnelRepository.delete(q, f.id))) throw notFound('funnel', field);
      return { id: f.id, steps: ids };
    });
    await handOffGoalWrites(this.deps, website.id, []);
    this.purge(website.id, steps, id);
  }

  private async find(
    q: Queryable,
    website: Website,
    raw: string | number,
    field: string,
    onOtherSite: ((f: Funnel) => never) | undefined,
    forUpdate = false,
  ): Promise<Funnel> {
    const ref = parseFunnelRef(raw);
    const f = ref === null ? null : await funnelRepository.findByRef(q, ref, { forUpdate });
    if (!f) throw notFound('funnel', field);
    if (f.website_id !== website.id) {
      if (onOtherSite) onOtherSite(f);
      throw notFound('funnel', field);
    }
    return f;
  }

  private async withSteps(q: Queryable, funnels: readonly Funnel[]): Promise<FunnelView[]> {
    const steps = await goalRepository.stepsOfFunnels(
      q,
      funnels.map((f) => f.id),
    );
    return funnels.map((f) => {
      const own = steps.filter((s) => s.funnel_id === f.id);
      return { ...f, steps: own, backfill: combinedBackfill(f, own) };
    });
  }

  private async writeSteps(
    q: Queryable,
    f: Funnel,
    steps: readonly StepFields[],
  ): Promise<StepGoal[]> {
    const out: StepGoal[] = [];
    for (const [i, s] of steps.entries()) {
      const g = await goalRepository.create(
        q,
        { ...stepFields(s), id: newGoalId(), website_id: f.website_id },
        { funnel_id: f.id, step_order: i + 1 },
      );
      out.push({ ...g, funnel_id: f.id, step_order: i + 1 });
    }
    return out;
  }

  /** After commit: the cache, every new step's backfill, the replaced steps' matches. */
  private async handOff(
    view: Funnel & { steps: StepGoal[] },
    replaced: readonly string[],
  ): Promise<void> {
    await handOffGoalWrites(
      this.deps,
      view.website_id,
      view.steps.map((s) => ({ goal_id: s.id, definition_version: s.definition_version })),
    );
    this.purge(view.website_id, replaced);
  }

  /**
   * Deletes the matches of step goals that no longer exist, and a deleted funnel's stored
   * walks, in batches, in the background. (Walks of replaced steps are deleted by the rebuild
   * for the new ones; results do not read them meanwhile.)
   */
  private purge(websiteId: string, goalIds: readonly string[], deletedFunnel?: string): void {
    if (goalIds.length === 0) return;
    const run = async () => {
      let total = 0;
      for (;;) {
        const n = await conversionRepository.deleteForGoals(this.deps.db, goalIds, PURGE_BATCH);
        total += n;
        if (n < PURGE_BATCH) break;
      }
      for (let n = PURGE_BATCH; deletedFunnel !== undefined && n === PURGE_BATCH; total += n) {
        n = await funnelWalkRepository.deleteForFunnel(this.deps.db, deletedFunnel, PURGE_BATCH);
      }
      this.deps.logger.info(
        { website_id: websiteId, steps: goalIds.length, rows: total },
        'funnel_steps_purged',
      );
    };
    run().catch((err: unknown) =>
      this.deps.logger.warn(
        { website_id: websiteId, err: (err as Error).message },
        'funnel_steps_purge_failed',
      ),
    );
  }
}

/** A stored funnel as the definition a dialect's update starts from. */
function fieldsOf(f: FunnelView): FunnelFields {
  return {
    name: f.name,
    window_seconds: f.window_seconds,
    steps: f.steps.map(stepFields),
  };
}

/**
 * A step's fields as a goal's: its label as the name, its condition, no value (a step counts
 * sessions, it has no worth of its own).
 */
function stepFields(s: StepFields | StepGoal): StepFields {
  return {
    name: s.name,
    description: null,
    goal_type: s.goal_type,
    match_operator: s.match_operator,
    match_value: s.match_value,
    case_sensitive: s.case_sensitive,
    property_filters: s.property_filters,
    hostname: s.hostname ?? null,
    value_mode: 'none',
    fixed_value: null,
    value_property_key: null,
    currency: 'USD',
  };
}

/** Whether `next` has exactly the stored steps' conditions, in order (labels aside). */
function sameConditions(stored: readonly StepGoal[], next: readonly StepFields[]): boolean {
  const key = (s: StepGoal | StepFields) =>
    JSON.stringify([
      s.goal_type,
      s.match_operator,
      s.match_value,
      s.case_sensitive,
      s.property_filters,
      s.hostname ?? null,
    ]);
  return stored.length === next.length && stored.every((s, i) => key(s) === key(next[i]!));
}
