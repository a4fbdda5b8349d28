// Draws every chart on the page. Options are built on the server (go-echarts)
// and carried in a data attribute, so no inline script is needed and the
// Content-Security-Policy can forbid them. A chart with data-links leads
// a click on a point to its page: links[series][point], local paths only.
(function () {
  var charts = [];
  document.querySelectorAll("[data-option]").forEach(function (el) {
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(el.dataset.option));
    if (el.dataset.links) {
      var links = JSON.parse(el.dataset.links);
      chart.on("click", function (p) {
        var s = links[p.seriesIndex], u = s && s[p.dataIndex];
        if (u && (u.charAt(0) === "/" || u.charAt(0) === "#") && u.charAt(1) !== "/") window.location.href = u;
      });
    }
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
