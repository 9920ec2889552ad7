import { describe, expect, it } from 'vitest';
import type { Website } from '../../shared/db/repositories/website.repository.js';
import { originAllowed } from './origin.js';

const site = {
  domain: 'shop.example',
  allowed_origins: ['https://partner.example', 'cdn.other.example:8443'],
} as Website;

describe('origin check', () => {
  it('allows no Origin, the domain, its subdomains and allowed origins on any port', () => {
    for (const o of [
      undefined,
      'https://shop.example',
      'http://a.b.shop.example:3000',
      'http://partner.example:81',
      'https://cdn.other.example',
    ]) {
      expect(originAllowed(o, site)).toBe(true);
    }
    for (const o of ['https://evilshop.example', 'https://shop.example.evil', 'null', '']) {
      expect(originAllowed(o, site)).toBe(false);
    }
  });
});
