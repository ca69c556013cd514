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
  function when(ts) {
    var opts = hourly ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
                      : { month: "short", day: "numeric", year: data.interval === "month" ? "numeric" : undefined };
    opts.timeZone = zone;
    return new Date(ts * 1000).toLocaleString(undefined, opts);
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
    // Ticks on whole days unless the chart is by hour; money on the y axis in the currency.
    axes: [hourly ? { space: 70 } : { space: 60, incrs: [86400, 7 * 86400, 30 * 86400, 365 * 86400] },
           { size: 70, values: function (u, splits) { return splits.map(function (v) { return figure(v, true); }); } }],
    legend: { live: true },
    cursor: { points: { size: 6 } }
  }), rows, box);
  window.addEventListener("resize", function () { plot.setSize(size()); });
  box.setAttribute("data-drawn", "true");
})();
