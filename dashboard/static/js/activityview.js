// The activity panel: the table of tiles and busy time per site, host and rank, the timeline
// (redrawn at most once per animation frame, and only after the activity changed) and the
// "colour tiles by rank" toggle.

import { drawTimeline } from "./timeline.js";
import { $, el } from "./view.js";

function formatBusy(ms) {
  return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`;
}

/** One table row: a label cell (indented by level, with a colour mark) and the numbers. */
function row(level, label, colour, tiles, busyMs) {
  const tr = el("tr", `level-${level}`);
  const name = el("td", "where");
  const mark = el("span", level === "rank" ? "lane-mark" : "swatch");
  mark.style.background = colour;
  name.append(mark, el("span", "", label));
  const mean = tiles ? `${(busyMs / tiles).toFixed(1)} ms` : "-";
  tr.append(name, el("td", "num", String(tiles)), el("td", "num", formatBusy(busyMs)), el("td", "num", mean));
  return tr;
}

export class ActivityView {
  /** @param {RankLayer} rankLayer the overlay the toggle shows */
  constructor(rankLayer) {
    this.rankLayer = rankLayer;
    this.activity = null;
    this.sites = new Map();
    this.shownVersion = -1;
    this.frameRequested = false;
    $.showRanks.addEventListener("change", () => {
      $.rankLayer.hidden = !$.showRanks.checked;
      this.rankLayer.schedule();
    });
    new ResizeObserver(() => this.schedule()).observe($.timeline);
  }

  /** Show another run's activity; `sites` maps site names to {colour}. */
  reset(grid, activity, sites) {
    this.activity = activity;
    this.sites = sites;
    this.shownVersion = -1;
    this.rankLayer.reset(grid, activity);
    this.update();
  }

  /** Refresh after new tiles (called a few times per second, not per tile). */
  update() {
    const activity = this.activity;
    if (!activity || activity.version === this.shownVersion) return;
    this.shownVersion = activity.version;
    const rows = [];
    for (const site of activity.groups()) {
      rows.push(row("site", site.site, this.sites.get(site.site)?.colour ?? "#8b95a7", site.tiles, site.busyMs));
      for (const host of site.hosts) {
        rows.push(row("host", host.host, "transparent", host.tiles, host.busyMs));
        for (const lane of host.lanes) {
          rows.push(row("rank", `rank ${lane.rank < 0 ? "?" : lane.rank}`, lane.colour, lane.tiles, lane.busyMs));
        }
      }
    }
    $.activityRows.replaceChildren(...rows);
    $.activityNote.textContent = activity.untimed
      ? `${activity.untimed} tiles without a render time (older runs): counted, not in the timeline`
      : "";
    this.schedule();
    this.rankLayer.schedule();
  }

  schedule() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      if (this.activity) drawTimeline($.timeline, this.activity, this.sites);
    });
  }
}
