// "Colour tiles by rank": a canvas over the stage that fills every stored tile in the colour of
// the lane (site, host, rank) that rendered it, the same colour as the lane's mark in the
// activity timeline. It follows the camera like the border layer.

import { StageLayer } from "./stagelayer.js";

const FILL_ALPHA = 0.55;

export class RankLayer extends StageLayer {
  /**
   * @param {HTMLCanvasElement} canvas stacked over the image canvas, the same CSS box
   * @param {Camera} camera the view the stage shows
   */
  constructor(canvas, camera) {
    super(canvas, camera);
    this.grid = 1;
    this.activity = null;
  }

  /** Show the tiles of this Activity (null: nothing) on a grid x grid image. */
  reset(grid, activity) {
    this.grid = grid;
    this.activity = activity;
    this.schedule();
  }

  draw(sidePx) {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, sidePx, sidePx);
    if (!this.activity) return;
    const { rows, cols, rect } = this.camera.cells(this.grid, sidePx);
    ctx.globalAlpha = FILL_ALPHA;
    for (let row = rows[0]; row <= rows[1]; row += 1) {
      for (let col = cols[0]; col <= cols[1]; col += 1) {
        const lane = this.activity.tileLane.get(row * this.grid + col);
        if (!lane) continue;
        const { x, y, w, h } = rect(row, col);
        ctx.fillStyle = lane.colour;
        ctx.fillRect(x, y, w, h);
      }
    }
    ctx.globalAlpha = 1;
  }
}
