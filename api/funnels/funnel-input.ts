import { ClientError, validationError } from '../../shared/errors/errors.js';
import {
  codePoints,
  NAME_MAX,
  resolveRybbitGoal,
  resolveSparklyticsGoal,
  type GoalFields,
} from '../goals/goal-input.js';
import type { RybbitGoalInput } from '../goals/goal.schemas.js';
import {
  LABEL_MAX,
  MAX_STEPS,
  MIN_STEPS,
  RYBBIT_STEP_TYPES,
  type RybbitStepInput,
  type SparklyticsFunnelInput,
  type SparklyticsStepInput,
} from './funnel.schemas.js';

/**
 * Turning either dialect's funnel request into one funnel definition. Each step is resolved
 * as a goal of the same kind would be (the goal rules, the one matcher's conditions), with its
 * label in `name`. Pure functions: the routes call them.
 */

/** A step: everything a goal is, its label as `name`. */
export type StepFields = GoalFields;

export interface FunnelFields {
  name: string;
  window_seconds: number | null;
  steps: StepFields[];
}

/** Name: not blank, at most 100 characters; stored as sent. */
function checkFunnelName(raw: string | undefined, field = 'name'): string {
  if (raw === undefined || raw.trim() === '')
    throw validationError('name must not be empty', field);
  if (codePoints(raw) > NAME_MAX) {
    throw validationError(`name must be at most ${NAME_MAX} characters`, field);
  }
  return raw;
}

function checkStepCount(n: number): void {
  if (n < MIN_STEPS || n > MAX_STEPS) {
    throw validationError(`a funnel has ${MIN_STEPS} to ${MAX_STEPS} steps`, 'steps');
  }
}

/** The fields Sparklytics names for step errors; the message says which step. */
const SPARKLYTICS_STEP_FIELDS: Record<string, string> = { goal_type: 'steps', name: 'label' };

/** One Sparklytics step, resolved as a goal of its type (value settings do not apply). */
function sparklyticsStep(s: SparklyticsStepInput, i: number): StepFields {
  try {
    if (s.label !== undefined && (s.label.trim() === '' || codePoints(s.label) > LABEL_MAX)) {
      throw validationError(`label must be 1–${LABEL_MAX} characters, not blank`, 'label');
    }
    const { step_type: goalType, label, ...matching } = s;
    const fields = resolveSparklyticsGoal(null, { ...matching, goal_type: goalType, name: 'step' });
    return { ...fields, name: label ?? (fields.match_value || fields.goal_type) };
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    const field = err.field === null ? 'steps' : (SPARKLYTICS_STEP_FIELDS[err.field] ?? err.field);
    throw new ClientError(err.statusCode, err.code, `steps[${i}]: ${err.message}`, field);
  }
}

/**
 * A Sparklytics create (`existing` null) or partial update: name, then steps (count, then
 * each), as Sparklytics checks them. On update only what was sent is resolved.
 */
export function resolveSparklyticsFunnel(
  existing: FunnelFields | null,
  input: SparklyticsFunnelInput,
): FunnelFields {
  const name =
    input.name !== undefined || existing === null ? checkFunnelName(input.name) : existing.name;
  let steps = existing?.steps;
  if (input.steps !== undefined || existing === null) {
    const raw = input.steps ?? [];
    checkStepCount(raw.length);
    steps = raw.map(sparklyticsStep);
  }
  return {
    name,
    window_seconds:
      input.window_seconds !== undefined
        ? input.window_seconds
        : (existing?.window_seconds ?? null),
    steps: steps!,
  };
}

/** A refusal in Rybbit's words: 400 `{"error": message}`. */
const rybbit400 = (message: string, field: string | null = null) =>
  new ClientError(400, 'validation_error', message, field);

/** Rybbit steps (analyze, step sessions, save): 2 to 8, each a goal of its type. */
export function resolveRybbitSteps(raw: readonly RybbitStepInput[]): StepFields[] {
  if (raw.length < MIN_STEPS)
    throw rybbit400('At least 2 steps are required for a funnel', 'steps');
  if (raw.length > MAX_STEPS) throw rybbit400(`A funnel has at most ${MAX_STEPS} steps`, 'steps');
  return raw.map((s, i) => rybbitStep(s, i));
}

function rybbitStep(s: RybbitStepInput, i: number): StepFields {
  if (!(RYBBIT_STEP_TYPES as readonly string[]).includes(s.type)) {
    throw rybbit400('Invalid step type', `steps[${i}].type`);
  }
  const type = s.type as (typeof RYBBIT_STEP_TYPES)[number];
  if ((type === 'page' || type === 'event') && (s.value === undefined || s.value === '')) {
    throw rybbit400('Page and event steps require a value', `steps[${i}].value`);
  }
  const goalType = type === 'page' ? 'path' : type;
  const config: RybbitGoalInput['config'] = {};
  if (goalType === 'path') config.pathPattern = s.value;
  else if (goalType === 'event') config.eventName = s.value;
  else if (s.value !== undefined) config.valuePattern = s.value;
  if (s.hostname !== undefined) config.hostname = s.hostname;
  if (s.propertyFilters !== undefined) config.propertyFilters = s.propertyFilters;
  if (s.eventPropertyKey !== undefined) config.eventPropertyKey = s.eventPropertyKey;
  if (s.eventPropertyValue !== undefined) config.eventPropertyValue = s.eventPropertyValue;
  try {
    const fields = resolveRybbitGoal(null, { goalType, config });
    const label = s.name !== undefined && s.name.trim() !== '' ? s.name : (s.value ?? type);
    if (codePoints(label) > LABEL_MAX) {
      throw validationError(`name must be at most ${LABEL_MAX} characters`, 'name');
    }
    return { ...fields, name: label };
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    // The goal rules name goal fields (`config.pathPattern`); say which step, in step terms.
    const field = (err.field ?? '')
      .replace(/^config\.(pathPattern|eventName|valuePattern)$/, 'value')
      .replace(/^config\./, '');
    throw rybbit400(`steps[${i}]: ${err.message}`, `steps[${i}]${field ? `.${field}` : ''}`);
  }
}

/** A Rybbit save: the steps, then the name (required); Goalpost's funnel rules bind it too. */
export function resolveRybbitFunnel(input: {
  name?: string;
  steps: readonly RybbitStepInput[];
  window_seconds?: number | null;
}): FunnelFields {
  // Rybbit's order: the steps, then the name.
  const steps = resolveRybbitSteps(input.steps);
  if (input.name === undefined || input.name.trim() === '') {
    throw rybbit400('Funnel name is required', 'name');
  }
  return {
    name: checkFunnelName(input.name),
    window_seconds: input.window_seconds ?? null,
    steps,
  };
}
