// Live: new events pushed by the server (server-sent events, /dashboard/live/stream);
// polling /dashboard/live/events when EventSource is missing or the stream fails. Pausable.
(function () {
  "use strict";
  var list = document.getElementById("live-list");
  if (!list) return;
  var toggle = document.getElementById("live-toggle");
  var status = document.getElementById("live-status");
  var empty = document.getElementById("live-empty");
  var last = parseInt(list.getAttribute("data-last"), 10) || 0;
  var source = list.getAttribute("data-source");
  var streamUrl = list.getAttribute("data-stream");
  var paused = false, stream = null, timer = null, failures = 0;
  var cardBase = "/dashboard/visitors/card";

  function item(e) {
    var li = document.createElement("li");
    var time = document.createElement("time"); time.textContent = e.at; li.appendChild(time);
    var badge = document.createElement("span"); badge.className = "badge"; badge.textContent = e.label; li.appendChild(badge);
    var text = document.createElement("span"); text.textContent = e.text; li.appendChild(text);
    if (e.uid) {
      var a = document.createElement("a"); a.className = "muted";
      var url = new URL(source, window.location.href);
      var params = new URLSearchParams(url.search); params.set("uid", e.uid);
      a.href = cardBase + "?" + params.toString(); a.textContent = e.uid; li.appendChild(a);
    }
    return li;
  }

  function show(events) {  // newest first
    for (var i = events.length - 1; i >= 0; i--) {
      if (events[i].id <= last) continue;
      list.insertBefore(item(events[i]), list.firstChild);
      last = events[i].id;
    }
    while (list.children.length > 200) list.removeChild(list.lastChild);
    if (list.children.length) empty.hidden = true;
  }

  function loggedOut() {
    stop(); paused = true;
    status.textContent = "Logged out: reload the page to log in.";
    toggle.disabled = true;
  }

  // -- server-sent events ------------------------------------------------------
  function listen() {
    var url = new URL(streamUrl, window.location.href);
    url.searchParams.set("after", String(last));
    stream = new EventSource(url.toString());
    stream.addEventListener("open", function () {
      failures = 0; status.textContent = "Live: new events appear as they arrive";
      list.setAttribute("data-mode", "stream");
    });
    stream.addEventListener("events", function (ev) {
      show(JSON.parse(ev.data).events || []);
      status.textContent = "Live: updated " + new Date().toLocaleTimeString();
    });
    stream.addEventListener("logout", loggedOut);
    stream.addEventListener("error", function () {
      // The browser reconnects by itself; after repeated failures (or a refusal), poll.
      failures += 1;
      if (stream.readyState === EventSource.CLOSED || failures > 3) {
        stream.close(); stream = null; startPolling();
      } else {
        status.textContent = "Connection lost; reconnecting…";
      }
    });
  }

  // -- polling, the fallback ------------------------------------------------------
  function poll() {
    if (paused || document.hidden) return;
    var url = new URL(source, window.location.href);
    url.searchParams.set("after", String(last));
    fetch(url.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { loggedOut(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (body) {
        if (!body) return;
        show(body.events || []);
        status.textContent = "Updated " + new Date().toLocaleTimeString() + " (every 3 seconds)";
      })
      .catch(function () { status.textContent = "Connection lost; retrying…"; });
  }
  function startPolling() {
    list.setAttribute("data-mode", "poll");
    if (!timer) timer = setInterval(poll, 3000);
    poll();
  }

  function start() {
    if (streamUrl && window.EventSource && list.getAttribute("data-mode") !== "poll") listen();
    else startPolling();
  }
  function stop() {
    if (stream) { stream.close(); stream = null; }
    if (timer) { clearInterval(timer); timer = null; }
  }

  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.textContent = paused ? "Resume" : "Pause";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    if (paused) { stop(); status.textContent = "Paused: new events wait until you resume"; }
    else { status.textContent = "Resuming…"; start(); }
  });
  start();
})();
