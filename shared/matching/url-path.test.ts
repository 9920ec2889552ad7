import { describe, expect, it } from 'vitest';
import { decodePercentTolerant, pathFromUrl, splitUrl } from './url-path.js';

describe('pathFromUrl', () => {
  it.each([
    // absolute and relative URLs are treated alike
    ['absolute URL, query dropped', 'https://a.com/x?q=1', '/x'],
    ['http URL', 'http://a.com/x', '/x'],
    ['protocol-relative URL', '//a.com/x', '/x'],
    ['absolute path with query', '/x?q=1', '/x'],
    ['relative path gets a leading slash', 'x', '/x'],
    ['relative path with segments', 'blog/post', '/blog/post'],
    ['origin only', 'https://a.com', '/'],
    ['origin with trailing slash', 'https://a.com/', '/'],
    ['origin with query only', 'https://a.com?x=1', '/'],
    ['port and userinfo are not part of the path', 'https://u:p@a.com:8080/x', '/x'],
    ['IPv6 host', 'http://[::1]:3000/x', '/x'],
    ['file URL with empty authority', 'file:///tmp/x', '/tmp/x'],
    ['custom scheme with authority', 'app://bundle/screen', '/screen'],
    ['no // means no authority: kept as a path', 'about:blank', '/about:blank'],
    ['host:port without scheme is a relative path', 'localhost:3000/x', '/localhost:3000/x'],
    ['path case is kept', 'https://A.com/Pricing', '/Pricing'],
    // empty input
    ['empty string', '', '/'],
    ['whitespace only', '  \t\n ', '/'],
    ['surrounding whitespace trimmed', '  /x  ', '/x'],
    ['query only', '?q=1', '/'],
    // trailing slash is significant
    ['trailing slash kept', '/pricing/', '/pricing/'],
    ['no trailing slash added', '/pricing', '/pricing'],
    ['double slashes kept', '/a//b', '/a//b'],
    ['dot segments are not resolved', '/a/../b', '/a/../b'],
    // query strings and fragments
    ['empty query dropped', '/x?', '/x'],
    ['plain fragment dropped', '/docs#install', '/docs'],
    ['fragment after query dropped', '/docs?v=2#install', '/docs'],
    ['fragment without slash dropped', 'https://a.com/#top', '/'],
    ['? inside a fragment does not matter', '/a#b?c', '/a'],
    // hash routing
    ['hash route kept', 'https://x.com/app#/settings', '/app#/settings'],
    ['hash route stops at its own ?', 'https://x.com/app#/settings?tab=1', '/app#/settings'],
    ['hash route stops at a second #', '/app#/settings#billing', '/app#/settings'],
    ['hash route after a real query', '/app?x=1#/settings', '/app#/settings'],
    ['hash route at the root', 'https://x.com/#/', '/#/'],
    ['hash route on a relative URL', '#/a/b', '/#/a/b'],
    ['hash route is percent-decoded too', '/#/caf%C3%A9', '/#/café'],
    ['hashbang is an ordinary fragment', '/app#!/settings', '/app'],
    // percent-encoding, valid
    ['UTF-8 decoded', '/caf%C3%A9', '/café'],
    ['lower-case hex decoded', '/caf%c3%a9', '/café'],
    ['4-byte sequence decoded', '/%F0%9F%98%80', '/😀'],
    ['space decoded', '/a%20b', '/a b'],
    ['plus is not a space', '/a+b', '/a+b'],
    ['%2F decoded to /', '/a%2Fb', '/a/b'],
    ['%25 decoded once only', '/100%2541', '/100%41'],
    ['%3F and %23 decoded inside the path', '/a%3Fb%23c', '/a?b#c'],
    ['unicode already decoded is kept', '/café/日本', '/café/日本'],
    ['BOM is decoded, not stripped', '/%EF%BB%BFx', '/\uFEFFx'],
    // percent-encoding, malformed: never throws, keeps what is not valid
    ['lone percent', '/50%_off', '/50%_off'],
    ['percent at end', '/100%', '/100%'],
    ['truncated escape', '%E0%A4%A', '/%E0%A4%A'],
    ['truncated multi-byte sequence', '/%E0%A4', '/%E0%A4'],
    ['invalid byte kept, valid neighbour decoded', '/%C3%A9%FF', '/é%FF'],
    ['stray continuation byte kept', '/%A9x', '/%A9x'],
    ['overlong encoding kept', '/%C0%AF', '/%C0%AF'],
    ['encoded surrogate kept', '/%ED%A0%80', '/%ED%A0%80'],
    ['beyond U+10FFFF kept', '/%F4%90%80%80', '/%F4%90%80%80'],
    ['non-hex escape kept', '/%zz', '/%zz'],
    ['%00 is never decoded', '/a%00b', '/a%00b'],
    ['raw NUL is encoded', '/a\u0000b', '/a%00b'],
  ])('%s: %j → %j', (_what, url, expected) => {
    expect(pathFromUrl(url)).toBe(expected);
  });

  it('never throws, whatever the string', () => {
    const nasty = [
      '%',
      '%%%',
      '%E0%A4%A',
      '\uD800',
      '://',
      '//',
      '///',
      'https://',
      '#',
      '?',
      '[',
      '%F0%9F%98',
      'a'.repeat(10_000) + '%',
    ];
    for (const s of nasty) expect(pathFromUrl(s).startsWith('/')).toBe(true);
  });

  it('is idempotent on its own output when there is nothing left to decode', () => {
    const once = pathFromUrl('https://a.com/caf%C3%A9/x/?q=1#frag');
    expect(once).toBe('/café/x/');
    expect(pathFromUrl(once)).toBe(once);
  });
});

describe('splitUrl', () => {
  it.each([
    [
      'absolute URL',
      'https://WWW.Example.COM:8080/P%C3%A9?utm_source=x#top',
      { hostname: 'www.example.com', path: '/Pé', querystring: '?utm_source=x' },
    ],
    [
      'userinfo dropped',
      'https://user:pw@a.com/x',
      { hostname: 'a.com', path: '/x', querystring: '' },
    ],
    [
      'IPv6 host keeps brackets',
      'http://[::1]:3000/',
      { hostname: '[::1]', path: '/', querystring: '' },
    ],
    ['protocol-relative', '//A.com/x?y', { hostname: 'a.com', path: '/x', querystring: '?y' }],
    ['relative URL has no hostname', '/x?q=1', { hostname: null, path: '/x', querystring: '?q=1' }],
    ['empty authority', 'file:///x', { hostname: null, path: '/x', querystring: '' }],
    [
      'a bare ? is no query',
      'https://a.com/x?',
      { hostname: 'a.com', path: '/x', querystring: '' },
    ],
    [
      'query stays percent-encoded',
      '/x?q=caf%C3%A9',
      { hostname: null, path: '/x', querystring: '?q=caf%C3%A9' },
    ],
    [
      'hash route query used when there is no real query',
      'https://a.com/#/page?utm_source=x#anchor',
      { hostname: 'a.com', path: '/#/page', querystring: '?utm_source=x' },
    ],
    [
      'real query wins over the hash route query',
      'https://a.com/?a=1#/page?b=2',
      { hostname: 'a.com', path: '/#/page', querystring: '?a=1' },
    ],
    [
      'query of a plain fragment ignored',
      '/x#frag?b=2',
      { hostname: null, path: '/x', querystring: '' },
    ],
    ['empty input', '', { hostname: null, path: '/', querystring: '' }],
  ])('%s: %j', (_what, url, expected) => {
    expect(splitUrl(url)).toEqual(expected);
  });

  it('path is exactly pathFromUrl of the same URL', () => {
    for (const url of ['https://a.com/x/?q#/r?s', '/50%_off', 'x', '//h/%C3%A9']) {
      expect(splitUrl(url).path).toBe(pathFromUrl(url));
    }
  });
});

describe('decodePercentTolerant', () => {
  it.each([
    ['no percent', 'abc', 'abc'],
    ['valid sequence', '%C3%A9', 'é'],
    ['adjacent valid sequences', '%C3%A9%C3%A9', 'éé'],
    ['malformed kept with original hex case', '%e0%a4%a', '%e0%a4%a'],
    ['valid after invalid lead', '%FF%41', '%FFA'],
    ['a lead byte without continuation, then a valid one', '%C3%C3%A9', '%C3é'],
  ])('%s: %j → %j', (_what, input, expected) => {
    expect(decodePercentTolerant(input)).toBe(expected);
  });
});
