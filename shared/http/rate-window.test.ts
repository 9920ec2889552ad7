import { describe, expect, it } from 'vitest';
import { clientBucket, RateWindow } from './rate-window.js';

describe('RateWindow', () => {
  it('counts per key within a window and starts over in the next', () => {
    let now = 60_000;
    const w = new RateWindow(60_000, () => now);
    expect(w.hit('a', 2)).toBe(2);
    expect(w.hit('a', 3)).toBe(5);
    expect(w.hit('b', 1)).toBe(1);
    expect(w.peek('a')).toBe(5);
    expect(w.secondsLeft()).toBe(60);
    now += 60_000;
    expect(w.hit('a', 1)).toBe(1);
  });

  it('holds at most maxKeys keys; new keys beyond share one strict overflow counter', () => {
    const w = new RateWindow(60_000, () => 1, 3);
    for (const k of ['a', 'b', 'c']) w.hit(k, 1);
    expect(w.hit('d', 1)).toBe(1);
    expect(w.hit('e', 1)).toBe(2);
    expect(w.hit('f', 5)).toBe(7);
    // Known keys keep their own counts.
    expect(w.hit('a', 1)).toBe(2);
  });
});

describe('clientBucket', () => {
  it('keeps IPv4 addresses and buckets IPv6 by /64', () => {
    expect(clientBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(clientBucket('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:DB8:0001:0002:ffff::9')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientBucket('::1')).toBe('0:0:0:0::/64');
    expect(clientBucket('::ffff:198.51.100.4')).toBe('198.51.100.4');
    expect(clientBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
