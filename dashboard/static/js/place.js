// Where the stage is in the complex plane: the run on screen (its exact view) seen through the
// camera. Computed once per camera position and kept, since the coordinates text, "Render this
// view" and the Go-to defaults all read it in the same frame. No DOM.

import {
  exactView, limitProblem, regionOf, suggestMaxIter, viewStrings, zoomText,
} from "./region.js";

export class Place {
  /** @param {Camera} camera the view of the run's image the stage shows */
  constructor(camera) {
    this.camera = camera;
    this.run = null; // {id, config, exact, imagePx} of the run on screen
    this.key = "";
    this.cached = null;
  }

  /** The run on screen changed (its hello arrived); null: no run. */
  reset(runId, config) {
    this.run = runId === null ? null : {
      id: runId, config, exact: exactView(config.view), imagePx: config.grid * config.tile_px,
    };
    this.cached = null;
  }

  /**
   * What the stage shows now, or null before a run:
   * {fit, strings: {cx, cy, width}, width: Decimal, zoom: text, suggestedMaxIter, problem}.
   * At fit the strings are the run's config values as given (digit for digit); zoomed in they are
   * the visible region, exact and rounded (region.js). `problem` says why it cannot be a run.
   */
  current() {
    const { run, camera } = this;
    if (!run) return null;
    const key = `${run.id}|${camera.x0}|${camera.y0}|${camera.zoom}`;
    if (this.cached && this.key === key) return this.cached;
    const { config, exact, imagePx } = run;
    const fit = camera.isFit;
    const region = fit ? exact : regionOf(exact, camera, imagePx);
    const strings = fit
      ? { cx: String(config.view.cx), cy: String(config.view.cy), width: String(config.view.width) }
      : viewStrings(region);
    this.key = key;
    this.cached = {
      fit,
      strings,
      width: region.width,
      zoom: zoomText(region.width),
      suggestedMaxIter: fit ? config.max_iter
        : suggestMaxIter(region.width, { maxIter: config.max_iter, width: exact.width }),
      problem: fit ? null : limitProblem(strings),
    };
    return this.cached;
  }
}
