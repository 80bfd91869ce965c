// Full-resolution tiles for the zoomed view: fetched on demand (GET api/runs/{id}/tiles/R/C.png),
// decoded at the size the screen needs (a power of two up to tile_px), and kept in an LRU cache
// bounded by decoded pixels, so a deep zoom over a 32 x 32 x 512 run never holds every tile.

/** Decoded pixels kept at most (4 bytes each: 128 MiB), several screens' worth of tiles. */
export const CACHE_MAX_PX = 32 * 1024 * 1024;
/** Tile requests in flight at once (a browser opens about 6 connections per host anyway). */
const FETCHES_IN_FLIGHT = 6;

/** Decoded side in px for a cell shown `screenPx` wide: the next power of two, at most tilePx. */
export function levelPx(screenPx, tilePx) {
  return Math.min(tilePx, 2 ** Math.ceil(Math.log2(Math.max(1, screenPx))));
}

export class TileCache {
  /**
   * @param {(row: number, col: number) => string} urlOf relative URL of a tile's PNG
   * @param {() => void} onLoaded called after a tile was added (the viewer redraws)
   * @param {number} maxPx decoded pixels kept at most
   */
  constructor(urlOf, onLoaded, maxPx = CACHE_MAX_PX) {
    this.urlOf = urlOf;
    this.onLoaded = onLoaded;
    this.maxPx = maxPx;
    this.entries = new Map(); // "index:px" -> ImageBitmap, least recently used first
    this.heldPx = 0;
    this.queue = []; // [{key, row, col, px}] still to fetch, most wanted first
    this.inFlight = new Set();
    this.generation = 0;
    this.fetched = 0; // tiles fetched in this run (exposed for tests)
  }

  /** Forget every tile (another run is shown); fetches still running are thrown away. */
  clear() {
    this.generation += 1;
    for (const bitmap of this.entries.values()) bitmap.close();
    this.entries.clear();
    this.heldPx = 0;
    this.queue = [];
    this.inFlight.clear();
    this.fetched = 0;
  }

  /**
   * The sharpest bitmap held for tile `index` at `px` or below, but above `floorPx` (below it
   * the overview is as good); null when there is none. Marks it recently used.
   */
  best(index, px, floorPx) {
    for (let size = px; size > floorPx; size = Math.floor(size / 2)) {
      const key = `${index}:${size}`;
      const bitmap = this.entries.get(key);
      if (bitmap) {
        this.entries.delete(key);
        this.entries.set(key, bitmap);
        return bitmap;
      }
    }
    return null;
  }

  /**
   * Fetch these tiles (most wanted first) unless held or on their way; tiles wanted before and
   * not listed now are dropped from the queue (the view moved on).
   * @param {{index: number, row: number, col: number, px: number}[]} wanted
   */
  want(wanted) {
    this.queue = wanted
      .map((tile) => ({ ...tile, key: `${tile.index}:${tile.px}` }))
      .filter(({ key }) => !this.entries.has(key) && !this.inFlight.has(key));
    this.pump();
  }

  pump() {
    while (this.inFlight.size < FETCHES_IN_FLIGHT && this.queue.length) {
      this.load(this.queue.shift());
    }
  }

  async load({ key, row, col, px }) {
    const generation = this.generation;
    this.inFlight.add(key);
    let bitmap = null;
    try {
      const response = await fetch(this.urlOf(row, col));
      if (response.ok) {
        const blob = await response.blob();
        bitmap = await createImageBitmap(blob, { resizeWidth: px, resizeHeight: px, resizeQuality: "medium" });
      }
    } catch (err) {
      // The dashboard is away, or not a PNG: the overview keeps showing the tile.
    }
    if (generation !== this.generation) {
      bitmap?.close();
      return;
    }
    this.inFlight.delete(key);
    if (bitmap) this.keep(key, bitmap);
    this.pump();
    if (bitmap) this.onLoaded();
  }

  keep(key, bitmap) {
    this.entries.set(key, bitmap);
    this.heldPx += bitmap.width * bitmap.height;
    this.fetched += 1;
    for (const [oldKey, old] of this.entries) {
      if (this.heldPx <= this.maxPx || oldKey === key) break;
      this.entries.delete(oldKey);
      this.heldPx -= old.width * old.height;
      old.close();
    }
  }
}
