// Where the work ran: the tiles of one run grouped by site, host and rank, with each rank's busy
// time and the span of every tile's render. Pure data (no DOM), fed with tile frame headers.
//
// A lane is one rank of one host of one site: the unit that renders one tile at a time. Its bars
// come from the tiles' `rendered_at` (epoch s at the end of the render, the site's clock) and
// `render_ms`; tiles without `rendered_at` (older runs) are counted but have no bar.

const LANE_HUE_STEP = 137.508; // the golden angle: neighbouring lanes get distant hues

/** A colour per lane index, distinct for the first few dozen lanes. */
export function laneColour(index) {
  return `hsl(${(index * LANE_HUE_STEP) % 360} 75% 58%)`;
}

export class Activity {
  constructor() {
    this.lanes = []; // sorted by site, host, rank; see lane()
    this.byKey = new Map();
    this.tileLane = new Map(); // tile index -> lane
    this.untimed = 0; // tiles without rendered_at
    this.startS = Infinity; // earliest bar start, epoch s
    this.endS = -Infinity; // latest bar end
    this.version = 0; // bumped by every change (views redraw only when it moved)
  }

  /**
   * Count one stored tile (each tile once: the caller drops repeats).
   * @param {number} index the tile index (row * grid + col)
   * @param {object} header the tile frame header: site, and optional rank, host, render_ms,
   *   rendered_at
   */
  add(index, header) {
    const lane = this.lane(String(header.site), String(header.host ?? "?"), Number.isInteger(header.rank) ? header.rank : -1);
    const renderMs = Number(header.render_ms) || 0;
    lane.tiles += 1;
    lane.busyMs += renderMs;
    this.tileLane.set(index, lane);
    if (typeof header.rendered_at === "number") {
      const start = header.rendered_at - renderMs / 1000;
      lane.bars.push(start, header.rendered_at);
      this.startS = Math.min(this.startS, start);
      this.endS = Math.max(this.endS, header.rendered_at);
    } else {
      this.untimed += 1;
    }
    this.version += 1;
  }

  /** The lane of (site, host, rank), made on first use; lanes stay sorted. */
  lane(site, host, rank) {
    const key = `${site}\u0000${host}\u0000${rank}`;
    let lane = this.byKey.get(key);
    if (lane) return lane;
    lane = { site, host, rank, tiles: 0, busyMs: 0, bars: [], colour: "" };
    this.byKey.set(key, lane);
    this.lanes.push(lane);
    this.lanes.sort((a, b) => a.site.localeCompare(b.site) || a.host.localeCompare(b.host) || a.rank - b.rank);
    this.lanes.forEach((each, i) => { each.colour = laneColour(i); });
    return lane;
  }

  /** Total bars drawn in the timeline (tiles with rendered_at). */
  get timed() {
    return this.lanes.reduce((sum, lane) => sum + lane.bars.length / 2, 0);
  }

  /**
   * Totals per site, per host within it, per rank within that, in lane order:
   * [{site, tiles, busyMs, hosts: [{host, tiles, busyMs, lanes: [lane, ...]}]}].
   */
  groups() {
    const sites = [];
    for (const lane of this.lanes) {
      let site = sites[sites.length - 1];
      if (site?.site !== lane.site) {
        site = { site: lane.site, tiles: 0, busyMs: 0, hosts: [] };
        sites.push(site);
      }
      let host = site.hosts[site.hosts.length - 1];
      if (host?.host !== lane.host) {
        host = { host: lane.host, tiles: 0, busyMs: 0, lanes: [] };
        site.hosts.push(host);
      }
      host.lanes.push(lane);
      for (const total of [site, host]) {
        total.tiles += lane.tiles;
        total.busyMs += lane.busyMs;
      }
    }
    return sites;
  }
}
