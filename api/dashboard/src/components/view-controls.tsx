import { useState } from 'preact/hooks';
import { setQuery } from '../router.js';
import { FILTERS, RANGE_PRESETS, type ViewState } from '../view-state.js';

const ZONES: string[] = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf(
      'timeZone',
    );
  } catch {
    return [];
  }
})();

/**
 * Date range (presets or custom dates), time zone, bots and filters of a statistics view. Every
 * change goes to the URL (a new history entry), which the page reads back.
 */
export function ViewControls({ view, siteTimezone }: { view: ViewState; siteTimezone: string }) {
  const [start, setStart] = useState(view.start);
  const [end, setEnd] = useState(view.end);
  const [tz, setTz] = useState(view.timezone);
  const [filters, setFilters] = useState<Record<string, string>>(view.filters);
  const activeFilters = Object.keys(view.filters).length;

  const onPreset = (id: string) => {
    if (id === 'custom') {
      setQuery({ range: null, start_date: view.start, end_date: view.end });
    } else {
      setQuery({ range: id, start_date: null, end_date: null });
    }
  };

  return (
    <section class="controls" aria-label="View settings">
      <div class="control-row">
        <label>
          Date range
          <select value={view.preset} onChange={(e) => onPreset(e.currentTarget.value)}>
            {RANGE_PRESETS.map((p) => (
              <option value={p.id} key={p.id}>
                {p.label}
              </option>
            ))}
            <option value="custom">Custom dates</option>
          </select>
        </label>
        {view.preset === 'custom' && (
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (start && end && start <= end) {
                setQuery({ range: null, start_date: start, end_date: end });
              }
            }}
          >
            <label>
              From
              <input
                type="date"
                value={start}
                max={end}
                required
                onInput={(e) => setStart(e.currentTarget.value)}
              />
            </label>
            <label>
              To
              <input
                type="date"
                value={end}
                min={start}
                required
                onInput={(e) => setEnd(e.currentTarget.value)}
              />
            </label>
            <button type="submit">Apply dates</button>
          </form>
        )}
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ timezone: tz === siteTimezone ? null : tz });
          }}
        >
          <label>
            Time zone
            <input
              list="tz-list"
              value={tz}
              size={16}
              onInput={(e) => setTz(e.currentTarget.value)}
              onChange={(e) =>
                ZONES.includes(e.currentTarget.value) &&
                setQuery({
                  timezone: e.currentTarget.value === siteTimezone ? null : e.currentTarget.value,
                })
              }
            />
          </label>
          <datalist id="tz-list">
            {ZONES.map((z) => (
              <option value={z} key={z} />
            ))}
          </datalist>
        </form>
        <label>
          Bots
          <select
            value={view.bots ?? ''}
            onChange={(e) => setQuery({ include_bots: e.currentTarget.value || null })}
          >
            <option value="">Website default</option>
            <option value="false">Exclude bots</option>
            <option value="true">Include bots</option>
          </select>
        </label>
      </div>
      <details class="filters" open={activeFilters > 0}>
        <summary>Filters{activeFilters > 0 ? ` (${activeFilters} active)` : ''}</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const changes: Record<string, string | null> = {};
            for (const [name] of FILTERS) changes[name] = filters[name]?.trim() || null;
            setQuery(changes);
          }}
        >
          <div class="filter-grid">
            {FILTERS.map(([name, label]) => (
              <label key={name}>
                {label}
                <input
                  name={name}
                  value={filters[name] ?? ''}
                  onInput={(e) => setFilters({ ...filters, [name]: e.currentTarget.value })}
                />
              </label>
            ))}
          </div>
          <div class="actions">
            <button type="submit">Apply filters</button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setFilters({});
                setQuery(Object.fromEntries(FILTERS.map(([n]) => [n, null])));
              }}
            >
              Clear filters
            </button>
          </div>
        </form>
      </details>
    </section>
  );
}
