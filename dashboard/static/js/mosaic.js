// The overview canvas: tiles decoded in parallel off the main thread, drawn in one
// requestAnimationFrame per batch; site borders and missing-tile outlines on a second canvas.

/** Largest overview side in px: a 32x32 grid of 512 px tiles (16384 px) is drawn at 1/4. */
export const OVERVIEW_MAX_PX = 4096;

/** Side of one tile on the overview in px (an integer, so tiles never overlap or leave seams). */
export function cellPx(grid, tilePx) {
  return Math.max(1, Math.min(tilePx, Math.floor(OVERVIEW_MAX_PX / grid)));
}

export class Mosaic {
  /**
   * @param {HTMLCanvasElement} imageCanvas the tiles themselves (nothing else is drawn there)
   * @param {HTMLCanvasElement} overlayCanvas borders and outlines, stacked on top
   */
  constructor(imageCanvas, overlayCanvas) {
    this.image = imageCanvas.getContext("2d", { alpha: false });
    this.overlay = overlayCanvas.getContext("2d");
    this.generation = 0; // bumped by reset(); decodes of an older run are thrown away
    this.queue = [];
    this.frameRequested = false;
    this.drawn = 0;
  }

  /** Size both canvases for a grid x grid run of tilePx tiles and clear them. */
  reset(grid, tilePx) {
    this.generation += 1;
    this.queue.forEach(({ bitmap }) => bitmap.close());
    this.queue = [];
    this.grid = grid;
    this.cell = cellPx(grid, tilePx);
    const sidePx = this.cell * grid;
    for (const ctx of [this.image, this.overlay]) {
      ctx.canvas.width = sidePx;
      ctx.canvas.height = sidePx;
    }
    this.image.fillStyle = "#0b0e14";
    this.image.fillRect(0, 0, sidePx, sidePx);
    this.drawn = 0;
    this.image.canvas.dataset.tilesDrawn = "0";
  }

  /** Dashed outline, in the owner's colour, of a tile that has not arrived yet. */
  outlineMissing(row, col, colour) {
    const ctx = this.overlay;
    const inset = this.borderPx() / 2;
    ctx.save();
    ctx.globalAlpha = 0.55;
    ctx.setLineDash([Math.max(2, this.cell / 10), Math.max(2, this.cell / 12)]);
    ctx.strokeStyle = colour || "#5c6370";
    ctx.lineWidth = this.borderPx();
    ctx.strokeRect(col * this.cell + inset, row * this.cell + inset,
      this.cell - 2 * inset, this.cell - 2 * inset);
    ctx.restore();
  }

  /** Queue one tile: the PNG is decoded (and downscaled) by the browser off the main thread. */
  add(row, col, png, colour) {
    const generation = this.generation;
    const size = { resizeWidth: this.cell, resizeHeight: this.cell, resizeQuality: "medium" };
    createImageBitmap(png, size).then((bitmap) => {
      if (generation !== this.generation) {
        bitmap.close();
        return;
      }
      this.queue.push({ row, col, bitmap, colour });
      if (!this.frameRequested) {
        this.frameRequested = true;
        requestAnimationFrame(() => this.flush());
      }
    }, (err) => console.warn(`tile r${row}c${col} is not a decodable PNG`, err));
  }

  flush() {
    this.frameRequested = false;
    const batch = this.queue;
    this.queue = [];
    const border = this.borderPx();
    const ctx = this.overlay;
    for (const { row, col, bitmap, colour } of batch) {
      const x = col * this.cell;
      const y = row * this.cell;
      this.image.drawImage(bitmap, x, y);
      bitmap.close();
      ctx.clearRect(x, y, this.cell, this.cell);
      ctx.strokeStyle = colour;
      ctx.lineWidth = border;
      ctx.strokeRect(x + border / 2, y + border / 2, this.cell - border, this.cell - border);
    }
    this.drawn += batch.length;
    // Exposed for tests and the replay benchmark: how many tiles are on the canvas.
    this.image.canvas.dataset.tilesDrawn = String(this.drawn);
  }

  borderPx() {
    return this.cell >= 96 ? 2 : 1;
  }

  /** The tile under a point given in CSS px relative to the canvas, or null outside it. */
  tileAt(offsetX, offsetY) {
    const canvas = this.image.canvas;
    const col = Math.floor((offsetX / canvas.clientWidth) * this.grid);
    const row = Math.floor((offsetY / canvas.clientHeight) * this.grid);
    const inside = row >= 0 && col >= 0 && row < this.grid && col < this.grid;
    return inside ? { row, col } : null;
  }
}
