/*
 * shoptrack browser tracker: Convead's snippet API (convead('event', ...))
 * on shoptrack's wire format (POST /watch/event). Plain ES2017, no
 * dependencies, no build step; served by shoptrack/web/tracker.py.
 *
 * window.ConveadSettings is read again at every event, so a single-page
 * shop may set visitor_uid after a login. Keys:
 *   app_key        else <script data-app-key="...">, else the key in our
 *                  src path /widgets/{ts}/widget-{app_key}.js
 *   visitor_uid    the shop's id of the logged-in customer
 *   visitor_info   sent with every event, under the call's visitor_info
 *   guest_uid      forces the guest id (else the convead_guest_uid cookie)
 *   onload()       called once loaded, before the queued calls replay
 *   onready()      called after the queued calls replayed
 *   onevent(type, properties, visitor_info, attributes)  for each event sent
 *   disable_auto_event_link    no `link` when the page opens
 *   disable_state_event_link   no `link` when the URL changes (history API)
 *   disable_auto_event_file    no `file` on clicks of links to files
 *   disable_auto_event_mailto  no `mailto` on clicks of mailto: links
 *   debug_mode     logs events and sends to console.debug
 *
 * Calls: convead('event', type, properties, visitor_info, attributes);
 * convead('tracking' or 'track', 'disable' or 'enable') sets or clears the
 * cookie convead_track_disable: while it is set, nothing is sent (nor is a
 * guest cookie made). A 'login' event's properties.visitor_uid becomes the
 * page's visitor_uid.
 *
 * Delivery: every event gets a random message_id when it is made, kept
 * through every retry, so the server stores it once however often it
 * arrives. Events wait in a localStorage outbox shared by the shop's tabs
 * until the server has answered; one request at a time, oldest first, since
 * cart events depend on order. A send that fails (network error, 408, 429,
 * 5xx) is retried with backoff, on the next page and on `online`. Another
 * 4xx is dropped: retrying cannot make the server accept it.
 */
// The try, and safe() below for what runs later: no error of ours ever
// reaches the page.
try {
(function (w, d) {
  'use strict';
  var P = 'convead_';
  var GUEST = P + 'guest_uid';
  var OFF = P + 'track_disable';
  var OUTBOX = P + 'outbox';
  var ENTRY = OUTBOX + '_';
  var FAILS = P + 'failures';
  var MAX_OUTBOX = 100;
  var YEAR = 31536000;
  var FILE = /\.(pdf|zip|rar|7z|gz|tgz|tar|bz2|xz|docx?|xlsx?|pptx?|csv|txt|rtf|odt|ods|odp|epub|mp3|wav|mp4|mov|avi|mkv|dmg|exe|msi|apk|iso)$/i;

  var stub = w.convead;
  // Loaded twice (two snippets): the first copy stays in charge.
  if (stub && stub.shoptrack) return;

  function settings() { return w.ConveadSettings || {}; }
  function obj(x) { return x && typeof x == 'object' ? x : {}; }

  function log() {
    if (settings().debug_mode) console.debug.apply(console, ['[convead]'].concat(Array.from(arguments)));
  }

  // Wraps every entry point (API, listeners, timers, promise callbacks).
  function safe(f) {
    return function () {
      try { return f.apply(this, arguments); } catch (e) { log('error', e); }
    };
  }

  // ---- Where to send: our own <script> tag ----

  var me = d.currentScript || Array.from(d.scripts).find(function (s) {
    return /\/(tracker\.js|widgets\/)/.test(s.src);
  }) || d.createElement('script');
  var src = me.src;
  // The server is wherever the script came from (keeping a path prefix,
  // for a shoptrack proxied under /something/).
  var base = (src.match(/^(.*?)\/(?:tracker\.js|widgets\/)/) || [])[1] || (src && new URL(src).origin) || '';
  var ENDPOINT = base + '/watch/event';
  var srcKey = (src.match(/\/widget-([^/?#]+)\.js/) || [])[1];

  function appKey() {
    return settings().app_key || me.getAttribute('data-app-key') || (srcKey && decodeURIComponent(srcKey));
  }

  // ---- Cookies and storage ----

  function cookie(name) {
    var m = d.cookie.match('(?:^|; )' + name + '=([^;]*)');
    return m ? decodeURIComponent(m[1]) : null;
  }

  // The widest domain that takes a cookie: shop.com for www.shop.com (so
  // both share the guest id), not co.uk for shop.co.uk (the browser refuses
  // public suffixes). '' (host-only) for localhost and IP addresses.
  var cookieDomain;
  function baseDomain() {
    if (cookieDomain == null) {
      cookieDomain = '';
      var host = location.hostname, parts = host.split('.');
      if (!/^[\d.]+$|:/.test(host)) {
        for (var i = parts.length - 2; i >= 0 && !cookieDomain; i--) {
          var probe = P + 'probe=1; path=/; domain=' + parts.slice(i).join('.');
          d.cookie = probe;
          if (cookie(P + 'probe')) {
            cookieDomain = parts.slice(i).join('.');
            d.cookie = probe + '; max-age=0';
          }
        }
      }
    }
    return cookieDomain;
  }

  function setCookie(name, value, maxAge) {
    var c = name + '=' + encodeURIComponent(value) + '; path=/; max-age=' + maxAge + '; SameSite=Lax';
    d.cookie = c + (baseDomain() && '; domain=' + baseDomain());
    // Deleting: also remove a host-only copy.
    if (!maxAge) d.cookie = c;
  }

  // localStorage may be missing, full or throw (privacy modes): then this
  // page keeps in memory what it could not write. Saving null removes.
  var mem = {};
  function load(key) {
    var v;
    try { v = JSON.parse(localStorage.getItem(key)); } catch (e) { /* blocked */ }
    return v == null ? mem[key] : v;
  }
  function save(key, value) {
    mem[key] = value;
    try {
      if (value == null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
      delete mem[key];
    } catch (e) { /* full or blocked */ }
  }

  function hex() {
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  // ---- Identity ----

  var guestSaved;
  // The guest id, from settings, the cookie, or its localStorage copy (which
  // restores a cookie the browser dropped); created when none has it. The
  // first call on a page renews the cookie for another year.
  function guestUid() {
    var uid = settings().guest_uid || cookie(GUEST) || load(GUEST);
    uid = String(uid || hex());
    if (uid != guestSaved) {
      setCookie(GUEST, uid, YEAR);
      save(GUEST, uid);
      guestSaved = uid;
    }
    return uid;
  }

  function disabled() { return cookie(OFF) != null; }

  // ---- Events ----

  var referrer = d.referrer;
  var lastUrl = location.href;

  function track(type, properties, visitorInfo, attributes, leaving) {
    var s = settings(), key = appKey();
    if (disabled() || !key) return log('not sent', type, key ? OFF : 'no app_key');
    var guest = guestUid();
    var visitor = s.visitor_uid ? String(s.visitor_uid) : undefined;
    var event = {
      type: type,
      app_key: key,
      visitor_uid: visitor,
      guest_uid: guest,
      domain: location.hostname.toLowerCase(),
      host: location.host,
      url: location.href,
      path: location.pathname + location.search,
      title: d.title,
      referrer: referrer,
      properties: obj(properties),
      visitor_info: Object.assign({}, obj(s.visitor_info), obj(visitorInfo)),
      attributes: obj(attributes),
      // randomUUID exists on secure (https) pages only.
      message_id: crypto.randomUUID ? crypto.randomUUID() : hex()
    };
    var form = { app_key: key };
    if (visitor) form.visitor_uid = visitor;
    form.guest_uid = guest;
    form.data = JSON.stringify(event);
    log('event', type, event);
    // A click that leaves the page: sendBeacon outlives it.
    if (!(leaving && !failures && navigator.sendBeacon && beacon(form))) {
      add(form, event.message_id);
      pump();
    }
    if (typeof s.onevent == 'function') safe(s.onevent)(type, event.properties, event.visitor_info, event.attributes);
  }

  // ---- Delivery ----
  // The outbox holds every event not yet answered, from this page, earlier
  // ones and other tabs, each under its own key in localStorage
  // (convead_outbox_<message_id>: {t: when made, f: the form}). So no tab
  // ever rewrites (and loses) what another one added: a tab writes only its
  // new events and removes only those it has sent. One tab at a time sends
  // (under a Web Lock where the browser has them), oldest first; without
  // locks two tabs may send the same event, which is then stored once.

  var busy;      // this page is sending (or waiting for the lock)
  var inflight;  // the outbox key of this page's request in flight
  var failures = load(FAILS) || 0;
  var retryAt = 0;
  var retryTimer;
  var made = 0;

  function outbox() {
    var keys = Object.keys(mem), q = [];
    try { keys = keys.concat(Object.keys(localStorage)); } catch (e) { /* blocked */ }
    keys.forEach(function (k, i) {
      var e = !k.indexOf(ENTRY) && keys.indexOf(k) == i && load(k);
      if (e && e.f) q.push((e.k = k, e));
    });
    return q.sort(function (a, b) { return a.t - b.t; });
  }

  // Adds an event (the oldest dropped past the bound).
  function add(form, id) {
    var q = outbox();
    while (q.length >= MAX_OUTBOX) save(q.shift().k, null);
    // Ordered even when several are made in one millisecond.
    save(ENTRY + id, { t: made = Math.max(Date.now(), made + 1e-3), f: form });
  }

  var pump = safe(function () {
    if (busy || disabled() || Date.now() < retryAt) return;
    busy = 1;
    var locks = navigator.locks;
    // No lock to be had (an opaque origin): send anyway.
    if (locks) locks.request(OUTBOX, drain).catch(drain);
    else drain();
  });

  // Sends the oldest event of the outbox, then the next, until it is empty
  // or a send fails. The lock is held until the promise returned settles.
  var drain = safe(function () {
    var e = !disabled() && outbox()[0];
    if (!e) return busy = 0;
    inflight = e.k;
    return post(e.f).then(safe(function (ok) {
      inflight = 0;
      if (ok) {
        save(e.k, null);
        if (failures) save(FAILS, failures = 0);
        return drain();
      }
      busy = 0;
      save(FAILS, ++failures);
      var delay = Math.min(1000 * Math.pow(2, failures), 300000);
      retryAt = Date.now() + delay;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(pump, delay);
    }));
  });

  function body(form) { return new URLSearchParams(form); }

  // Resolves true when the event is done with (accepted, or refused with a
  // 4xx), false when it should be tried again later.
  function post(form) {
    var b = body(form);
    return fetch(ENDPOINT, {
      method: 'POST',
      body: b,
      // Browsers cap keepalive bodies at 64 KB in flight.
      keepalive: String(b).length < 60000,
      mode: 'cors',
      credentials: 'omit',
      // A hung request would keep every tab waiting.
      signal: AbortSignal.timeout && AbortSignal.timeout(30000)
    }).then(function (r) {
      log('sent', r.status);
      return r.status < 500 && r.status != 429 && r.status != 408;
    }, function (e) {
      log('send failed', e);
      // Leaving the page also rejects its keepalive fetch, though the
      // request goes on and arrives. So decide a moment later: a page
      // being left runs no more timers, and counts no failure. (The event
      // stays in the outbox: the next page sends it again, stored once.)
      return new Promise(function (resolve) { setTimeout(resolve, 50, false); });
    });
  }

  function beacon(form) { return navigator.sendBeacon(ENDPOINT, body(form)); }

  // The page is being hidden or left: what is still queued goes by
  // sendBeacon, which outlives the page. The request in flight is a
  // keepalive fetch and also goes on (and stays in the outbox, in case).
  // While the server is failing, the queue waits in the outbox instead,
  // since a beacon's fate is unknown.
  function leave() {
    checkUrl();
    if (disabled() || failures || !navigator.sendBeacon) return;
    outbox().every(function (e) {
      return e.k == inflight || (beacon(e.f) && !save(e.k, null));
    });
  }

  // ---- Automatic events ----

  // The part of the URL that makes a new page: a plain #anchor does not,
  // a hash route (#/cart, #!/cart) does.
  function page() {
    var h = location.hash;
    return location.pathname + location.search + (/^#!?\//.test(h) ? h : '');
  }
  var tracked = page();

  // After a history change: a `link` for a new URL, with the previous
  // URL as referrer.
  var checkUrl = safe(function () {
    if (page() == tracked) return;
    tracked = page();
    referrer = lastUrl;
    lastUrl = location.href;
    if (!settings().disable_state_event_link) track('link');
  });

  // Checked a little later, once the app has set the new page's title.
  function urlChanged() { setTimeout(checkUrl, 100); }

  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      urlChanged();
      return result;
    };
  });

  var onClick = safe(function (e) {
    var a = e.target.closest && e.target.closest('a[href]');
    if (!a) return;
    var s = settings(), href = String(a.href);
    if (/^mailto:/i.test(href)) {
      if (!s.disable_auto_event_mailto) {
        track('mailto', { email: decodeURIComponent(href.slice(7).split('?')[0]) }, 0, 0, 1);
      }
    } else if ((a.hasAttribute('download') || FILE.test(a.pathname)) && !s.disable_auto_event_file) {
      track('file', { file_url: href, file_title: a.textContent.trim().slice(0, 250) }, 0, 0, 1);
    }
  });

  // ---- The API that replaces the stub ----

  function convead(command, a, b, c, e) {
    if (command == 'event' && a && typeof a == 'string') {
      // A login: this visitor_uid goes on every later event of the page.
      if (a == 'login' && obj(b).visitor_uid) (w.ConveadSettings = settings()).visitor_uid = b.visitor_uid;
      track(a, b, c, e);
    } else if (command == 'tracking' || command == 'track') {
      if (a == 'disable') {
        setCookie(OFF, '1', 10 * YEAR);
        outbox().forEach(function (e) { save(e.k, null); });
      } else if (a == 'enable') {
        setCookie(OFF, '', 0);
        pump();
      }
    } else {
      log('unknown call', Array.from(arguments));
    }
  }

  safe(function () {
    var api = safe(convead);
    api.shoptrack = 1;
    w.convead = api;
    var s = settings();
    if (!appKey()) console.warn('[convead] no app_key: set ConveadSettings.app_key');
    // What an older tracker left queued: one list, without message_ids.
    var old = load(OUTBOX);
    save(OUTBOX, null);
    if (old && Array.isArray(old.q)) old.q.forEach(function (f) { add(f, hex()); });
    if (typeof s.onload == 'function') safe(s.onload)();
    if (!s.disable_auto_event_link) track('link');
    ((stub && stub.q) || []).forEach(function (args) { api.apply(null, args); });
    pump();
    w.addEventListener('popstate', urlChanged);
    w.addEventListener('pagehide', safe(leave));
    d.addEventListener('visibilitychange', safe(function () {
      if (d.visibilityState == 'hidden') leave();
    }));
    w.addEventListener('online', safe(function () { retryAt = 0; pump(); }));
    d.addEventListener('click', onClick, true);
    if (typeof s.onready == 'function') safe(s.onready)();
  })();
})(window, document);
} catch (e) { /* the page goes on without tracking */ }
