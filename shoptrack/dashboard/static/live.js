// Live: poll for events newer than the newest shown; pausable.
(function () {
  "use strict";
  var list = document.getElementById("live-list");
  if (!list) return;
  var toggle = document.getElementById("live-toggle");
  var status = document.getElementById("live-status");
  var empty = document.getElementById("live-empty");
  var last = parseInt(list.getAttribute("data-last"), 10) || 0;
  var source = list.getAttribute("data-source");
  var paused = false;
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

  function poll() {
    if (paused || document.hidden) return;
    var url = new URL(source, window.location.href);
    url.searchParams.set("after", String(last));
    fetch(url.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { status.textContent = "Logged out: reload the page to log in."; paused = true; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (body) {
        if (!body) return;
        var events = body.events || [];
        for (var i = events.length - 1; i >= 0; i--) {
          list.insertBefore(item(events[i]), list.firstChild);
          last = Math.max(last, events[i].id);
        }
        while (list.children.length > 200) list.removeChild(list.lastChild);
        if (list.children.length) empty.hidden = true;
        status.textContent = "Updated " + new Date().toLocaleTimeString();
      })
      .catch(function () { status.textContent = "Connection lost; retrying…"; });
  }

  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.textContent = paused ? "Resume" : "Pause";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    status.textContent = paused ? "Paused" : "Updating every 3 seconds";
    if (!paused) poll();
  });
  setInterval(poll, 3000);
})();
