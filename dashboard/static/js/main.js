// Wiring: which run to show, its socket, the model, the stage (viewer, overview, borders), and
// the timers that refresh text.

import { Activity } from "./activity.js";
import { ActivityView } from "./activityview.js";
import { BorderLayer } from "./borders.js";
import { Camera } from "./camera.js";
import { drawThroughput } from "./chart.js";
import { takeControlKey } from "./control.js";
import { decodeFrame } from "./frame.js";
import { Lineage } from "./lineage.js";
import { Mosaic } from "./mosaic.js";
import { Place } from "./place.js";
import { PositionPanel } from "./position.js";
import { RankLayer } from "./ranklayer.js";
import { RenderView } from "./renderview.js";
import { loadOverview, loadRunDoc, runUrl } from "./runload.js";
import { TileSocket } from "./socket.js";
import { RunStats } from "./stats.js";
import { TileCache } from "./tilecache.js";
import {
  $, RunView, describePhase, fillRunPicker, fillScaleChoices, labelShownRun, openTileDialog,
  showConnection, showStageNote, showStarting, tileFields,
} from "./view.js";
import { Viewer } from "./viewer.js";

// First of all: a control link's key leaves the address bar before anything else runs.
const controlKey = takeControlKey();

const RUNS_POLL_MS = 3000;
const TEXT_REFRESH_MS = 250;
const CHART_REFRESH_MS = 1000;

const page = {
  runId: null, // the run on screen
  socket: null,
  overview: null, // {seq, bitmap} fetched before the socket opened, drawn on its hello
  stats: null,
  view: null,
  activity: null, // where the run's tiles were rendered
  chartDrawnAt: 0,
  chartStored: -1,
};
const camera = new Camera();
const borders = new BorderLayer($.overlay, camera);
const mosaic = new Mosaic(borders, () => viewer.schedule());
const tiles = new TileCache((row, col) => runUrl(page.runId, `/tiles/${row}/${col}.png`), () => viewer.schedule());
const activityView = new ActivityView(new RankLayer($.rankLayer, camera));
const viewer = new Viewer($.mosaic, camera, mosaic, tiles, {
  isStored: (index) => Boolean(page.stats?.tiles.has(index)),
  onTileClick: (row, col) => openTile(row, col),
});

const place = new Place(camera);
const lineage = new Lineage((runId) => followRun(runId));
const keyRefused = () => { renderView.disable(); position.disable(); };
const renderView = new RenderView(controlKey, place, (runId) => followRun(runId), keyRefused);
const position = new PositionPanel(controlKey, place, () => renderView.maxIter(),
  (runId) => followRun(runId), keyRefused);
let viewTextRequested = false;

/** Refresh the coordinates and the render controls once per frame after the view moved. */
function scheduleViewText() {
  if (viewTextRequested) return;
  viewTextRequested = true;
  requestAnimationFrame(() => {
    viewTextRequested = false;
    renderView.update();
    position.update();
  });
}

/** The run named by ?run=ID, or null to follow the newest run. */
function requestedRun() {
  return new URLSearchParams(location.search).get("run") || null;
}

function showRun(runId) {
  if (runId === page.runId) return;
  page.socket?.close();
  page.runId = runId;
  page.stats = null;
  page.view = null;
  $.runId.textContent = runId;
  lineage.show(runId);
  // Until the run's hello, the stage shows nothing of the previous run (whose picture, zoom and
  // numbers would pass for this one's) and says what it waits for.
  mosaic.clear();
  viewer.clear();
  activityView.reset(1, new Activity(), new Map());
  place.reset(null);
  scheduleViewText();
  showStarting(runId);
  updateMosaicLink();
  page.overview = null;
  page.runDoc = null;
  const socket = new TileSocket(runId, {
    onHello: (hello) => receiveHello(hello),
    onFrame: (buffer) => receiveFrame(buffer),
    onControl: (msg) => receiveControl(msg),
    onStatus: (state, detail) => showConnection(state, detail),
  });
  page.socket = socket;
  showConnection("connecting");
  loadRunDoc(runId).then(async (doc) => {
    const overview = doc && (await loadOverview(runId, doc));
    if (page.socket !== socket) {
      overview?.bitmap.close(); // the page moved on to another run meanwhile
      return;
    }
    page.runDoc = doc; // its missing list outlines the tiles at hello (loadOwners)
    if (overview) {
      page.overview = overview;
      socket.imagesAfter = overview.seq; // those tiles come header-only
    }
    socket.open();
  });
}

function receiveHello(hello) {
  // A reconnect to the same run keeps everything; a different created_at means the run was
  // made anew (e.g. a wiped data directory), so start from scratch.
  if (page.stats && page.stats.createdAt === hello.created_at) {
    page.stats.helloSeq = hello.seq;
    page.stats.cancelled = Boolean(hello.cancelled);
    for (const [name, site] of page.stats.sites) site.owned = hello.sites?.[name]?.owned ?? site.owned;
    page.stats.setPhases(hello.phases);
    return;
  }
  if (page.stats) {
    // This socket resumed after the old run's last seq: start over from seq 0.
    page.runId = null;
    showRun(hello.run);
    return;
  }
  page.stats = new RunStats(hello);
  page.view = new RunView(page.stats);
  page.activity = new Activity();
  activityView.reset(hello.config.grid, page.activity, page.stats.sites);
  lineage.learn([{ id: hello.run, parent: hello.parent }]);
  page.chartStored = -1;
  mosaic.reset(hello.config.grid, hello.config.tile_px);
  viewer.reset(hello.run, hello.config.grid, hello.config.tile_px);
  place.reset(hello.run, hello.config);
  renderView.reset();
  scheduleViewText();
  showStageNote(null);
  if (page.overview) {
    mosaic.drawOverview(page.overview.bitmap);
    // Exposed for tests and the replay benchmark: the late join went through the overview.
    $.mosaic.dataset.overviewSeq = String(page.overview.seq);
    page.overview = null;
  } else {
    delete $.mosaic.dataset.overviewSeq;
  }
  fillScaleChoices(hello.config.grid, hello.config.tile_px);
  updateMosaicLink();
  loadOwners(page.stats);
  refreshText(); // the state badge and numbers of this run now, not at the next tick
}

/**
 * Outline the tiles still missing, in their owner's colour (the server knows the split; in a
 * dynamic run no site owns them, so they are outlined in neutral grey). The
 * run document read before the socket opened serves (tiles stored since then arrive as frames
 * after the hello and clear their outline); it is fetched again only if that read failed.
 */
async function loadOwners(stats) {
  const doc = page.runDoc ?? (await loadRunDoc(stats.runId));
  page.runDoc = null;
  if (!doc) return; // the dashboard went away; the outlines come with the next hello
  if (stats !== page.stats) return;
  stats.setMissing(doc.missing || []);
  for (const [key, site] of stats.owner) {
    const colour = stats.sites.get(site)?.colour ?? "#5c6370";
    borders.mark(Math.floor(key / stats.grid), key % stats.grid, colour, false);
  }
  page.view.updateMissing();
}

function receiveFrame(buffer) {
  const stats = page.stats;
  if (!stats) return;
  let frame;
  try {
    frame = decodeFrame(buffer);
  } catch (err) {
    console.warn("dropped a malformed tile frame:", err.message);
    return;
  }
  const { header, pngOffset } = frame;
  const isNew = stats.add(header);
  page.socket.lastSeq = stats.lastSeq;
  if (!isNew) return; // a repeat of a tile already held
  page.activity.add(stats.index(header.row, header.col), header);
  const colour = stats.sites.get(header.site)?.colour ?? "#ffffff";
  if (pngOffset === buffer.byteLength) mosaic.stored(header.row, header.col, colour); // header-only
  else mosaic.add(header.row, header.col, buffer, pngOffset, colour);
}

function receiveControl(msg) {
  if (msg.type === "replayed") {
    // The late join is over: exposed so tests and the replay benchmark can time it.
    $.mosaic.dataset.replayedSeq = String(msg.seq);
  } else if (msg.type === "run") {
    // A new run: refresh the picker now (and follow it unless ?run= pins one).
    lineage.learn([msg.run]);
    pollRuns();
  } else if (msg.type === "cancelled" && page.stats && msg.run === page.stats.runId) {
    page.stats.cancelled = true; // shown by the next text refresh
  } else if (msg.type === "phase" && page.stats && msg.run === page.stats.runId) {
    page.stats.setPhase(msg); // shown by the next text refresh
  }
}

/** Over the stage of a run without tiles yet: what its sites are doing (nothing once tiles come). */
function stageNote(stats) {
  if (stats.stored || !stats.inReference) return null;
  const busy = [...stats.sites.values()].filter(({ phase }) => phase?.phase === "reference");
  return busy.map(({ name, phase }) => `${name}: ${describePhase(phase)}`).join("\n");
}

function refreshText() {
  if (!page.view) return;
  page.view.update();
  activityView.update();
  const stats = page.stats;
  showStageNote(stageNote(stats));
  labelShownRun({ id: stats.runId, stored: stats.stored, total: stats.total, complete: stats.complete,
    cancelled: stats.cancelled });
  const now = performance.now();
  // The time axis moves while the run is going, so redraw then even without new tiles.
  const changed = stats.stored !== page.chartStored || !stats.complete;
  if (changed && now - page.chartDrawnAt >= CHART_REFRESH_MS) {
    page.chartDrawnAt = now;
    page.chartStored = stats.stored;
    const start = Number.isFinite(stats.createdAt) ? stats.createdAt : stats.firstStoredAt;
    drawThroughput($.chart, [...stats.sites.values()], start, stats.elapsedS());
  }
}

async function pollRuns() {
  try {
    const response = await fetch("api/runs");
    if (!response.ok) return;
    const { runs } = await response.json();
    const wanted = requestedRun();
    lineage.learn(runs);
    fillRunPicker(runs, wanted);
    refreshText(); // the run on screen keeps the label of what the page holds, not of the poll
    const target = wanted || runs[0]?.id;
    if (target) showRun(target);
  } catch (err) {
    // The dashboard is down: the socket shows it and retries; the next poll tries again.
  }
}

function updateMosaicLink() {
  if (!page.runId || !$.mosaicScale.value) {
    $.mosaicLink.removeAttribute("href"); // no run config yet, so no valid size
    return;
  }
  $.mosaicLink.href = runUrl(page.runId, `/image.png?scale=${encodeURIComponent($.mosaicScale.value)}`);
  $.mosaicLink.download = `${page.runId}.png`;
}

/** Show run `runId` (null: follow the newest run) and say so in ?run= (a new history entry). */
function followRun(runId) {
  const url = new URL(location.href);
  if (runId) url.searchParams.set("run", runId);
  else url.searchParams.delete("run");
  url.hash = "";
  history.pushState(null, "", url);
  pollRuns();
}

function openTile(row, col) {
  const stats = page.stats;
  const header = stats?.tiles.get(stats.index(row, col));
  if (!header) return; // not stored yet: nothing to open
  openTileDialog(runUrl(page.runId, `/tiles/${row}/${col}.png`), `tile r${row} c${col}`, tileFields(header));
}

function showZoom() {
  const zoom = camera.zoom;
  $.zoomLevel.textContent = `${zoom < 10 ? zoom.toFixed(1) : Math.round(zoom)}x`;
}

$.runPicker.addEventListener("change", () => followRun($.runPicker.value || null));
$.mosaicScale.addEventListener("change", updateMosaicLink);
$.showBorders.addEventListener("change", () => {
  $.overlay.hidden = !$.showBorders.checked;
  borders.schedule(); // a hidden layer is not kept up to date
});
$.viewFit.addEventListener("click", () => camera.fit());
camera.onChange(showZoom);
camera.onChange(scheduleViewText);
$.tileClose.addEventListener("click", () => $.tileDialog.close());
window.addEventListener("popstate", pollRuns);
// A finished run's chart is not redrawn by the timer; a new size must redraw it.
new ResizeObserver(() => { page.chartStored = -1; }).observe($.chart);
if (requestedRun()) showRun(requestedRun());
pollRuns();
setInterval(pollRuns, RUNS_POLL_MS);
setInterval(refreshText, TEXT_REFRESH_MS);
