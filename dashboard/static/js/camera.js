// The view onto the image: which square part of it fills the stage. Pure state and arithmetic
// (no DOM); the viewer moves it, and every layer drawn over the image reads it.
//
// Image coordinates are fractions of the whole square image: (0, 0) its top-left corner, (1, 1)
// its bottom-right. The view is the square [x0, x0 + 1/zoom] x [y0, y0 + 1/zoom]; zoom 1 is the
// whole image ("fit"), and the view never leaves the image.

const EPS = 1e-9;

export class Camera {
  constructor() {
    this.zoom = 1;
    this.x0 = 0;
    this.y0 = 0;
    this.maxZoom = 1;
    this.listeners = new Set();
  }

  /** Call fn() after every change of the view (a layer schedules its redraw there). */
  onChange(fn) {
    this.listeners.add(fn);
  }

  changed() {
    for (const fn of this.listeners) fn();
  }

  /** Back to the whole image, and the deepest zoom allowed for this image (>= 1). */
  reset(maxZoom) {
    this.maxZoom = Math.max(1, maxZoom);
    this.fit();
  }

  fit() {
    this.zoom = 1;
    this.x0 = 0;
    this.y0 = 0;
    this.changed();
  }

  /** Whether the view shows the whole image. */
  get isFit() {
    return this.zoom <= 1 + EPS;
  }

  /** Width of the view as a fraction of the image. */
  get span() {
    return 1 / this.zoom;
  }

  /** Image point under a stage point given as fractions (fx, fy) of the stage side. */
  toImage(fx, fy) {
    return { x: this.x0 + fx * this.span, y: this.y0 + fy * this.span };
  }

  /**
   * Multiply the zoom by `factor` keeping the image point under the stage point (fx, fy) still
   * (the pointer, or the centre for keys); the zoom stays within 1..maxZoom.
   */
  zoomAbout(factor, fx = 0.5, fy = 0.5) {
    const anchor = this.toImage(fx, fy);
    this.zoom = Math.min(this.maxZoom, Math.max(1, this.zoom * factor));
    this.x0 = anchor.x - fx * this.span;
    this.y0 = anchor.y - fy * this.span;
    this.clamp();
    this.changed();
  }

  /** Move the view by (dfx, dfy) fractions of the stage side (a drag to the right: dfx > 0). */
  panBy(dfx, dfy) {
    this.x0 -= dfx * this.span;
    this.y0 -= dfy * this.span;
    this.clamp();
    this.changed();
  }

  /** Show exactly the square [x0, x0 + span] x [y0, y0 + span] of the image. */
  show(x0, y0, span) {
    this.zoom = Math.min(this.maxZoom, Math.max(1, 1 / span));
    this.x0 = x0;
    this.y0 = y0;
    this.clamp();
    this.changed();
  }

  clamp() {
    const limit = 1 - this.span;
    this.x0 = Math.min(limit, Math.max(0, this.x0));
    this.y0 = Math.min(limit, Math.max(0, this.y0));
  }

  /**
   * Where the image cells of a grid x grid split fall on a stage of sidePx pixels: the visible
   * rows and columns and a function giving each cell's rectangle, with edges floored to whole
   * pixels so that neighbouring cells neither overlap nor leave seams.
   * @returns {{rows: [number, number], cols: [number, number], cellPx: number,
   *   rect: (row: number, col: number) => {x: number, y: number, w: number, h: number}}}
   */
  cells(grid, sidePx) {
    const scale = sidePx * this.zoom; // stage px per image (fraction) unit
    const edgeX = (col) => Math.floor((col / grid - this.x0) * scale);
    const edgeY = (row) => Math.floor((row / grid - this.y0) * scale);
    const first = (start) => Math.max(0, Math.floor(start * grid + EPS));
    const last = (start) => Math.min(grid - 1, Math.ceil((start + this.span) * grid - EPS) - 1);
    return {
      rows: [first(this.y0), last(this.y0)],
      cols: [first(this.x0), last(this.x0)],
      cellPx: scale / grid,
      rect: (row, col) => {
        const x = edgeX(col);
        const y = edgeY(row);
        return { x, y, w: edgeX(col + 1) - x, h: edgeY(row + 1) - y };
      },
    };
  }
}
