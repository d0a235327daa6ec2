// Draws the charts from JSON data blocks. Data blocks are never executed (type
// application/json) and are read with JSON.parse, so nothing from the logs becomes code.
"use strict";
(function () {
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent || "[]") : null;
  }
  function days(rows) {
    return rows.map(function (r) { return Date.parse(r.day + "T00:00:00Z") / 1000; });
  }
  function draw(target, series, xs, ys) {
    if (!target || typeof uPlot === "undefined" || xs.length === 0) { return; }
    var width = Math.max(480, Math.min(1100, target.clientWidth || 800));
    new uPlot({ width: width, height: 200, series: series, scales: { x: { time: true } } },
              [xs, ys], target);
  }
  var load = data("load-data");
  if (load) {
    draw(document.getElementById("load-chart"),
         [{}, { label: "people at high+", stroke: "#2e4053", width: 1.5 }],
         days(load), load.map(function (r) { return r.people; }));
  }
})();
