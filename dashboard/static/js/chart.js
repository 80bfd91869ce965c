// Throughput chart: tiles/s over time per site, hand-drawn on a canvas (a few dozen lines
// beat vendoring a chart library for one line chart). Rebuilt from the tiles' stored_at
// timestamps, so a page that joins late shows the whole history.

// Bins of at least 1 s: posters send tiles in batches, so finer bins only show the batching.
const NICE_BIN_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
const TARGET_BINS = 40;
const PAD = { left: 40, right: 10, top: 10, bottom: 22 };

/** Bin width in s: the smallest nice width that cuts spanS into at most ~40 bins. */
export function binWidthS(spanS) {
  return NICE_BIN_S.find((w) => spanS / w <= TARGET_BINS) ?? NICE_BIN_S[NICE_BIN_S.length - 1];
}

/**
 * Tiles/s per bin for each series.
 * @param {{storedAt: number[]}[]} series epoch-s timestamps per site
 * @param {number} startS left edge (epoch s)
 * @param {number} spanS width of the time axis in s
 * @returns {{binS: number, rates: number[][]}}
 */
export function binRates(series, startS, spanS) {
  const binS = binWidthS(spanS);
  const bins = Math.max(1, Math.ceil(spanS / binS));
  const rates = series.map(({ storedAt }) => {
    const counts = new Array(bins).fill(0);
    for (const t of storedAt) {
      const i = Math.min(bins - 1, Math.max(0, Math.floor((t - startS) / binS)));
      counts[i] += 1;
    }
    return counts.map((n) => n / binS);
  });
  return { binS, rates };
}

/**
 * Draw the chart into a canvas sized to its CSS box (sharp on high-DPI screens).
 * @param {HTMLCanvasElement} canvas
 * @param {{colour: string, storedAt: number[]}[]} series one per site
 * @param {number} startS run start (epoch s)
 * @param {number} spanS seconds shown
 */
export function drawThroughput(canvas, series, startS, spanS) {
  const ratio = window.devicePixelRatio || 1;
  const widthPx = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const heightPx = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== widthPx || canvas.height !== heightPx) {
    canvas.width = widthPx;
    canvas.height = heightPx;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  ctx.clearRect(0, 0, w, h);
  const plotW = w - PAD.left - PAD.right;
  const plotH = h - PAD.top - PAD.bottom;
  if (plotW <= 0 || plotH <= 0) return;

  const span = Math.max(spanS, 1);
  const { binS, rates } = binRates(series, startS, span);
  const peak = Math.max(1, ...rates.flat());
  drawAxes(ctx, w, h, peak, span);
  const xOf = (i) => PAD.left + ((i + 0.5) * binS / span) * plotW;
  const yOf = (rate) => PAD.top + plotH - (rate / peak) * plotH;
  series.forEach(({ colour }, s) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.75;
    ctx.beginPath();
    rates[s].forEach((rate, i) => (i ? ctx.lineTo(xOf(i), yOf(rate)) : ctx.moveTo(xOf(i), yOf(rate))));
    ctx.stroke();
  });
}

function drawAxes(ctx, w, h, peak, spanS) {
  ctx.strokeStyle = "#2a3140";
  ctx.fillStyle = "#8b95a7";
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  const bottom = h - PAD.bottom;
  for (const frac of [0, 0.5, 1]) {
    const y = PAD.top + (bottom - PAD.top) * (1 - frac);
    ctx.beginPath();
    ctx.moveTo(PAD.left, y);
    ctx.lineTo(w - PAD.right, y);
    ctx.stroke();
    ctx.textAlign = "right";
    ctx.fillText(formatRate(peak * frac), PAD.left - 4, y + 4);
  }
  ctx.textAlign = "left";
  ctx.fillText("0 s", PAD.left, h - 6);
  ctx.textAlign = "right";
  ctx.fillText(`${Math.round(spanS)} s`, w - PAD.right, h - 6);
}

function formatRate(rate) {
  return rate >= 10 || rate === 0 ? String(Math.round(rate)) : rate.toFixed(1);
}
