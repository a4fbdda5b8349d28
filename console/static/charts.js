// Draws every chart on the page. Options are built on the server (go-echarts)
// and carried in a data attribute, so no inline script is needed and the
// Content-Security-Policy can forbid them.
(function () {
  var charts = [];
  document.querySelectorAll("[data-option]").forEach(function (el) {
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(el.dataset.option));
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
