import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, sitePath, type Goal, type PropertyFilter, type Website } from '../api.js';
import { SiteNav } from '../components/site-nav.js';
import { ErrorNote, Loading, useAsync, useTitle } from '../components/ui.js';
import {
  FALLBACK_OPTIONS,
  loadGoalOptions,
  matchHint,
  needsMatchValue,
  optionLabel,
  takesPropertyFilters,
  type GoalOptions,
} from '../goal-options.js';
import { href, navigate, type Route } from '../router.js';
import { carriedQuery } from '../view-state.js';

type ValueType = 'string' | 'number' | 'boolean';
interface FilterRow {
  key: string;
  operator: string;
  value: string;
  type: ValueType;
}

interface FormState {
  name: string;
  goal_type: string;
  match_operator: string;
  match_value: string;
  case_sensitive: boolean;
  filters: FilterRow[];
  value_mode: string;
  fixed_value: string;
  value_property_key: string;
  currency: string;
}

const fromGoal = (g: Goal): FormState => ({
  name: g.name,
  goal_type: g.goal_type,
  match_operator: g.match_operator,
  match_value: g.match_value,
  case_sensitive: g.case_sensitive,
  filters: g.property_filters.map((f) => ({
    key: f.key,
    operator: f.operator,
    value: f.value === undefined ? '' : String(f.value),
    type:
      typeof f.value === 'number' ? 'number' : typeof f.value === 'boolean' ? 'boolean' : 'string',
  })),
  value_mode: g.value_mode,
  fixed_value: g.fixed_value === null ? '' : String(g.fixed_value),
  value_property_key: g.value_property_key ?? '',
  currency: g.currency,
});

const EMPTY: FormState = {
  name: '',
  goal_type: 'event',
  match_operator: 'equals',
  match_value: '',
  case_sensitive: true,
  filters: [],
  value_mode: 'none',
  fixed_value: '',
  value_property_key: '',
  currency: 'USD',
};

/** The element id of the control for an API field name (`property_filters[0].value`). */
export const fieldId = (field: string) => `gf-${field.replace(/[[\].]+/g, '-').replace(/-$/, '')}`;

function filterValue(r: FilterRow): string | number | boolean {
  if (r.type === 'boolean') return r.value === 'true';
  if (r.type === 'number' && r.value.trim() !== '' && Number.isFinite(Number(r.value))) {
    return Number(r.value);
  }
  return r.value;
}

/**
 * The body sent to the API: only the fields the chosen type and value mode use. Nothing is
 * validated here beyond what the controls enforce: the API's own answer names the field at
 * fault, and the form shows it there.
 */
function toBody(s: FormState, editing: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: s.name,
    match_operator: s.match_operator,
    case_sensitive: s.case_sensitive,
    value_mode: s.value_mode,
  };
  if (!editing) body.goal_type = s.goal_type;
  if (needsMatchValue(s.match_operator)) body.match_value = s.match_value;
  if (takesPropertyFilters(s.goal_type)) {
    body.property_filters = s.filters.map((r): PropertyFilter =>
      r.operator === 'exists'
        ? { key: r.key, operator: r.operator }
        : { key: r.key, operator: r.operator, value: filterValue(r) },
    );
  }
  if (s.value_mode === 'fixed') {
    const n = Number(s.fixed_value);
    body.fixed_value = s.fixed_value.trim() !== '' && Number.isFinite(n) ? n : s.fixed_value;
  }
  if (s.value_mode === 'event_property') body.value_property_key = s.value_property_key;
  if (s.value_mode !== 'none') body.currency = s.currency;
  return body;
}

export function GoalForm({
  site,
  goalId,
  route,
}: {
  site: Website;
  goalId: string | null;
  route: Route;
}) {
  const editing = goalId !== null;
  useTitle(editing ? `Edit goal · ${site.name}` : `New goal · ${site.name}`);
  const carry = carriedQuery(route.query);
  const [options, setOptions] = useState<GoalOptions>(FALLBACK_OPTIONS);
  useEffect(() => void loadGoalOptions().then(setOptions), []);
  const existing = useAsync(
    (signal) =>
      goalId === null
        ? Promise.resolve(null)
        : api<{ data: Goal }>(`${sitePath(site.id)}/goals/${encodeURIComponent(goalId)}`, {
            signal,
          }),
    [site.id, goalId],
  );
  if (existing.error) return <ErrorNote error={existing.error} />;
  if (editing && !existing.data) return <Loading what="the goal" />;
  return (
    <main id="main" tabIndex={-1}>
      <SiteNav site={site} active="goals" query={carry} />
      <p class="breadcrumb">
        <a href={href(`/sites/${site.id}`, carry)}>Goals</a> /
      </p>
      <h1>{editing ? `Edit “${existing.data!.data.name}”` : 'New goal'}</h1>
      <Form
        site={site}
        initial={existing.data ? fromGoal(existing.data.data) : EMPTY}
        goalId={goalId}
        options={options}
        carry={carry}
      />
    </main>
  );
}

function Form({
  site,
  initial,
  goalId,
  options,
  carry,
}: {
  site: Website;
  initial: FormState;
  goalId: string | null;
  options: GoalOptions;
  carry: URLSearchParams;
}) {
  const editing = goalId !== null;
  const [s, setS] = useState<FormState>(initial);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const set = (patch: Partial<FormState>) => setS({ ...s, ...patch });
  const setFilter = (i: number, patch: Partial<FilterRow>) =>
    set({ filters: s.filters.map((r, j) => (j === i ? { ...r, ...patch } : r)) });

  const errField = error instanceof ApiError ? error.field : null;
  /** The id of the control the API's error names, if the form has it. */
  const errTarget = (() => {
    if (!errField) return null;
    const id = fieldId(errField);
    return typeof document !== 'undefined' && formRef.current?.querySelector(`#${CSS.escape(id)}`)
      ? id
      : null;
  })();
  useEffect(() => {
    if (!error) return;
    const target = errTarget
      ? document.getElementById(errTarget)
      : formRef.current?.querySelector('.form-error');
    (target as HTMLElement | null)?.focus();
  }, [error, errTarget]);

  /** Props that tie a control to the API's error about its field. */
  const bind = (field: string) => {
    const id = fieldId(field);
    const on = errTarget === id;
    return {
      id,
      'aria-invalid': on ? ('true' as const) : undefined,
      'aria-describedby': on ? `${id}-error` : undefined,
    };
  };
  const errorFor = (field: string) =>
    errTarget === fieldId(field) ? (
      <p class="field-error" id={`${fieldId(field)}-error`}>
        {error!.message}
      </p>
    ) : null;

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const base = `${sitePath(site.id)}/goals`;
    try {
      const res = await api<{ data: Goal }>(editing ? `${base}/${goalId}` : base, {
        method: editing ? 'PUT' : 'POST',
        body: toBody(s, editing),
      });
      navigate(`/sites/${site.id}/goals/${res.data.id}`, carry);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const filters = takesPropertyFilters(s.goal_type);
  return (
    <form ref={formRef} class="goal-form" onSubmit={(e) => void submit(e)} noValidate>
      {error && !errTarget && (
        <p class="form-error error" role="alert" tabIndex={-1}>
          {error.message}
        </p>
      )}
      <div class="field">
        <label for={fieldId('name')}>Name</label>
        <input
          {...bind('name')}
          value={s.name}
          maxLength={100}
          onInput={(e) => set({ name: e.currentTarget.value })}
        />
        {errorFor('name')}
      </div>
      <div class="field-row">
        <div class="field">
          <label for={fieldId('goal_type')}>Type</label>
          <select
            {...bind('goal_type')}
            value={s.goal_type}
            disabled={editing}
            aria-describedby={editing ? 'goal-type-help' : bind('goal_type')['aria-describedby']}
            onChange={(e) => set({ goal_type: e.currentTarget.value })}
          >
            {options.goalTypes.map((t) => (
              <option value={t} key={t}>
                {optionLabel(t)}
              </option>
            ))}
          </select>
          {editing && (
            <p class="help" id="goal-type-help">
              The type of a goal cannot change; create a new goal instead.
            </p>
          )}
          {errorFor('goal_type')}
        </div>
        <div class="field">
          <label for={fieldId('match_operator')}>Match</label>
          <select
            {...bind('match_operator')}
            value={s.match_operator}
            onChange={(e) => set({ match_operator: e.currentTarget.value })}
          >
            {options.matchOperators.map((o) => (
              <option value={o} key={o}>
                {optionLabel(o)}
              </option>
            ))}
          </select>
          {errorFor('match_operator')}
        </div>
      </div>
      {needsMatchValue(s.match_operator) && (
        <div class="field">
          <label for={fieldId('match_value')}>Match value</label>
          <input
            {...bind('match_value')}
            value={s.match_value}
            aria-describedby={[bind('match_value')['aria-describedby'], 'match-value-help']
              .filter(Boolean)
              .join(' ')}
            onInput={(e) => set({ match_value: e.currentTarget.value })}
          />
          <p class="help" id="match-value-help">
            {matchHint(s.goal_type)}
          </p>
          {errorFor('match_value')}
        </div>
      )}
      <div class="field checkbox">
        <input
          type="checkbox"
          {...bind('case_sensitive')}
          checked={s.case_sensitive}
          onChange={(e) => set({ case_sensitive: e.currentTarget.checked })}
        />
        <label for={fieldId('case_sensitive')}>Case-sensitive</label>
        {errorFor('case_sensitive')}
      </div>
      {filters && (
        <fieldset class="property-filters">
          <legend>Event property filters (all must hold)</legend>
          {s.filters.length === 0 && (
            <p class="muted">None: any event that matches above converts.</p>
          )}
          {s.filters.map((r, i) => {
            const at = `property_filters[${i}]`;
            return (
              <div class="filter-row" key={i} role="group" aria-label={`Filter ${i + 1}`}>
                <div class="field">
                  <label for={fieldId(`${at}.key`)}>Property</label>
                  <input
                    {...bind(`${at}.key`)}
                    value={r.key}
                    onInput={(e) => setFilter(i, { key: e.currentTarget.value })}
                  />
                  {errorFor(`${at}.key`)}
                </div>
                <div class="field">
                  <label for={fieldId(`${at}.operator`)}>Operator</label>
                  <select
                    {...bind(`${at}.operator`)}
                    value={r.operator}
                    onChange={(e) => setFilter(i, { operator: e.currentTarget.value })}
                  >
                    {options.filterOperators.map((o) => (
                      <option value={o} key={o}>
                        {optionLabel(o)}
                      </option>
                    ))}
                  </select>
                  {errorFor(`${at}.operator`)}
                </div>
                {r.operator !== 'exists' && (
                  <>
                    <div class="field">
                      <label for={fieldId(`${at}.value`)}>Value</label>
                      {r.type === 'boolean' ? (
                        <select
                          {...bind(`${at}.value`)}
                          value={r.value}
                          onChange={(e) => setFilter(i, { value: e.currentTarget.value })}
                        >
                          <option value="true">true</option>
                          <option value="false">false</option>
                        </select>
                      ) : (
                        <input
                          {...bind(`${at}.value`)}
                          inputMode={r.type === 'number' ? 'decimal' : undefined}
                          value={r.value}
                          onInput={(e) => setFilter(i, { value: e.currentTarget.value })}
                        />
                      )}
                      {errorFor(`${at}.value`)}
                    </div>
                    <div class="field">
                      <label for={`gf-filter-type-${i}`}>Value type</label>
                      <select
                        id={`gf-filter-type-${i}`}
                        value={r.type}
                        onChange={(e) => {
                          const type = e.currentTarget.value as ValueType;
                          setFilter(i, { type, value: type === 'boolean' ? 'true' : r.value });
                        }}
                      >
                        <option value="string">text</option>
                        <option value="number">number</option>
                        <option value="boolean">true / false</option>
                      </select>
                    </div>
                  </>
                )}
                <button
                  type="button"
                  class="secondary small"
                  aria-label={`Remove filter ${i + 1}`}
                  onClick={() => set({ filters: s.filters.filter((_, j) => j !== i) })}
                >
                  Remove
                </button>
              </div>
            );
          })}
          <button
            type="button"
            class="secondary"
            {...bind('property_filters')}
            onClick={() =>
              set({
                filters: [...s.filters, { key: '', operator: 'equals', value: '', type: 'string' }],
              })
            }
          >
            Add a property filter
          </button>
          {errorFor('property_filters')}
        </fieldset>
      )}
      <fieldset>
        <legend>Value of a conversion</legend>
        <div class="field">
          <label for={fieldId('value_mode')}>Conversion value</label>
          <select
            {...bind('value_mode')}
            value={s.value_mode}
            onChange={(e) => set({ value_mode: e.currentTarget.value })}
          >
            {options.valueModes.map((m) => (
              <option value={m} key={m}>
                {optionLabel(m)}
              </option>
            ))}
          </select>
          {errorFor('value_mode')}
        </div>
        {s.value_mode === 'fixed' && (
          <div class="field">
            <label for={fieldId('fixed_value')}>Fixed value</label>
            <input
              {...bind('fixed_value')}
              inputMode="decimal"
              value={s.fixed_value}
              onInput={(e) => set({ fixed_value: e.currentTarget.value })}
            />
            {errorFor('fixed_value')}
          </div>
        )}
        {s.value_mode === 'event_property' && (
          <div class="field">
            <label for={fieldId('value_property_key')}>Event property holding the value</label>
            <input
              {...bind('value_property_key')}
              value={s.value_property_key}
              onInput={(e) => set({ value_property_key: e.currentTarget.value })}
            />
            {errorFor('value_property_key')}
          </div>
        )}
        {s.value_mode !== 'none' && (
          <div class="field">
            <label for={fieldId('currency')}>Currency</label>
            <input
              {...bind('currency')}
              value={s.currency}
              size={8}
              maxLength={8}
              onInput={(e) => set({ currency: e.currentTarget.value })}
            />
            {errorFor('currency')}
          </div>
        )}
      </fieldset>
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : editing ? 'Save goal' : 'Create goal'}
        </button>
        <a
          class="button secondary"
          href={href(editing ? `/sites/${site.id}/goals/${goalId}` : `/sites/${site.id}`, carry)}
        >
          Cancel
        </a>
      </div>
    </form>
  );
}
