/**
 * What the real Sparklytics script (s.js) sends, captured in headless Chromium (issue 7): a
 * landing pageview with UTMs, a custom event with props, and an SPA navigation that repeats
 * the landing UTMs from sessionStorage.
 */
export function sparklyticsBodies(websiteId: string) {
  return [
    {
      website_id: websiteId,
      type: 'pageview',
      url: 'http://localhost:4000/spark?utm_source=google',
      language: 'en-US',
      screen: '1280x720',
      screen_width: 1280,
      screen_height: 720,
      utm_source: 'google',
    },
    {
      website_id: websiteId,
      type: 'event',
      url: 'http://localhost:4000/spark?utm_source=google',
      event_name: 'purchase',
      event_data: { amount: 49.99 },
      language: 'en-US',
    },
    {
      website_id: websiteId,
      type: 'pageview',
      url: 'http://localhost:4000/spark/next',
      language: 'en-US',
      screen: '1280x720',
      screen_width: 1280,
      screen_height: 720,
      utm_source: 'google',
    },
  ] as Array<Record<string, unknown>>;
}
