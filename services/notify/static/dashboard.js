// Draws the dashboard's charts from the JSON the server embedded in the page (no inline script: CSP).
document.addEventListener("DOMContentLoaded", function () {
  var source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var chart = echarts.init(el);
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
  }
  var axis = { type: "category", data: data.tracks, axisLabel: { interval: 0 } };
  // Stacked: submitted + not yet submitted = expected, so each bar's height is what the track expects.
  var missing = data.orgs_expected.map(function (n, i) { return Math.max(0, n - data.orgs_submitted[i]); });
  draw("chart-orgs", {
    tooltip: { trigger: "axis" }, legend: {}, xAxis: axis, yAxis: { type: "value", name: "组织数" },
    series: [{ name: "已提交组织", type: "bar", stack: "orgs", data: data.orgs_submitted },
             { name: "未提交组织", type: "bar", stack: "orgs", data: missing }]
  });
  var names = { submitted: "已提交", in_progress: "进行中", withdrawn: "已撤回", forwarded: "已报送" };
  draw("chart-works", {
    tooltip: { trigger: "axis" }, legend: {}, xAxis: axis, yAxis: { type: "value" },
    series: ["submitted", "in_progress", "withdrawn"].map(function (k) {
      return { name: names[k], type: "bar", stack: "works", data: data.works[k] };
    }).concat([{ name: names.forwarded, type: "bar", data: data.works.forwarded }])
  });
  draw("chart-rates", {
    tooltip: { trigger: "axis" }, xAxis: { type: "category", data: data.buckets, name: "组织提交率" },
    yAxis: { type: "value", name: "高校数" }, series: [{ name: "高校数", type: "bar", data: data.histogram }]
  });
});
