import { describe, expect, it } from 'vitest';
import { botScore, isBotFor } from './bot.js';
import { enrichEvent, requestFacts, type RawEvent } from './enrich.js';
import { defaultGeoDatabasePaths, GeoLookup } from './geo.js';
import { languageOf } from './language.js';
import { channelOf, referrerDomain } from './referrer.js';
import { parseUserAgent } from './user-agent.js';

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const IPAD =
  'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

const ch = (
  referrer: string | null,
  query = '',
  utmSource: string | null = null,
  utmMedium: string | null = null,
) =>
  channelOf({
    referrerDomain: referrerDomain(referrer),
    utmSource,
    utmMedium,
    query: query ? new URLSearchParams(query) : null,
  });

describe('referrer and channel', () => {
  it('extracts the referrer domain without www, port or credentials', () => {
    expect(referrerDomain('https://www.Google.com:443/search?q=x')).toBe('google.com');
    expect(referrerDomain('https://u:p@news.ycombinator.com/item')).toBe('news.ycombinator.com');
    expect(referrerDomain('android-app://com.slack')).toBe('com.slack');
    expect(referrerDomain('not a url')).toBeNull();
    expect(referrerDomain('')).toBeNull();
  });

  it('classifies channels from click ids, UTMs and known domains', () => {
    expect(ch(null)).toBe('direct');
    expect(ch('https://www.google.co.uk/')).toBe('organic_search');
    expect(ch('https://duckduckgo.com/')).toBe('organic_search');
    expect(ch('https://www.google.com/', 'gclid=1')).toBe('paid_search');
    expect(ch(null, 'msclkid=1')).toBe('paid_search');
    expect(ch('https://l.facebook.com/', 'fbclid=1')).toBe('organic_social');
    expect(ch(null, 'fbclid=1', 'facebook', 'cpc')).toBe('paid_social');
    expect(ch(null, 'ttclid=1')).toBe('paid_social');
    expect(ch('https://t.co/abc')).toBe('organic_social');
    expect(ch('https://old.reddit.com/r/x')).toBe('organic_social');
    expect(ch(null, '', 'newsletter', 'email')).toBe('email');
    expect(ch('https://mail.google.com/')).toBe('email');
    expect(ch(null, '', 'google', 'cpc')).toBe('paid_search');
    expect(ch(null, '', 'google', null)).toBe('organic_search');
    expect(ch(null, '', 'partner', 'affiliate')).toBe('affiliate');
    expect(ch(null, '', 'network', 'display')).toBe('display');
    expect(ch('https://someblog.example/post')).toBe('referral');
  });
});

describe('user agent', () => {
  it('parses browser, OS and device type; screen width is a hint', () => {
    expect(parseUserAgent(CHROME, null)).toEqual({
      browser: 'Chrome',
      os: 'Windows',
      device: 'desktop',
    });
    expect(parseUserAgent(IPAD, null)).toMatchObject({ os: 'iOS', device: 'tablet' });
    expect(parseUserAgent(undefined, 390)).toEqual({ browser: null, os: null, device: 'mobile' });
  });
});

describe('language', () => {
  it('prefers the payload, then the first Accept-Language tag', () => {
    expect(languageOf('en-US', 'de')).toBe('en-US');
    expect(languageOf(null, 'de-CH,de;q=0.9,en;q=0.8')).toBe('de-CH');
    expect(languageOf('', '*')).toBeNull();
    expect(languageOf('<script>', undefined)).toBeNull();
  });
});

describe('bots', () => {
  const base = { acceptLanguage: 'en', recentEventsFromIp: null, rateThreshold: 100 };
  it('scores strong and weak signals, and judges them by policy', () => {
    const crawler = botScore({
      ...base,
      userAgent: 'Googlebot/2.1 (+http://www.google.com/bot.html)',
    });
    const noUa = botScore({ ...base, userAgent: undefined });
    const headless = botScore({ ...base, userAgent: CHROME.replace('Chrome/', 'HeadlessChrome/') });
    const human = botScore({ ...base, userAgent: CHROME });
    const fast = botScore({ ...base, userAgent: CHROME, recentEventsFromIp: 500 });
    const noLang = botScore({ ...base, userAgent: CHROME, acceptLanguage: undefined });
    expect(human).toBe(0);
    expect(crawler).toBeGreaterThanOrEqual(80);
    expect(noUa).toBeGreaterThanOrEqual(80);
    expect(isBotFor('balanced', crawler)).toBe(true);
    for (const weak of [headless, fast, noLang]) {
      expect(isBotFor('balanced', weak)).toBe(false);
      expect(isBotFor('strict', weak)).toBe(weak >= 40);
    }
    expect(isBotFor('strict', headless)).toBe(true);
    expect(isBotFor('strict', fast)).toBe(true);
    expect(isBotFor('off', 100)).toBe(false);
  });
});

describe('geo', () => {
  const geo = GeoLookup.open(defaultGeoDatabasePaths());
  it('resolves IPv4, IPv4-mapped and IPv6 addresses offline; private ones to nulls', async () => {
    const none = { country: null, region: null, city: null };
    expect(await geo.lookup('81.2.69.142')).toMatchObject({ country: 'GB' });
    expect(await geo.lookup('::ffff:81.2.69.142')).toMatchObject({ country: 'GB' });
    expect((await geo.lookup('2a00:1450:4001:80b::200e')).country).toMatch(/^[A-Z]{2}$/);
    expect(await geo.lookup('127.0.0.1')).toEqual(none);
    expect(await geo.lookup('garbage')).toEqual(none);
    expect((await GeoLookup.disabled().lookup('81.2.69.142')).country).toBeNull();
  });
});

describe('enrichEvent', () => {
  const facts = requestFacts(
    {
      userAgent: CHROME,
      acceptLanguage: 'fr-FR',
      recentEventsFromIp: null,
      rateThreshold: 100,
    },
    { country: null, region: null, city: null },
  );
  const raw = (over: Partial<RawEvent>): RawEvent => ({
    type: 'pageview',
    eventName: null,
    url: 'https://shop.example/a',
    referrer: null,
    pageTitle: null,
    properties: null,
    utm: {},
    screenWidth: null,
    language: null,
    ...over,
  });
  const site = { domain: 'shop.example', bot_policy: 'balanced' as const };

  it('takes UTMs from the payload before the URL, and keeps hash routes in the path', () => {
    const e = enrichEvent(
      raw({
        url: 'https://shop.example/app?utm_source=url&utm_campaign=spring#/settings',
        utm: { source: 'payload' },
      }),
      facts,
      site,
    );
    expect(e).toMatchObject({
      path: '/app#/settings',
      utm_source: 'payload',
      utm_campaign: 'spring',
      language: 'fr-FR',
      hostname: 'shop.example',
    });
  });

  it('drops self-referrals (the site, its subdomains, the page host)', () => {
    for (const referrer of [
      'https://shop.example/x',
      'https://www.shop.example/',
      'https://blog.shop.example/',
    ]) {
      expect(enrichEvent(raw({ referrer }), facts, site)).toMatchObject({
        referrer_domain: null,
        channel: 'direct',
      });
    }
    expect(enrichEvent(raw({ referrer: 'https://bing.com/' }), facts, site)).toMatchObject({
      referrer_domain: 'bing.com',
      channel: 'organic_search',
    });
  });

  it('cuts oversized strings to the message schema and never throws on odd URLs', () => {
    const e = enrichEvent(
      raw({ url: `/${'x'.repeat(5000)}`, pageTitle: 't'.repeat(3000) }),
      facts,
      site,
    );
    expect(e.path!.length).toBe(2048);
    expect(e.page_title!.length).toBe(2048);
    expect(() => enrichEvent(raw({ url: '%E0%A4%A?utm_source=%' }), facts, site)).not.toThrow();
  });
});

describe('properties', () => {
  it('removes NUL characters, which PostgreSQL cannot store', () => {
    const facts = requestFacts(
      {
        userAgent: undefined,
        acceptLanguage: undefined,
        recentEventsFromIp: null,
        rateThreshold: 1,
      },
      { country: null, region: null, city: null },
    );
    const e = enrichEvent(
      {
        type: 'event',
        eventName: 'x\u0000y',
        url: '/',
        referrer: null,
        pageTitle: null,
        properties: { 'k\u0000': ['a\u0000b', { n: 'c\u0000' }], ok: 1 },
        utm: {},
        screenWidth: null,
        language: null,
      },
      facts,
      { domain: 'x.example', bot_policy: 'off' },
    );
    expect(e.event_name).toBe('xy');
    expect(e.properties).toEqual({ k: ['ab', { n: 'c' }], ok: 1 });
  });
});
