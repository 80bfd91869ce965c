// The activity timeline: one lane per rank (site, host, rank), one bar per tile from the start to
// the end of its render, coloured by site; hand-drawn on a canvas (1024 bars are 1024 fillRects,
// grouped by colour). The canvas grows with the lanes so that 64 ranks stay readable.

const LABEL_PX = 170; // left column: the lane labels
const PAD = { right: 10, top: 6, bottom: 22 };
const LANE_MAX_PX = 22;
const LANE_MIN_PX = 11;
const LANES_HEIGHT_PX = 520; // lanes share this height until each is LANE_MIN_PX

/** Lane height in CSS px for a number of lanes. */
export function laneHeightPx(lanes) {
  return Math.max(LANE_MIN_PX, Math.min(LANE_MAX_PX, Math.floor(LANES_HEIGHT_PX / Math.max(1, lanes))));
}

/**
 * Draw the timeline of an Activity into a canvas (its CSS height is set here, its width is the
 * layout's; sharp on high-DPI screens).
 * @param {HTMLCanvasElement} canvas
 * @param {Activity} activity
 * @param {Map<string, {colour: string}>} sites the run's sites by name (their colours)
 */
export function drawTimeline(canvas, activity, sites) {
  const lanes = activity.lanes;
  const laneH = laneHeightPx(lanes.length);
  const heightCss = PAD.top + laneH * Math.max(1, lanes.length) + PAD.bottom;
  canvas.style.height = `${heightCss}px`;
  const ratio = window.devicePixelRatio || 1;
  const widthCss = canvas.clientWidth;
  const widthPx = Math.max(1, Math.round(widthCss * ratio));
  const heightPx = Math.max(1, Math.round(heightCss * ratio));
  if (canvas.width !== widthPx || canvas.height !== heightPx) {
    canvas.width = widthPx;
    canvas.height = heightPx;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, widthCss, heightCss);
  const plotW = widthCss - LABEL_PX - PAD.right;
  // Exposed for tests: the lane geometry in CSS px.
  Object.assign(canvas.dataset, {
    lanes: String(lanes.length), laneTop: String(PAD.top), laneHeight: String(laneH),
    plotLeft: String(LABEL_PX), bars: String(activity.timed),
  });
  if (plotW <= 0) return;
  drawLanes(ctx, lanes, laneH, widthCss);
  const spanS = Math.max(1e-3, activity.endS - activity.startS);
  if (Number.isFinite(activity.startS)) {
    drawBars(ctx, lanes, laneH, sites, (t) => LABEL_PX + ((t - activity.startS) / spanS) * plotW);
  }
  drawAxis(ctx, heightCss - PAD.bottom, widthCss, Number.isFinite(activity.startS) ? spanS : 0);
}

function drawLanes(ctx, lanes, laneH, widthCss) {
  ctx.font = `${Math.min(12, laneH - 1)}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  lanes.forEach((lane, i) => {
    const y = PAD.top + i * laneH;
    if (i % 2) {
      ctx.fillStyle = "#161c27"; // zebra stripes: a bar's lane is easy to follow
      ctx.fillRect(0, y, widthCss, laneH);
    }
    ctx.fillStyle = lane.colour; // the lane's colour, as in the "colour tiles by rank" overlay
    ctx.fillRect(0, y + 2, 4, laneH - 4);
    ctx.fillStyle = "#c5ccd8";
    const label = `${lane.site} · ${lane.host} · r${lane.rank < 0 ? "?" : lane.rank}`;
    ctx.fillText(fit(ctx, label, LABEL_PX - 14), 8, y + laneH / 2);
  });
}

function drawBars(ctx, lanes, laneH, sites, xOf) {
  const gap = laneH > 14 ? 3 : 2;
  const bySite = new Map();
  lanes.forEach((lane, i) => {
    if (!bySite.has(lane.site)) bySite.set(lane.site, []);
    bySite.get(lane.site).push([lane, PAD.top + i * laneH + gap]);
  });
  for (const [site, siteLanes] of bySite) {
    ctx.fillStyle = sites.get(site)?.colour ?? "#8b95a7";
    for (const [lane, y] of siteLanes) {
      const bars = lane.bars;
      for (let b = 0; b < bars.length; b += 2) {
        const x = xOf(bars[b]);
        // At least one px wide, and a hair short of the next bar so back-to-back tiles show.
        const w = Math.max(1, xOf(bars[b + 1]) - x - 0.5);
        ctx.fillRect(x, y, w, laneH - 2 * gap);
      }
    }
  }
}

function drawAxis(ctx, y, widthCss, spanS) {
  ctx.strokeStyle = "#2a3140";
  ctx.beginPath();
  ctx.moveTo(LABEL_PX, y + 0.5);
  ctx.lineTo(widthCss - PAD.right, y + 0.5);
  ctx.stroke();
  ctx.fillStyle = "#8b95a7";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "alphabetic";
  ctx.textAlign = "left";
  ctx.fillText("0 s", LABEL_PX, y + 16);
  ctx.textAlign = "right";
  ctx.fillText(`${spanS < 10 ? spanS.toFixed(2) : Math.round(spanS)} s`, widthCss - PAD.right, y + 16);
  ctx.textAlign = "center";
  ctx.fillText("when each tile was rendered (the sites' clocks)", (LABEL_PX + widthCss) / 2, y + 16);
}

/** The text cut with an ellipsis to fit maxPx. */
function fit(ctx, text, maxPx) {
  if (ctx.measureText(text).width <= maxPx) return text;
  let cut = text;
  while (cut.length > 1 && ctx.measureText(`${cut}…`).width > maxPx) cut = cut.slice(0, -1);
  return `${cut}…`;
}
