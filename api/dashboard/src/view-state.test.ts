import { describe, expect, it } from 'vitest';
import { carriedQuery, previousRange, readView, statsQuery, todayIn } from './view-state.js';

describe('dashboard view state', () => {
  const now = new Date('2026-03-10T23:30:00Z');

  it('presets count back from today in the time zone', () => {
    // 23:30 UTC is already the 11th in Berlin.
    expect(todayIn('Europe/Berlin', now)).toBe('2026-03-11');
    const v = readView(new URLSearchParams('range=7d&timezone=Europe/Berlin'), 'UTC', now);
    expect([v.start, v.end, v.timezone]).toEqual(['2026-03-05', '2026-03-11', 'Europe/Berlin']);
    const y = readView(new URLSearchParams('range=yesterday'), 'UTC', now);
    expect([y.start, y.end]).toEqual(['2026-03-09', '2026-03-09']);
  });

  it('custom dates, bots and filters come from the URL; an unknown zone falls back to the site’s', () => {
    const v = readView(
      new URLSearchParams(
        'start_date=2026-02-01&end_date=2026-02-28&timezone=Nowhere/X&include_bots=true&filter_country=DE&other=1',
      ),
      'America/New_York',
      now,
    );
    expect(v).toMatchObject({ preset: 'custom', timezone: 'America/New_York', bots: 'true' });
    expect(statsQuery(v)).toEqual({
      start_date: '2026-02-01',
      end_date: '2026-02-28',
      timezone: 'America/New_York',
      include_bots: 'true',
      filter_country: 'DE',
    });
    expect(previousRange(v)).toEqual({ start: '2026-01-04', end: '2026-01-31' });
    expect(
      carriedQuery(new URLSearchParams('range=30d&gran=hour&filter_os=Linux')).toString(),
    ).toBe('range=30d&filter_os=Linux');
  });

  it('end before start is not a custom range', () => {
    const v = readView(
      new URLSearchParams('start_date=2026-02-10&end_date=2026-02-01'),
      'UTC',
      now,
    );
    expect(v.preset).toBe('7d');
  });
});
