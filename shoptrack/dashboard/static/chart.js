// The overview chart: uPlot (vendored) over the series in #chart-data.
// Data: {x: [unix seconds], y: [numbers], compare: [numbers] | null, label, compare_label,
//        range_label, total, compare_total (the range's figures, formatted by the server),
//        kind: "money" | "count", money_before, money_after (the app's currency sign)}.
// The legend shows each series' figure for the whole range, and a point's when hovered.
(function () {
  "use strict";
  var box = document.getElementById("chart");
  var source = document.getElementById("chart-data");
  if (!box || !source || typeof uPlot === "undefined") return;
  var data = JSON.parse(source.textContent || "null");
  if (!data || !data.x || !data.x.length) {
    box.innerHTML = '<div class="empty">Nothing to draw in this range yet.</div>';
    return;
  }
  var zone = data.timezone || undefined;
  var hourly = data.interval === "hour";
  // Dates as the rest of the page writes them (shoptrack/dashboard/formats.py and
  // ranges.py: "27 Nov 2026", "27 Nov 2026, 10:00"), in the shop's time zone, whatever
  // the browser's locale and zone.
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function local(ts) { return zone ? uPlot.tzDate(new Date(ts * 1000), zone) : new Date(ts * 1000); }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function day(d) { return d.getDate() + " " + MONTHS[d.getMonth()]; }
  function clock(d) { return two(d.getHours()) + ":" + two(d.getMinutes()); }
  function when(ts) {
    var d = local(ts);
    if (data.interval === "month") return MONTHS[d.getMonth()] + " " + d.getFullYear();
    return day(d) + " " + d.getFullYear() + (hourly ? ", " + clock(d) : "");
  }
  // The x axis: "25 Nov" a day ("Nov" a month, "10:00" an hour), the year (or the day)
  // under the first tick and wherever it changes.  Once drawn, the labels are also left
  // in #chart[data-x-ticks] (a canvas holds no text to read back).
  var drawnTicks = [];
  function ticks(u, splits, axis, space, incr) {
    var before = null;
    var out = splits.map(function (ts) {
      var d = local(ts), label;
      if (incr >= 365 * 86400) label = String(d.getFullYear());
      else if (incr >= 86400) {
        label = incr >= 28 * 86400 ? MONTHS[d.getMonth()] : day(d);
        if (!before || before.getFullYear() !== d.getFullYear()) label += "\n" + d.getFullYear();
      } else {
        label = clock(d);
        if (!before || day(before) !== day(d)) label += "\n" + day(d);
      }
      before = d;
      return label;
    });
    drawnTicks = out;
    return out;
  }
  // As the server formats figures: "$1,234.50", "1,234.50 ₽", "1,234".
  function figure(v, short) {
    if (v == null) return "–";
    if (data.kind !== "money") return v.toLocaleString("en-US", { maximumFractionDigits: 2 });
    var digits = short ? { maximumFractionDigits: 0 } : { minimumFractionDigits: 2, maximumFractionDigits: 2 };
    return (v < 0 ? "−" : "") + (data.money_before || "") + Math.abs(v).toLocaleString("en-US", digits) + (data.money_after || "");
  }
  // A series' legend value: the hovered point's figure, or the whole range's.
  function legend(total) {
    return function (u, v, si, idx) { return idx == null ? (total ? total + " in all" : "") : figure(v); };
  }
  var series = [
    { label: "Date", value: function (u, v, si, idx) { return idx == null || v == null ? data.range_label || "" : when(v); } },
    { label: data.label, stroke: "#2f5bd3", fill: "rgba(47,91,211,0.10)", width: 2, value: legend(data.total) }];
  var rows = [data.x, data.y];
  if (data.compare) {
    series.push({ label: data.compare_label || "Comparison period", stroke: "#9aa3b5", dash: [6, 4], width: 1.5,
                  value: legend(data.compare_total) });
    rows.push(data.compare);
  }
  function size() { return { width: Math.max(260, box.clientWidth), height: 260 }; }
  var plot = new uPlot(Object.assign(size(), {
    series: series,
    scales: { x: { time: true } },
    // Ticks and labels in the shop's time zone, whatever the browser's.
    tzDate: function (ts) { return zone ? uPlot.tzDate(new Date(ts * 1000), zone) : new Date(ts * 1000); },
    // Ticks on whole days unless the chart is by hour (every 2 or 3 days where a phone has
    // no room for each); money on the y axis in the currency.
    axes: [hourly ? { space: 70, values: ticks }
                  : { space: 60, incrs: [86400, 2 * 86400, 3 * 86400, 7 * 86400, 14 * 86400,
                                         30 * 86400, 365 * 86400], values: ticks },
           { size: 70, values: function (u, splits) { return splits.map(function (v) { return figure(v, true); }); } }],
    legend: { live: true },
    hooks: { draw: [function () { box.setAttribute("data-x-ticks", JSON.stringify(drawnTicks)); }] },
    cursor: { points: { size: 6 } }
  }), rows, box);
  window.addEventListener("resize", function () { plot.setSize(size()); });
  box.setAttribute("data-drawn", "true");
})();
