// Site-coloured tile borders (solid: stored, dashed: still missing) on a canvas stacked over the
// image. It is drawn at the screen's resolution, not the image's: lines stay one or two screen
// pixels wide whatever the grid or the zoom, and the layer costs little to repaint. It follows
// the camera: only the visible cells are outlined.

import { StageLayer } from "./stagelayer.js";

export class BorderLayer extends StageLayer {
  /**
   * @param {HTMLCanvasElement} canvas the overlay, the same CSS box as the image canvas
   * @param {Camera} camera the view the stage shows
   */
  constructor(canvas, camera) {
    super(canvas, camera);
    this.grid = 1;
    this.cells = new Map(); // tile index -> {colour, stored}
  }

  reset(grid) {
    this.grid = grid;
    this.cells.clear();
    this.schedule();
  }

  /** Outline tile (row, col) in a site's colour; `stored` false draws it dashed (missing). */
  mark(row, col, colour, stored) {
    this.cells.set(row * this.grid + col, { colour, stored });
    this.schedule();
  }

  draw(sidePx) {
    const ratio = window.devicePixelRatio || 1;
    const ctx = this.ctx;
    ctx.clearRect(0, 0, sidePx, sidePx);
    const { rows, cols, cellPx: cell, rect } = this.camera.cells(this.grid, sidePx);
    const lineWidth = Math.max(1, Math.round(ratio));
    ctx.lineWidth = lineWidth;
    // One path per colour and style: a 32 x 32 grid is 2 strokes, not 1024.
    const paths = new Map();
    let missing = 0; // every cell marked missing, on the stage or not
    for (const [index, { colour, stored }] of this.cells) {
      if (!stored) missing += 1;
      const row = Math.floor(index / this.grid);
      const col = index % this.grid;
      if (row < rows[0] || row > rows[1] || col < cols[0] || col > cols[1]) continue;
      const key = `${colour}|${stored}`;
      if (!paths.has(key)) paths.set(key, { colour, stored, path: new Path2D() });
      const { x, y, w, h } = rect(row, col);
      paths.get(key).path.rect(x + lineWidth / 2, y + lineWidth / 2, w - lineWidth, h - lineWidth);
    }
    // Exposed for tests: how many cells are outlined as missing (dashed).
    this.canvas.dataset.missingOutlines = String(missing);
    for (const { colour, stored, path } of paths.values()) {
      ctx.strokeStyle = colour;
      ctx.globalAlpha = stored ? 0.7 : 0.6;
      const dash = Math.min(24, Math.max(2, cell / 8));
      ctx.setLineDash(stored ? [] : [dash, dash * 0.8]);
      ctx.stroke(path);
    }
    ctx.globalAlpha = 1;
  }
}
