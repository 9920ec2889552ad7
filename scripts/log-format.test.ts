import { describe, expect, it } from 'vitest';
import { formatLogLine } from './log-format.js';

describe('formatLogLine (npm start in a terminal)', () => {
  const line = JSON.stringify({
    level: 40,
    time: Date.UTC(2026, 10, 28, 12, 3, 4, 567),
    pid: 7,
    hostname: 'h',
    service: 'processor',
    msg: 'batch_failed_retrying',
    err: 'connection refused',
    attempt: 2,
  });

  it('shows time, level, message and the other fields as key=value', () => {
    expect(formatLogLine(line, false)).toBe(
      '12:03:04.567 WARN  batch_failed_retrying err="connection refused" attempt=2',
    );
  });

  it('colours the level only when asked', () => {
    expect(formatLogLine(line, true)).toContain('\x1b[33mWARN \x1b[0m');
  });

  it('passes anything that is not a pino line through unchanged', () => {
    for (const raw of ['plain text', '{"no":"level"}', '[1,2]', '{broken']) {
      expect(formatLogLine(raw, false)).toBe(raw);
    }
  });
});
