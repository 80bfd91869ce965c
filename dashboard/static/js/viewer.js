// The deep-zoom viewer: paints the visible part of the image on the stage canvas at the screen's
// resolution and moves the camera with the mouse wheel, pinch, drag, keys and the fit button.
//
// The overview (Mosaic's canvas, every tile at the overview cell size) is always drawn first;
// once a cell is shown larger than the overview holds it, the tile itself is fetched at the size
// the screen needs (TileCache) and drawn over it, sharp. Painting happens at most once per
// animation frame, and only after something changed.

import { StageLayer } from "./stagelayer.js";
import { levelPx } from "./tilecache.js";

/** A press that moved more than this (CSS px, summed) is a drag, not a tile click. */
const DRAG_THRESHOLD_PX = 5;
/** Zoom factor of one + or - key press, and of one notch (100 px of deltaY) of the wheel. */
const KEY_ZOOM = 1.5;
const WHEEL_ZOOM_PER_PX = Math.log(1.5) / 100;
/** The deepest zoom shows this many image pixels across the stage. */
const MIN_PIXELS_ACROSS = 8;
const BACKGROUND = "#07090d";

export class Viewer extends StageLayer {
  /**
   * @param {HTMLCanvasElement} canvas the stage canvas (input and painting)
   * @param {Camera} camera the view it paints and moves
   * @param {Mosaic} mosaic the overview: `canvas`, `grid`, `cell` (overview px per tile)
   * @param {TileCache} cache full-resolution tiles
   * @param {{isStored: (index: number) => boolean, onTileClick: (row: number, col: number) => void}} hooks
   */
  constructor(canvas, camera, mosaic, cache, hooks) {
    super(canvas, camera, { alpha: false });
    this.mosaic = mosaic;
    this.cache = cache;
    this.hooks = hooks;
    this.runId = "";
    this.tilePx = 1;
    this.pointers = new Map(); // pointerId -> {x, y} in CSS px of the canvas
    this.pressMovedPx = 0;
    this.listen();
  }

  /** A new run: the whole image, no full-resolution tiles yet. */
  reset(runId, grid, tilePx) {
    this.runId = runId;
    this.tilePx = tilePx;
    this.cache.clear();
    this.camera.reset((grid * tilePx) / MIN_PIXELS_ACROSS);
  }

  /** No run on the stage (another one was asked for and has not said hello yet). */
  clear() {
    this.runId = "";
    this.cache.clear();
    this.camera.reset(1);
  }

  draw(sidePx) {
    const ctx = this.ctx;
    const { canvas: overview, grid, cell } = this.mosaic;
    const camera = this.camera;
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, sidePx, sidePx);
    let sharp = 0;
    if (grid) {
      const sourcePx = overview.width;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(overview, camera.x0 * sourcePx, camera.y0 * sourcePx, camera.span * sourcePx,
        camera.span * sourcePx, 0, 0, sidePx, sidePx);
      sharp = this.paintSharpTiles(grid, cell, sidePx);
    }
    // Exposed for tests and benchmarks: what is on the stage, and the camera's exact doubles
    // (String() of a double reads back as the same double).
    const data = this.canvas.dataset;
    data.run = grid ? this.runId : ""; // the run whose tiles these are (set with them, at the same paint)
    data.tilesDrawn = String(grid ? this.mosaic.drawn : 0);
    data.sharpTiles = String(sharp);
    data.zoom = camera.zoom.toFixed(3);
    data.fetchedTiles = String(this.cache.fetched);
    Object.assign(data, { x0: String(camera.x0), y0: String(camera.y0), span: String(camera.span) });
  }

  /** Draw the visible cells the overview shows too small from the cache; ask for the rest. */
  paintSharpTiles(grid, overviewCellPx, sidePx) {
    const { rows, cols, cellPx, rect } = this.camera.cells(grid, sidePx);
    if (cellPx <= overviewCellPx || this.tilePx <= overviewCellPx) { // the overview is as sharp
      this.cache.want([]);
      return 0;
    }
    const px = levelPx(cellPx, this.tilePx);
    const wanted = [];
    let sharp = 0;
    const centre = [(rows[0] + rows[1]) / 2, (cols[0] + cols[1]) / 2];
    for (let row = rows[0]; row <= rows[1]; row += 1) {
      for (let col = cols[0]; col <= cols[1]; col += 1) {
        const index = row * grid + col;
        if (!this.hooks.isStored(index)) continue;
        const bitmap = this.cache.best(index, px, overviewCellPx);
        if (bitmap) {
          const { x, y, w, h } = rect(row, col);
          // Magnified tiles keep their pixels square; shrunk ones are smoothed.
          this.ctx.imageSmoothingEnabled = w < bitmap.width;
          this.ctx.drawImage(bitmap, x, y, w, h);
          sharp += 1;
        }
        if (!bitmap || bitmap.width < px) {
          wanted.push({ index, row, col, px, distance: Math.hypot(row - centre[0], col - centre[1]) });
        }
      }
    }
    wanted.sort((a, b) => a.distance - b.distance); // the middle of the view first
    this.cache.want(wanted);
    return sharp;
  }

  /** Stage point (CSS px of the canvas) as fractions of the stage side. */
  fraction(offsetX, offsetY) {
    const side = this.canvas.clientWidth || 1;
    return [offsetX / side, offsetY / side];
  }

  /** The tile under a stage point (CSS px), or null outside the image. */
  tileAt(offsetX, offsetY) {
    const grid = this.mosaic.grid;
    const { x, y } = this.camera.toImage(...this.fraction(offsetX, offsetY));
    const row = Math.floor(y * grid);
    const col = Math.floor(x * grid);
    return row >= 0 && col >= 0 && row < grid && col < grid ? { row, col } : null;
  }

  listen() {
    const canvas = this.canvas;
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault(); // the page must not scroll while the image zooms
      const lines = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? 16 : 1;
      const factor = Math.exp(-event.deltaY * lines * WHEEL_ZOOM_PER_PX);
      this.camera.zoomAbout(factor, ...this.fraction(event.offsetX, event.offsetY));
    }, { passive: false });
    canvas.addEventListener("pointerdown", (event) => {
      canvas.setPointerCapture(event.pointerId);
      if (!this.pointers.size) this.pressMovedPx = 0;
      this.pointers.set(event.pointerId, { x: event.offsetX, y: event.offsetY });
      canvas.dataset.dragging = "";
    });
    canvas.addEventListener("pointermove", (event) => this.move(event));
    const release = (event) => {
      this.pointers.delete(event.pointerId);
      if (!this.pointers.size) delete canvas.dataset.dragging;
    };
    canvas.addEventListener("pointerup", release);
    canvas.addEventListener("pointercancel", release);
    canvas.addEventListener("click", (event) => {
      if (this.pressMovedPx > DRAG_THRESHOLD_PX) return; // the end of a drag, not a click
      const tile = this.mosaic.grid && this.tileAt(event.offsetX, event.offsetY);
      if (tile) this.hooks.onTileClick(tile.row, tile.col);
    });
    document.addEventListener("keydown", (event) => this.key(event));
  }

  /** One pointer drags the view; two pinch it (zoom about their midpoint, pan with it). */
  move(event) {
    const last = this.pointers.get(event.pointerId);
    if (!last) return;
    const now = { x: event.offsetX, y: event.offsetY };
    const others = [...this.pointers].filter(([id]) => id !== event.pointerId).map(([, p]) => p);
    this.pointers.set(event.pointerId, now);
    this.pressMovedPx += Math.abs(now.x - last.x) + Math.abs(now.y - last.y);
    const side = this.canvas.clientWidth || 1;
    if (others.length === 1) {
      const other = others[0];
      const before = Math.hypot(last.x - other.x, last.y - other.y);
      const after = Math.hypot(now.x - other.x, now.y - other.y);
      const mid = this.fraction((now.x + other.x) / 2, (now.y + other.y) / 2);
      if (before > 0) this.camera.zoomAbout(after / before, ...mid);
      this.camera.panBy((now.x - last.x) / 2 / side, (now.y - last.y) / 2 / side);
    } else if (others.length === 0) {
      this.camera.panBy((now.x - last.x) / side, (now.y - last.y) / side);
    }
  }

  key(event) {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return; // the browser's own zoom
    if (target instanceof HTMLElement && target.closest("input, select, textarea, dialog")) return;
    if (event.key === "+" || event.key === "=") this.camera.zoomAbout(KEY_ZOOM);
    else if (event.key === "-" || event.key === "_") this.camera.zoomAbout(1 / KEY_ZOOM);
    else if (event.key === "0") this.camera.fit();
    else return;
    event.preventDefault();
  }
}
