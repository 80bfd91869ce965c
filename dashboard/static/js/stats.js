// The page's model of one run: which tiles it holds, per-site counts and timings, rates.
// Pure data (no DOM), fed with tile frame headers; every repeat of a tile key is dropped here.

const RECENT_WINDOW_S = 5;

/** Colours of the sites: cloud blue and on-prem orange as in the demo, others by site index. */
const NAMED_COLOURS = { cloud: "#4c9aff", onprem: "#ff9f43" };
const EXTRA_COLOURS = ["#2ed3b7", "#c77dff", "#ff6b81", "#ffd43b", "#74c0fc", "#a9e34b", "#f783ac", "#e599f7"];

export function siteColour(name, index) {
  return NAMED_COLOURS[name] || EXTRA_COLOURS[index % EXTRA_COLOURS.length];
}

/**
 * One run as the page knows it.
 *
 * Built from the WebSocket hello ({run, config, seq, total, sites, created_at, cancelled, parent,
 * phases}); times are epoch seconds of the server's clock (stored_at, created_at), durations in
 * seconds unless named _ms. In a dynamic run no site owns a share in advance (`owned` is null):
 * what counts is the share each site achieved (`stored` of `total`). A site's latest phase report
 * ({phase: "reference"|"rendering", done, total, elapsed_s}, docs/API.md "Phases") says what it
 * does before its tiles arrive, and each tile header may name the kernel that rendered it.
 */
export class RunStats {
  constructor(hello) {
    this.runId = hello.run;
    this.config = hello.config;
    this.grid = hello.config.grid;
    this.total = hello.total ?? this.grid * this.grid;
    this.createdAt = hello.created_at;
    this.dynamic = hello.config.split === "dynamic";
    this.cancelled = Boolean(hello.cancelled);
    this.helloSeq = hello.seq;
    this.lastSeq = 0;
    this.tiles = new Map(); // tile index -> header
    this.owner = new Map(); // tile index -> site name, for tiles known to be missing
    this.firstStoredAt = Infinity;
    this.lastStoredAt = -Infinity;
    this.clockSkewS = null; // browser clock minus server clock, from live tiles
    this.sites = new Map();
    this.config.sites.forEach((name, index) => this.sites.set(name, {
      name, colour: siteColour(name, index), owned: hello.sites?.[name]?.owned ?? null,
      stored: 0, renderMsSum: 0, storedAt: [], hosts: new Set(), kernels: new Map(), phase: null,
      reference: null,
    }));
    this.setPhases(hello.phases);
  }

  /** setPhase for each report of a hello's `phases` ({site: its latest report}; may be absent). */
  setPhases(phases) {
    for (const report of Object.values(phases ?? {})) this.setPhase(report);
  }

  /**
   * Keep a site's latest phase report (a `phase` message or the hello's), and its latest
   * `reference` report apart (the orbit's length and time once the site moved on to rendering;
   * the dashboard keeps only the latest, so a late joiner may never see it). Unknown sites ignored.
   */
  setPhase(report) {
    const site = this.sites.get(report.site);
    if (!site) return;
    site.phase = report;
    if (report.phase === "reference") site.reference = report;
  }

  /** Whether some site is still computing its reference orbit. */
  get inReference() {
    return [...this.sites.values()].some(({ phase }) => phase?.phase === "reference" && phase.done < phase.total);
  }

  /** Tile index of (row, col): row * grid + col. */
  index(row, col) {
    return row * this.grid + col;
  }

  /**
   * Record one tile. Returns false (and changes nothing) for a tile key already held, so a
   * replay that overlaps live tiles after a reconnect is harmless.
   */
  add(header) {
    this.lastSeq = Math.max(this.lastSeq, header.seq || 0);
    const key = this.index(header.row, header.col);
    if (this.tiles.has(key)) return false;
    this.tiles.set(key, header);
    this.owner.delete(key);
    const site = this.sites.get(header.site);
    if (site) {
      site.stored += 1;
      site.renderMsSum += Number(header.render_ms) || 0;
      site.storedAt.push(header.stored_at);
      if (header.host) site.hosts.add(String(header.host));
      if (typeof header.kernel === "string") site.kernels.set(header.kernel, (site.kernels.get(header.kernel) ?? 0) + 1);
    }
    this.firstStoredAt = Math.min(this.firstStoredAt, header.stored_at);
    this.lastStoredAt = Math.max(this.lastStoredAt, header.stored_at);
    if (header.seq > this.helloSeq) {
      // Only live tiles say something about the clocks (replayed ones are old).
      const skewS = Date.now() / 1000 - header.stored_at;
      this.clockSkewS = this.clockSkewS === null ? skewS : Math.min(this.clockSkewS, skewS);
    }
    return true;
  }

  /** Remember the owners of the tiles the server lists as missing ([{row, col, site}]). */
  setMissing(missing) {
    for (const { row, col, site } of missing) {
      const key = this.index(row, col);
      if (!this.tiles.has(key)) this.owner.set(key, site);
    }
  }

  get stored() {
    return this.tiles.size;
  }

  get complete() {
    return this.tiles.size >= this.total;
  }

  /**
   * "complete", "cancelled" (and not complete), "rendering", "reference orbit" (no tile yet and
   * a site is computing the view's reference orbit) or "waiting".
   */
  get state() {
    if (this.complete) return "complete";
    if (this.cancelled) return "cancelled";
    if (this.stored) return "rendering";
    return this.inReference ? "reference orbit" : "waiting";
  }

  /** The server's "now" as seen from this browser (epoch s). */
  serverNow() {
    return Date.now() / 1000 - (this.clockSkewS ?? 0);
  }

  /** Seconds since the run was created; frozen at the last tile once the run is complete. */
  elapsedS() {
    const start = Number.isFinite(this.createdAt) ? this.createdAt : this.firstStoredAt;
    if (!Number.isFinite(start)) return 0;
    const end = this.complete ? this.lastStoredAt : this.serverNow();
    return Math.max(0, end - start);
  }

  /** Tiles per second over the last few seconds (0 once nothing arrives), and over the run. */
  rates() {
    const elapsedS = this.elapsedS();
    const overall = elapsedS > 0 ? this.stored / elapsedS : 0;
    const since = this.serverNow() - RECENT_WINDOW_S;
    let recentCount = 0;
    for (const site of this.sites.values()) {
      // storedAt is in arrival order, which is seq order, so scan from the end.
      for (let i = site.storedAt.length - 1; i >= 0 && site.storedAt[i] > since; i -= 1) {
        recentCount += 1;
      }
    }
    return { recent: recentCount / RECENT_WINDOW_S, overall };
  }

  /** Mean render time of a site's tiles in ms, or null before its first tile. */
  meanRenderMs(site) {
    return site.stored ? site.renderMsSum / site.stored : null;
  }

  /** [{row, col, site}] of the tiles not held yet, in index order (site null when unknown). */
  missing() {
    const out = [];
    for (let key = 0; key < this.total; key += 1) {
      if (!this.tiles.has(key)) {
        out.push({ row: Math.floor(key / this.grid), col: key % this.grid, site: this.owner.get(key) ?? null });
      }
    }
    return out;
  }
}
