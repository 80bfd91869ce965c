// A canvas of the stage drawn through the camera at the screen's resolution, at most once per
// animation frame and only after something changed (a new tile, a camera move, a resize).
// The viewer, the site borders and the rank overlay are each one.

/** Size a square canvas to its CSS box in device pixels; returns its side in device px. */
export function sizeToScreen(canvas) {
  const sidePx = Math.max(1, Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)));
  if (canvas.width !== sidePx || canvas.height !== sidePx) {
    canvas.width = sidePx;
    canvas.height = sidePx;
  }
  return sidePx;
}

export class StageLayer {
  /**
   * @param {HTMLCanvasElement} canvas the layer (a hidden one is not drawn)
   * @param {Camera} camera the view the stage shows
   * @param {object} contextOptions for getContext("2d", ...)
   */
  constructor(canvas, camera, contextOptions = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", contextOptions);
    this.camera = camera;
    this.frameRequested = false;
    new ResizeObserver(() => this.schedule()).observe(canvas);
    camera.onChange(() => this.schedule());
  }

  schedule() {
    if (this.frameRequested || this.canvas.hidden) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.draw(sizeToScreen(this.canvas));
    });
  }

  /** Draw the layer on a canvas of sidePx x sidePx device pixels (subclasses). */
  draw(sidePx) {
    throw new Error(`${this.constructor.name} must define draw(${sidePx})`);
  }
}
