// The DOM side of the page: one selector table, and renderers that only ever insert text
// (textContent), never markup, so a name like "<img src=x onerror=...>" shows as text.

const IDS = [
  "run-id", "run-state", "run-picker", "connection", "connection-text", "tiles-stored",
  "tiles-total", "total-bar", "elapsed", "rate-recent", "rate-overall", "image-info", "legend",
  "show-borders", "mosaic", "overlay", "mosaic-scale", "mosaic-link", "site-list", "chart",
  "missing-count", "missing-list", "tile-dialog", "tile-title", "tile-open", "tile-close",
  "tile-image", "tile-meta", "view-fit", "zoom-level", "rank-layer", "show-ranks", "activity-rows",
  "activity-note", "timeline", "lineage", "lineage-back", "lineage-path", "render-controls",
  "render-max-iter", "render-view", "render-note", "stage-note", "position", "pos-cx", "pos-cy",
  "pos-width", "pos-zoom", "pos-max-iter", "pos-copy", "pos-copied", "goto", "goto-text",
  "goto-go", "famous-list", "goto-note",
];
const camel = (id) => id.replace(/-(\w)/g, (_, c) => c.toUpperCase());

/** Every element the scripts touch, by camelCased id ($.tilesStored is #tiles-stored). */
export const $ = Object.fromEntries(IDS.map((id) => [camel(id), document.getElementById(id)]));

const MISSING_LISTED = 60;
const MOSAIC_SCALES = [1, 0.5, 0.25, 0.125, 0.0625];
const MOSAIC_MAX_PX = 16384; // the server refuses bigger mosaics (docs/API.md)
const MOSAIC_DEFAULT_MAX_PX = 4096;

/** A new element with a class and text content (never parsed as HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function swatch(colour) {
  const node = el("span", "swatch");
  node.style.background = colour;
  return node;
}

export function formatDuration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.floor(seconds % 60);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Renders a RunStats into the page; rows are built once per run and then only updated. */
export class RunView {
  constructor(stats) {
    this.stats = stats;
    this.missingShown = -1;
    this.siteRows = new Map();
    $.legend.replaceChildren();
    $.siteList.replaceChildren();
    for (const site of stats.sites.values()) {
      const legendItem = el("li");
      legendItem.append(swatch(site.colour), el("span", "", site.name));
      $.legend.append(legendItem);
      this.siteRows.set(site.name, this.buildSiteRow(site));
    }
    const { grid, tile_px: tilePx, palette, max_iter: maxIter, split } = stats.config;
    $.imageInfo.textContent = `${grid}x${grid} tiles of ${tilePx} px, ${grid * tilePx} px a side, `
      + `${palette}, max_iter ${maxIter}, ${split} split`;
    $.tilesTotal.textContent = String(stats.total);
  }

  buildSiteRow(site) {
    const row = el("li", "site");
    const name = el("span", "site-name");
    name.append(swatch(site.colour), el("span", "", site.name));
    const count = el("span", "site-count");
    const head = el("div", "site-head");
    head.append(name, count);
    const bar = el("div", "bar");
    const fill = el("div", "bar-fill");
    fill.style.background = site.colour;
    bar.append(fill);
    const detail = el("div", "site-detail");
    const phase = el("div", "site-phase");
    phase.hidden = true;
    row.append(head, bar, detail, phase);
    $.siteList.append(row);
    return { count, fill, detail, phase };
  }

  /** Refresh every number on the page (called a few times per second, not per tile). */
  update() {
    const stats = this.stats;
    $.tilesStored.textContent = String(stats.stored);
    $.totalBar.style.width = `${(100 * stats.stored) / Math.max(1, stats.total)}%`;
    $.elapsed.textContent = formatDuration(stats.elapsedS());
    const { recent, overall } = stats.rates();
    $.rateRecent.textContent = recent.toFixed(1);
    $.rateOverall.textContent = overall.toFixed(1);
    const state = stats.state;
    $.runState.textContent = state;
    $.runState.dataset.state = state;
    for (const site of stats.sites.values()) {
      const { count, fill, detail, phase } = this.siteRows.get(site.name);
      // Dynamic run: the share the site achieved of the whole image; static: its own share.
      const of = stats.dynamic ? stats.total : site.owned ?? 0;
      const percent = (100 * site.stored) / Math.max(1, of);
      count.textContent = stats.dynamic ? `${site.stored} tiles · ${Math.round(percent)}%`
        : `${site.stored} / ${of}`;
      fill.style.width = `${percent}%`;
      const meanMs = stats.meanRenderMs(site);
      const hosts = [...site.hosts].join(", ");
      detail.textContent = `mean render ${meanMs === null ? "-" : `${meanMs.toFixed(1)} ms`}`
        + (hosts ? ` · hosts: ${hosts}` : "") + kernelText(site.kernels);
      const phaseText = site.phase ? describePhase(site.phase, site.reference) : "";
      phase.hidden = !phaseText;
      phase.textContent = phaseText;
      phase.dataset.phase = site.phase?.phase ?? "";
    }
    if (this.missingShown !== stats.stored) this.updateMissing();
  }

  updateMissing() {
    const stats = this.stats;
    this.missingShown = stats.stored;
    const missing = stats.missing();
    $.missingCount.textContent = `(${missing.length})`;
    const items = missing.slice(0, MISSING_LISTED).map(({ row, col, site }) => {
      const item = el("li", "", `r${row}c${col}${site ? ` ${site}` : ""}`);
      const colour = stats.sites.get(site)?.colour;
      if (colour) item.style.borderLeftColor = colour;
      return item;
    });
    if (missing.length > MISSING_LISTED) {
      items.push(el("li", "more", `and ${missing.length - MISSING_LISTED} more`));
    }
    if (!missing.length) items.push(el("li", "more", "none: every tile is stored"));
    $.missingList.replaceChildren(...items);
  }
}

/** " · kernel perturbation", or " · kernels double 3, perturbation 120" ("" before any tile says). */
function kernelText(kernels) {
  if (!kernels.size) return "";
  if (kernels.size === 1) return ` · kernel ${[...kernels.keys()][0]}`;
  return ` · kernels ${[...kernels].map(([name, tiles]) => `${name} ${tiles}`).join(", ")}`;
}

/**
 * A site's phase as one line: the reference orbit's progress while it runs, then its length and
 * time (from the last `reference` report), or only that it is done when that report was missed.
 * @param {{phase: string, done: number, total: number, elapsed_s: number}} latest
 * @param {object|null} reference the site's last `reference` report
 */
export function describePhase(latest, reference = latest) {
  const count = (n) => n.toLocaleString("en-US");
  const seconds = (s) => `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const { phase, done, total, elapsed_s: elapsedS } = latest;
  if (phase === "reference" && done < total) {
    return `reference orbit ${count(done)} / ${count(total)} iterations (${Math.floor((100 * done) / Math.max(1, total))} %) · ${seconds(elapsedS)}`;
  }
  if (reference?.phase === "reference") {
    return `reference orbit done: ${count(reference.done)} iterations in ${seconds(reference.elapsed_s)}`;
  }
  return "rendering (reference orbit done)";
}

/**
 * The page while a run it was asked to show has not said hello yet: the previous run's numbers
 * and picture are gone, and the stage says so.
 */
export function showStarting(runId) {
  $.runState.textContent = "starting";
  $.runState.dataset.state = "waiting";
  $.tilesStored.textContent = "0";
  $.tilesTotal.textContent = "-";
  $.totalBar.style.width = "0%";
  $.elapsed.textContent = formatDuration(0);
  $.rateRecent.textContent = "0.0";
  $.rateOverall.textContent = "0.0";
  $.imageInfo.textContent = "\u00a0";
  $.legend.replaceChildren();
  $.siteList.replaceChildren();
  $.missingCount.textContent = "";
  $.missingList.replaceChildren();
  showStageNote(`starting ${runId} …`);
}

/** A status line (class render-note): its text, in the warning colour when isError. */
export function showNote(node, text, isError = false) {
  node.textContent = text;
  node.dataset.error = isError ? "true" : "false";
}

/** A line over the stage (null: none). */
export function showStageNote(text) {
  $.stageNote.hidden = text === null;
  $.stageNote.textContent = text ?? "";
}

/** Connection indicator: state is "connecting" | "live" | "retrying" | "closed". */
export function showConnection(state, detail) {
  $.connection.dataset.state = state;
  const text = {
    connecting: "connecting",
    live: "live",
    retrying: `reconnecting in ${((detail?.delayMs ?? 0) / 1000).toFixed(1)} s`,
    closed: "closed",
  }[state];
  $.connectionText.textContent = text;
}

/** A run's label in the picker: id, tiles stored of total, complete or cancelled. */
function runLabel({ id, stored, total, complete, cancelled }) {
  return `${id}  (${stored}/${total}${complete ? ", complete" : cancelled ? ", cancelled" : ""})`;
}

/** Fill the run picker from GET api/runs (newest first), keeping the current choice. */
export function fillRunPicker(runs, chosenId) {
  const options = [el("option", "", "newest run (follow)")];
  options[0].value = "";
  for (const run of runs) {
    const option = el("option", "", runLabel(run));
    option.value = run.id;
    options.push(option);
  }
  $.runPicker.replaceChildren(...options);
  $.runPicker.value = chosenId || "";
}

/**
 * Relabel the run on screen from what the page itself holds (its tiles arrive live; the list
 * from api/runs is only as fresh as the last poll).
 */
export function labelShownRun(run) {
  const option = [...$.runPicker.options].find((each) => each.value === run.id);
  const label = runLabel(run);
  if (option && option.textContent !== label) option.textContent = label;
}

/** Mosaic download sizes the server accepts; preselect the largest up to 4096 px a side. */
export function fillScaleChoices(grid, tilePx) {
  const usable = MOSAIC_SCALES.filter((scale) => {
    const side = Math.round(tilePx * scale) * grid;
    return side >= 1 && side <= MOSAIC_MAX_PX && Math.round(tilePx * scale) >= 1;
  });
  $.mosaicScale.replaceChildren(...usable.map((scale) => {
    const option = el("option", "", `${Math.round(tilePx * scale) * grid} px${scale === 1 ? " (full)" : ""}`);
    option.value = String(scale);
    return option;
  }));
  const preferred = usable.find((scale) => Math.round(tilePx * scale) * grid <= MOSAIC_DEFAULT_MAX_PX);
  $.mosaicScale.value = String(preferred ?? usable[usable.length - 1] ?? 1);
}

/** The metadata of a tile frame header as [label, text] pairs for the tile dialog. */
export function tileFields(header) {
  const number = (value, digits) => (typeof value === "number" ? value.toFixed(digits) : value);
  const at = (epochS) => (typeof epochS === "number" ? new Date(epochS * 1000).toLocaleTimeString() : epochS);
  const fields = [
    ["site", header.site], ["rank", header.rank], ["host", header.host],
    ["kernel", header.kernel], ["render ms", number(header.render_ms, 1)],
    ["encode ms", number(header.encode_ms, 2)],
    ["iterations", header.iterations?.toLocaleString("en-US")], ["seq", header.seq],
    ["rendered at", at(header.rendered_at)], ["stored at", at(header.stored_at)],
  ];
  return fields.filter(([, value]) => value !== undefined && value !== null);
}

/** The tile dialog: the tile PNG at full resolution and its metadata, as text. */
export function openTileDialog(url, title, fields) {
  $.tileTitle.textContent = title;
  $.tileOpen.href = url;
  $.tileImage.src = url;
  $.tileMeta.replaceChildren(...fields.flatMap(([key, value]) => [el("dt", "", key), el("dd", "", String(value))]));
  $.tileDialog.showModal();
}
