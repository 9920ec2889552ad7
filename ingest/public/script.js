/*! Goalpost tracker: no dependencies, no cookies. Apache-2.0. */
(function (w, d) {
  'use strict';
  try {
    var s = d.currentScript;
    if (!s || w.goalpost) return;
    var attr = function (n) {
      return s.getAttribute('data-' + n);
    };
    var site = attr('website-id') || attr('site-id');
    if (!site) return;
    var api = (attr('api-host') || s.src.replace(/\/[^/]*(\?.*)?$/, '')).replace(/\/$/, '');
    var endpoint = api + '/api/collect';
    var hashMode = attr('hash') === 'true' || attr('exclude-hash') === 'false';
    var auto = attr('auto-track') !== 'false';
    var nav = w.navigator;
    // Do Not Track and Global Privacy Control are honoured unless the tag opts out.
    var privacy =
      attr('respect-dnt') !== 'false' &&
      (nav.doNotTrack === '1' || w.doNotTrack === '1' || nav.globalPrivacyControl === true);
    var disabled = privacy || attr('disabled') === 'true';
    var store = function (kind, key, value) {
      try {
        var st = w[kind];
        if (value === undefined) return st.getItem(key);
        if (value === null) st.removeItem(key);
        else st.setItem(key, value);
      } catch (e) {
        /* storage blocked */
      }
      return null;
    };
    var UTM = ['source', 'medium', 'campaign', 'term', 'content'];
    var utm = {};
    (function () {
      var q = new URLSearchParams(w.location.search);
      var found = false;
      for (var i = 0; i < UTM.length; i++) {
        var v = q.get('utm_' + UTM[i]);
        if (v) {
          utm['utm_' + UTM[i]] = v;
          found = true;
        }
      }
      // The landing page's campaign is kept for the tab's session and repeated on SPA pages.
      if (found) store('sessionStorage', 'gp_utm', JSON.stringify(utm));
      else utm = JSON.parse(store('sessionStorage', 'gp_utm') || '{}') || {};
    })();
    var uid = store('localStorage', 'gp_uid');
    var uuid = function () {
      try {
        return w.crypto.randomUUID();
      } catch (e) {
        return undefined;
      }
    };
    var send = function (payload) {
      if (disabled) return;
      payload.website_id = site;
      payload.url = w.location.href;
      payload.language = nav.language;
      payload.event_id = uuid();
      if (uid) payload.visitor_id = uid;
      for (var k in utm) payload[k] = utm[k];
      var body = JSON.stringify(payload);
      // text/plain is CORS-safelisted: no preflight; the collector parses it as JSON.
      try {
        if (nav.sendBeacon && nav.sendBeacon(endpoint, new Blob([body], { type: 'text/plain' })))
          return;
      } catch (e) {
        /* fall back to fetch */
      }
      try {
        w.fetch(endpoint, {
          method: 'POST',
          body: body,
          keepalive: true,
          mode: 'no-cors',
          credentials: 'omit',
          headers: { 'content-type': 'text/plain' },
        }).catch(function () {});
      } catch (e) {
        /* never throw into the page */
      }
    };
    var lastUrl = null;
    var firstView = true;
    var pageview = function () {
      var loc = w.location;
      var url = loc.origin + loc.pathname + loc.search + (hashMode ? loc.hash : '');
      if (url === lastUrl) return;
      lastUrl = url;
      var p = {
        type: 'pageview',
        screen_width: w.screen.width,
        screen_height: w.screen.height,
        page_title: d.title,
      };
      if (firstView && d.referrer) p.referrer = d.referrer;
      firstView = false;
      send(p);
    };
    var track = function (name, props) {
      try {
        if (typeof name !== 'string' || !name) return;
        var p = { type: 'event', event_name: name.slice(0, 50) };
        if (props && typeof props === 'object') p.event_data = props;
        send(p);
      } catch (e) {
        /* never throw into the page */
      }
    };
    var identify = function (id) {
      uid = id ? String(id).slice(0, 200) : null;
      store('localStorage', 'gp_uid', uid);
    };
    var api_ = {
      track: track,
      identify: identify,
      reset: function () {
        identify(null);
      },
      pageview: pageview,
    };
    w.goalpost = api_;
    if (!w.sparklytics) w.sparklytics = api_;
    if (!auto) return;
    var wrap = function (name) {
      var orig = w.history[name];
      if (!orig) return;
      w.history[name] = function () {
        var r = orig.apply(this, arguments);
        try {
          pageview();
        } catch (e) {
          /* ignore */
        }
        return r;
      };
    };
    wrap('pushState');
    wrap('replaceState');
    w.addEventListener('popstate', pageview);
    if (hashMode) w.addEventListener('hashchange', pageview);
    if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', pageview);
    else pageview();
  } catch (e) {
    /* never throw into the page */
  }
})(window, document);
