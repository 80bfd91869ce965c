// Site-coloured tile borders (solid: stored, dashed: still missing) on a canvas stacked over the
// image. It is drawn at the screen's resolution, not the image's: lines stay one or two screen
// pixels wide whatever the grid, and the layer costs little to repaint.

export class BorderLayer {
  /** @param {HTMLCanvasElement} canvas the overlay, the same CSS box as the image canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.grid = 1;
    this.cells = new Map(); // tile index -> {colour, stored}
    this.frameRequested = false;
    new ResizeObserver(() => this.schedule()).observe(canvas);
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

  schedule() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.redraw());
  }

  redraw() {
    this.frameRequested = false;
    const ratio = window.devicePixelRatio || 1;
    const sidePx = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    if (this.canvas.width !== sidePx || this.canvas.height !== sidePx) {
      this.canvas.width = sidePx;
      this.canvas.height = sidePx;
    }
    const ctx = this.ctx;
    ctx.clearRect(0, 0, sidePx, sidePx);
    const cell = sidePx / this.grid;
    const lineWidth = Math.max(1, Math.round(ratio));
    ctx.lineWidth = lineWidth;
    // One path per colour and style: a 32 x 32 grid is 2 strokes, not 1024.
    const paths = new Map();
    for (const [index, { colour, stored }] of this.cells) {
      const key = `${colour}|${stored}`;
      if (!paths.has(key)) paths.set(key, { colour, stored, path: new Path2D() });
      const x = (index % this.grid) * cell;
      const y = Math.floor(index / this.grid) * cell;
      paths.get(key).path.rect(x + lineWidth / 2, y + lineWidth / 2, cell - lineWidth, cell - lineWidth);
    }
    for (const { colour, stored, path } of paths.values()) {
      ctx.strokeStyle = colour;
      ctx.globalAlpha = stored ? 0.7 : 0.6;
      ctx.setLineDash(stored ? [] : [Math.max(2, cell / 8), Math.max(2, cell / 10)]);
      ctx.stroke(path);
    }
    ctx.globalAlpha = 1;
  }
}
