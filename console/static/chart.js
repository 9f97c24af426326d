// A tiny line chart in inline SVG: one polyline per series over a shared time axis.
"use strict";

const Chart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777",
                  "#4b5563"];
  const WIDTH = 560;
  const HEIGHT = 160;
  const PAD = { left: 44, right: 8, top: 10, bottom: 20 };

  function svg(tag, attributes) {
    const element = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
    return 10 * power;
  }

  // times: Unix seconds; series: {name: [values]} aligned with times.
  function draw(container, times, series, { unit = "/s" } = {}) {
    const names = Object.keys(series);
    const values = names.flatMap((name) => series[name]);
    const top = niceMax(Math.max(0, ...values));
    const first = times.length ? times[0] : 0;
    const last = times.length ? times[times.length - 1] : 1;
    const span = Math.max(last - first, 1);
    const x = (t) => PAD.left + ((t - first) / span) * (WIDTH - PAD.left - PAD.right);
    const y = (v) => HEIGHT - PAD.bottom - (v / top) * (HEIGHT - PAD.top - PAD.bottom);

    const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart",
                               role: "img" });
    for (const fraction of [0, 0.5, 1]) {
      const level = top * fraction;
      chart.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(level),
                                 y2: y(level), class: "grid" }));
      const label = svg("text", { x: PAD.left - 4, y: y(level) + 4, class: "axis",
                                  "text-anchor": "end" });
      label.textContent = `${Number(level.toPrecision(3))}${unit}`;
      chart.append(label);
    }
    const seconds = svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 4, class: "axis",
                                  "text-anchor": "end" });
    seconds.textContent = times.length ? `last ${Math.round(last - first)} s` : "no data yet";
    chart.append(seconds);

    names.forEach((name, index) => {
      const points = series[name].map((v, i) => `${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`);
      const line = svg("polyline", { points: points.join(" "), fill: "none",
                                     stroke: COLORS[index % COLORS.length],
                                     "stroke-width": 2, "data-series": name });
      chart.append(line);
    });

    const legend = document.createElement("ul");
    legend.className = "legend";
    names.forEach((name, index) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLORS[index % COLORS.length];
      const values = series[name];
      item.append(swatch, `${name} ${values.length ? Number(values[values.length - 1]).toFixed(2) : 0}${unit}`);
      legend.append(item);
    });
    while (container.firstChild) container.removeChild(container.firstChild);
    container.append(chart, legend);
  }

  return { draw };
})();
