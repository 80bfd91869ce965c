// The overview: every tile at the overview cell size on a canvas of its own (not in the page;
// the viewer paints the visible part of it on the stage). Tiles are decoded in parallel by a pool
// of workers and drawn in batches, one requestAnimationFrame per batch, at most ~10 batches a
// second (a late join's 1024 tiles must not cause 1024 repaints of the stage).

/**
 * Largest overview side in px: a 32 x 32 grid of 512 px tiles (16384 px) is drawn at 1/8.
 * Browsers cap a canvas near 16384^2; 2048 is about what a large screen shows of the panel, and
 * a late join of 1024 tiles measured ~20 % less browser CPU than with a 4096 px canvas
 * (every batch repaints the whole canvas). Zoomed in, the viewer draws full-resolution tiles over it.
 */
export const OVERVIEW_MAX_PX = 2048;

/** Side of one tile on the overview in px (an integer, so tiles never overlap or leave seams). */
export function cellPx(grid, tilePx) {
  return Math.max(1, Math.min(tilePx, Math.floor(OVERVIEW_MAX_PX / grid)));
}

/** Least time between two batches, in ms. */
const BATCH_INTERVAL_MS = 100;

/** Decode workers: one per core up to 4 (decoding is the bulk of a late join's work). */
const DECODERS = Math.max(1, Math.min(4, navigator.hardwareConcurrency || 2));

/** A pool of decode workers; decode() resolves to an ImageBitmap of the requested size. */
class DecoderPool {
  constructor(size) {
    this.next = 0;
    this.pending = new Map(); // id -> {resolve, reject}
    this.workers = Array.from({ length: size }, () => {
      // Relative to this module, so it works under any proxy prefix.
      const worker = new Worker(new URL("./decode-worker.js", import.meta.url));
      worker.onmessage = (event) => this.settle(event.data);
      return worker;
    });
  }

  /** Decode the PNG at buffer[offset:] (the buffer is transferred, unusable afterwards). */
  decode(buffer, offset, cellPx) {
    const id = this.next;
    this.next += 1;
    const worker = this.workers[id % this.workers.length];
    worker.postMessage({ id, buffer, offset, cellPx }, [buffer]);
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  settle({ id, bitmap, error }) {
    const { resolve, reject } = this.pending.get(id);
    this.pending.delete(id);
    if (error) reject(new Error(error));
    else resolve(bitmap);
  }
}

export class Mosaic {
  /**
   * @param {BorderLayer} borders the site borders stacked on the stage
   * @param {() => void} onDrawn called after tiles were drawn (the viewer repaints the stage)
   */
  constructor(borders, onDrawn) {
    this.canvas = document.createElement("canvas");
    this.image = this.canvas.getContext("2d", { alpha: false });
    this.borders = borders;
    this.onDrawn = onDrawn;
    this.grid = 0; // no run yet
    this.decoders = new DecoderPool(DECODERS);
    this.generation = 0; // bumped by reset(); decodes of an older run are thrown away
    this.queue = [];
    this.frameRequested = false;
    this.lastBatchAt = -Infinity;
    this.drawn = 0;
  }

  /** No run: nothing is drawn (the stage shows its background) until the next reset(). */
  clear() {
    this.reset(0, 1);
  }

  /** Size the canvas for a grid x grid run of tilePx tiles and clear it (grid 0: no run). */
  reset(grid, tilePx) {
    this.generation += 1;
    this.queue.forEach(({ bitmap }) => bitmap?.close());
    this.queue = [];
    this.grid = grid;
    this.cell = cellPx(grid, tilePx);
    const sidePx = this.cell * grid;
    this.image.canvas.width = sidePx;
    this.image.canvas.height = sidePx;
    this.borders.reset(grid);
    this.image.fillStyle = "#0b0e14";
    this.image.fillRect(0, 0, sidePx, sidePx);
    this.drawn = 0;
    this.onDrawn();
  }

  /**
   * Queue one tile: the PNG at buffer[pngOffset:] is decoded and downscaled by a worker, then
   * drawn with the other tiles ready by the next animation frame. The buffer is transferred.
   */
  add(row, col, buffer, pngOffset, colour) {
    const generation = this.generation;
    this.decoders.decode(buffer, pngOffset, this.cell).then((bitmap) => {
      if (generation !== this.generation) {
        bitmap.close();
        return;
      }
      this.queue.push({ row, col, bitmap, colour });
      this.schedule();
    }, (err) => console.warn(`tile r${row}c${col} is not a decodable PNG`, err));
  }

  /**
   * Draw a server-made overview of the whole canvas (GET overview.png, same cell size); the
   * tiles it holds are then counted with stored(), without decoding anything. The bitmap is closed.
   */
  drawOverview(bitmap) {
    const sidePx = this.image.canvas.width;
    this.image.drawImage(bitmap, 0, 0, sidePx, sidePx);
    bitmap.close();
    this.onDrawn();
  }

  /** Count a tile the overview image already shows (a header-only frame) as drawn. */
  stored(row, col, colour) {
    this.queue.push({ row, col, bitmap: null, colour });
    this.schedule();
  }

  schedule() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    const waitMs = this.lastBatchAt + BATCH_INTERVAL_MS - performance.now();
    const frame = () => requestAnimationFrame(() => this.flush());
    if (waitMs > 0) setTimeout(frame, waitMs);
    else frame();
  }

  flush() {
    this.frameRequested = false;
    this.lastBatchAt = performance.now();
    const batch = this.queue;
    this.queue = [];
    for (const { row, col, bitmap, colour } of batch) {
      if (bitmap) {
        this.image.drawImage(bitmap, col * this.cell, row * this.cell);
        bitmap.close();
      }
      this.borders.mark(row, col, colour, true);
    }
    this.drawn += batch.length; // the tiles on the overview (the stage shows it as data-tiles-drawn)
    this.onDrawn();
  }
}
