/*! Goalpost tracker: no dependencies, no cookies. Apache-2.0. */
// One script, three faces, chosen by the path it is loaded from, so a site switches by changing
// only the host of its existing tag:
//   /script.js      Goalpost: data-website-id, posts Sparklytics bodies to <dir>/api/collect
//   /s.js           Sparklytics: data-website-id, posts to <data-api-host or dir>/e
//   /api/script.js  Rybbit: data-site-id, posts Rybbit bodies to <src before /script.js>/track
// Every face defines window.goalpost, window.sparklytics and window.rybbit. Bodies are JSON sent
// as text/plain (CORS-safelisted: a beacon needs no preflight; the collector parses it as JSON).
(function (w, d) {
  'use strict';
  try {
    var s = d.currentScript;
    if (!s || w.goalpost) return;
    var attr = function (n) {
      return s.getAttribute('data-' + n);
    };
    var flag = function (n, dflt) {
      var v = attr(n);
      return v === null ? dflt : v !== 'false';
    };
    var list = function (n) {
      try {
        var v = JSON.parse(attr(n) || '[]');
        return Array.isArray(v) ? v : [];
      } catch (e) {
        return [];
      }
    };
    var src = s.src.replace(/[?#].*$/, '');
    var dir = src.replace(/\/[^/]*$/, '');
    var ryb = /\/api\/script\.js$/.test(src);
    var spark = /\/s\.js$/.test(src);
    var site = ryb ? attr('site-id') || attr('website-id') : attr('website-id') || attr('site-id');
    if (!site) return;
    var endpoint = ryb
      ? dir + '/track'
      : (attr('api-host') || dir).replace(/\/$/, '') + (spark ? '/e' : '/api/collect');
    var apiKey = attr('api-key');
    var exHash = attr('exclude-hash');
    // Sparklytics tracks hash changes unless data-exclude-hash="true"; Goalpost only on request.
    var hashMode =
      !ryb && (attr('hash') === 'true' || (exHash === null ? spark : exHash === 'false'));
    var nav = w.navigator;
    // Do Not Track and Global Privacy Control are honoured unless the tag opts out.
    var privacy =
      attr('respect-dnt') !== 'false' &&
      (nav.doNotTrack === '1' || w.doNotTrack === '1' || nav.globalPrivacyControl === true);
    var disabled = privacy || attr('disabled') === 'true';
    var trackQuery = flag('track-query', true);
    var debounce = Number(attr('debounce') || (ryb ? 500 : 0)) || 0;
    // Rybbit path patterns: `*` is one segment, `**` anything; a masked path is reported as
    // its pattern, a skipped one sends no pageview.
    var glob = function (p) {
      try {
        return new RegExp(
          '^' +
            String(p)
              .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
              .replace(/\*\*/g, '\u0000')
              .replace(/\*/g, '[^/]+')
              .replace(/\u0000/g, '.*') +
            '$',
        );
      } catch (e) {
        return /$^/;
      }
    };
    var skips = list('skip-patterns').map(glob);
    var maskPats = list('mask-patterns');
    var masks = maskPats.map(glob);
    var find = function (res, path) {
      for (var i = 0; i < res.length; i++) if (res[i].test(path)) return i;
      return -1;
    };
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
    var referrer = d.referrer;
    var uuid = function () {
      try {
        return w.crypto.randomUUID();
      } catch (e) {
        return undefined;
      }
    };
    var post = function (body, url) {
      url = url || endpoint;
      try {
        if (nav.sendBeacon && nav.sendBeacon(url, new Blob([body], { type: 'text/plain' }))) return;
      } catch (e) {
        /* fall back to fetch */
      }
      try {
        w.fetch(url, {
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
    // kind: pageview | event | outbound | performance; props: an object or null.
    var send = function (kind, name, props) {
      if (disabled) return;
      var loc = w.location;
      var path = loc.pathname;
      var m = find(masks, path);
      if (m >= 0) path = String(maskPats[m]);
      var query = trackQuery ? loc.search : '';
      var scr = w.screen;
      var p;
      if (ryb) {
        p = {
          site_id: site,
          hostname: loc.hostname,
          pathname: path,
          querystring: query,
          screenWidth: scr.width,
          screenHeight: scr.height,
          language: nav.language,
          page_title: d.title,
          referrer: kind === 'pageview' ? referrer : '',
          type: kind === 'event' ? 'custom_event' : kind,
          event_name: kind === 'event' ? name.slice(0, 200) : '',
        };
        if (kind === 'performance') for (var v in props) p[v] = props[v];
        else if (props) p.properties = JSON.stringify(props);
        if (uid) p.user_id = uid;
        if (apiKey) p.api_key = apiKey;
      } else {
        if (kind === 'performance') return; // the Sparklytics body has no web vitals
        p = {
          website_id: site,
          type: kind === 'pageview' ? 'pageview' : 'event',
          url: loc.origin + path + query + (hashMode ? loc.hash : ''),
          language: nav.language,
          screen: scr.width + 'x' + scr.height,
          screen_width: scr.width,
          screen_height: scr.height,
          page_title: d.title,
        };
        if (kind !== 'pageview') p.event_name = (kind === 'outbound' ? kind : name).slice(0, 50);
        if (props) p.event_data = props;
        if (kind === 'pageview' && referrer) p.referrer = referrer;
        if (uid) p.visitor_id = uid;
      }
      // The landing referrer is sent once: later pages of the visit come from the site itself.
      if (kind === 'pageview') referrer = '';
      for (var k in utm) p[k] = utm[k];
      p.event_id = uuid();
      post(JSON.stringify(p));
    };
    var safe = function (fn) {
      return function (a, b, c) {
        try {
          return fn(a, b, c);
        } catch (e) {
          /* never throw into the page */
        }
      };
    };
    var lastUrl = null;
    var depthSent = {};
    var pageview = function (force) {
      var loc = w.location;
      var url = loc.pathname + (trackQuery ? loc.search : '') + (hashMode ? loc.hash : '');
      if (url === lastUrl && !force) return;
      lastUrl = url;
      depthSent = {};
      if (find(skips, loc.pathname) >= 0) return;
      send('pageview', null, null);
    };
    var timer = null;
    var spaView = function () {
      if (!debounce) return pageview();
      clearTimeout(timer);
      timer = setTimeout(safe(pageview), debounce);
    };
    var obj = function (v) {
      return v && typeof v === 'object' ? v : null;
    };
    var track = safe(function (name, props) {
      if (typeof name === 'string' && name) send('event', name, obj(props));
    });
    var identify = safe(function (id) {
      uid = id ? String(id).slice(0, 200) : null;
      store('localStorage', 'gp_uid', uid);
    });
    var reset = function () {
      identify(null);
    };
    var outbound = safe(function (url, text, target) {
      send('outbound', null, { url: String(url), text: text || '', target: target || '_self' });
    });
    var view = safe(function () {
      pageview(true);
    });
    w.goalpost = { track: track, identify: identify, reset: reset, pageview: view };
    if (!w.sparklytics) w.sparklytics = { track: track, identify: identify, reset: reset };
    if (!w.rybbit)
      w.rybbit = {
        pageview: view,
        event: track,
        trackOutbound: outbound,
        identify: identify,
        clearUserId: reset,
        getUserId: function () {
          return uid;
        },
      };

    var listen = function (target, type, fn) {
      target.addEventListener(type, safe(fn), { capture: true, passive: true });
    };
    // Autocapture (issue 16), every face: outbound links, file downloads, button clicks, copies
    // and form submissions, as Rybbit autocapture events posted to the host's /api/track. The
    // website's settings (GET /api/site/tracking-config/:site) decide what is captured; a
    // data-track-…="false" attribute on the tag turns a capture off, never on.
    var base = ryb ? dir.replace(/\/api$/, '') : (attr('api-host') || dir).replace(/\/$/, '');
    var trackUrl = ryb ? endpoint : base + '/api/track';
    // The defaults of shared/goals/tracking-settings.ts, put in by the route serving this file
    // (ingest/routes/script.route.ts); the website's own settings replace them once fetched.
    var cfg = /*@tracking-defaults*/ {};
    var offAttr = {
      trackOutbound: 'track-outbound',
      trackFileDownloads: 'track-file-downloads',
      trackButtonClicks: 'track-button-clicks',
      trackCopy: 'track-copy',
      trackFormInteractions: 'track-form-interactions',
    };
    var on = function (k) {
      return cfg[k] === true && attr(offAttr[k]) !== 'false';
    };
    try {
      w.fetch(base + '/api/site/tracking-config/' + encodeURIComponent(site), {
        credentials: 'omit',
      })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (c) {
          if (!c || typeof c !== 'object') return;
          for (var k in cfg) if (typeof c[k] === typeof cfg[k]) cfg[k] = c[k];
        })
        .catch(function () {});
    } catch (e) {
      /* the defaults stay */
    }
    var sendAuto = function (kind, props) {
      if (disabled) return;
      var loc = w.location;
      var path = loc.pathname;
      var m = find(masks, path);
      if (m >= 0) path = String(maskPats[m]);
      var p = {
        site_id: site,
        hostname: loc.hostname,
        pathname: path,
        querystring: trackQuery ? loc.search : '',
        screenWidth: w.screen.width,
        screenHeight: w.screen.height,
        language: nav.language,
        page_title: d.title,
        referrer: '',
        type: kind,
        event_name: '',
        properties: JSON.stringify(props).slice(0, 2048),
        event_id: uuid(),
      };
      if (uid) p.user_id = uid;
      if (apiKey) p.api_key = apiKey;
      for (var k in utm) p[k] = utm[k];
      post(JSON.stringify(p), trackUrl);
    };
    var dataProps = function (el, props) {
      for (var i = 0; i < el.attributes.length; i++) {
        var n = el.attributes[i].name;
        if (n.indexOf('data-rybbit-prop-') === 0) props[n.slice(17)] = el.attributes[i].value;
      }
      return props;
    };
    // Sparklytics `link_click` (data-track-links="true" for every link, "outbound" for external).
    var links = spark ? attr('track-links') : null;
    listen(d, 'click', function (e) {
      var t = e.target;
      if (!t || !t.closest) return;
      var a = t.closest('a[href]');
      if (a && /^https?:/.test(a.href)) {
        var ext = a.host !== w.location.host;
        var text = (a.innerText || a.textContent || '').trim().slice(0, 200);
        var file = /\.([a-z0-9]+)$/i.exec(a.pathname);
        var isFile = !!file && cfg.fileExtensions.indexOf(file[1].toLowerCase()) >= 0;
        if (isFile && on('trackFileDownloads'))
          sendAuto('file_download', { url: a.href, text: text });
        else if (ext && on('trackOutbound'))
          sendAuto('outbound', { url: a.href, text: text, target: a.target || '_self' });
        if (links === 'true' || (links === 'outbound' && ext))
          send('event', 'link_click', { url: a.href, text: text, outbound: ext });
      }
      if (on('trackButtonClicks')) {
        var b = t.closest('button,[role=button],input[type=submit],input[type=button]');
        if (b && !b.hasAttribute('data-rybbit-event')) {
          var label = (b.innerText || b.value || b.getAttribute('aria-label') || '').trim();
          sendAuto('button_click', dataProps(b, { text: label.slice(0, 100) }));
        }
      }
    });
    listen(d, 'copy', function () {
      if (!on('trackCopy')) return;
      var sel = w.getSelection && w.getSelection();
      var text = sel ? String(sel) : '';
      if (!text.trim()) return;
      var node = sel.anchorNode;
      var el = node && node.nodeType === 1 ? node : node && node.parentElement;
      var props = { text: text.slice(0, 500), sourceElement: el ? el.tagName.toLowerCase() : '' };
      if (text.length > 500) props.textLength = text.length;
      sendAuto('copy', props);
    });
    listen(d, 'submit', function (e) {
      if (!on('trackFormInteractions')) return;
      var f = e.target;
      if (!f || f.tagName !== 'FORM') return;
      sendAuto(
        'form_submit',
        dataProps(f, {
          formId: f.id || '',
          formName: f.getAttribute('name') || '',
          formAction: f.action || w.location.href,
          method: (f.getAttribute('method') || 'get').toUpperCase(),
          fieldCount: f.elements ? f.elements.length : 0,
        }),
      );
    });
    var forms = spark && attr('track-forms') === 'true';
    if (forms) {
      listen(d, 'submit', function (e) {
        var f = e.target;
        send('event', 'form_submit', {
          form_id: f.id || null,
          form_name: f.getAttribute('name'),
          action: f.action || null,
        });
      });
    }
    var depthAttr = spark ? attr('track-scroll-depth') : null;
    if (depthAttr && depthAttr !== 'false') {
      var marks = (depthAttr === 'true' ? '25,50,75,100' : depthAttr).split(',').map(Number);
      listen(w, 'scroll', function () {
        var el = d.documentElement;
        var pct = ((w.scrollY + w.innerHeight) / Math.max(el.scrollHeight, 1)) * 100;
        for (var i = 0; i < marks.length; i++) {
          var t = marks[i];
          if (t > 0 && pct >= t && !depthSent[t]) {
            depthSent[t] = 1;
            send('event', 'scroll_depth', { depth: t });
          }
        }
      });
    }
    // Web vitals (Rybbit face, data-web-vitals="true"): one `performance` sample per page load,
    // sent when the page is hidden. INP is approximated by the slowest interaction, CLS by the
    // sum of unexpected shifts.
    if (ryb && attr('web-vitals') === 'true' && w.PerformanceObserver) {
      var vit = { lcp: null, cls: null, inp: null, fcp: null, ttfb: null };
      var observe = function (type, fn) {
        try {
          new w.PerformanceObserver(function (l) {
            l.getEntries().forEach(safe(fn));
          }).observe({ type: type, buffered: true, durationThreshold: 40 });
        } catch (e) {
          /* unsupported entry type */
        }
      };
      observe('largest-contentful-paint', function (e) {
        vit.lcp = Math.round(e.startTime);
      });
      observe('paint', function (e) {
        if (e.name === 'first-contentful-paint') vit.fcp = Math.round(e.startTime);
      });
      observe('layout-shift', function (e) {
        if (!e.hadRecentInput) vit.cls = Math.round(((vit.cls || 0) + e.value) * 1e4) / 1e4;
      });
      observe('event', function (e) {
        if (e.interactionId && e.duration > (vit.inp || 0)) vit.inp = Math.round(e.duration);
      });
      var vitalsSent = false;
      var flush = function (e) {
        if (vitalsSent || (e.type !== 'pagehide' && d.visibilityState !== 'hidden')) return;
        vitalsSent = true;
        var n = w.performance.getEntriesByType('navigation')[0];
        if (n) vit.ttfb = Math.round(n.responseStart);
        send('performance', null, vit);
      };
      listen(d, 'visibilitychange', flush);
      listen(w, 'pagehide', flush);
    }

    // data-auto-track="false" (Goalpost) turns off automatic pageviews entirely;
    // data-auto-track-pageview="false" (Rybbit) only the initial one.
    if (!flag('auto-track', true)) return;
    if (flag('track-spa', true)) {
      var wrap = function (name) {
        var orig = w.history[name];
        if (!orig) return;
        w.history[name] = function () {
          var r = orig.apply(this, arguments);
          safe(spaView)();
          return r;
        };
      };
      wrap('pushState');
      wrap('replaceState');
      listen(w, 'popstate', function () {
        spaView();
      });
      if (hashMode)
        listen(w, 'hashchange', function () {
          spaView();
        });
    }
    if (!flag('auto-track-pageview', true)) return;
    if (d.readyState === 'loading') listen(d, 'DOMContentLoaded', view);
    else pageview();
  } catch (e) {
    /* never throw into the page */
  }
})(window, document);
