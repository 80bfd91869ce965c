// "Render this view": on a page opened with the control link, a button that makes the visible
// region a new run (same grid, tile, palette and sites; split dynamic; max_iter suggested from
// the zoom depth, editable) and has the page follow it. A read-only page never shows it.

import { dropControlKey, putRun } from "./control.js";
import { rememberParent } from "./lineage.js";
import { childRunIds, precisionProblem, regionOf, suggestMaxIter } from "./region.js";
import { $ } from "./view.js";

const MAX_ID_TRIES = 50; // ids already taken before the page gives up

/** The ids of the dashboard's runs (empty when it cannot say: a PUT then answers 409). */
async function takenIds() {
  try {
    const response = await fetch("api/runs");
    return new Set(response.ok ? (await response.json()).runs.map((run) => run.id) : []);
  } catch (err) {
    return new Set();
  }
}

export class RenderView {
  /**
   * @param {string|null} key the control key, or null (read-only: nothing is shown)
   * @param {Camera} camera the view to render
   * @param {(runId: string) => void} follow shows another run (changes ?run=)
   */
  constructor(key, camera, follow) {
    this.key = key;
    this.camera = camera;
    this.follow = follow;
    this.run = null; // {id, config} of the run on screen
    this.maxIterEdited = false;
    this.busy = false;
    $.renderControls.hidden = !key;
    if (!key) return;
    camera.onChange(() => this.update());
    $.renderMaxIter.addEventListener("input", () => { this.maxIterEdited = true; });
    $.renderView.addEventListener("click", () => this.render());
  }

  /** The run on screen changed (its hello arrived). */
  reset(runId, config) {
    this.run = { id: runId, config };
    this.maxIterEdited = false;
    this.update();
  }

  /** The view's region and what stops it from being rendered ("" when nothing). */
  target() {
    const { config } = this.run;
    const region = regionOf(config.view, this.camera);
    return { region, problem: precisionProblem(region, config.grid * config.tile_px) };
  }

  update() {
    if (!this.key || !this.run) return;
    const { problem } = this.target();
    if (!this.maxIterEdited) $.renderMaxIter.value = String(suggestMaxIter(this.run.config.max_iter, this.camera.zoom));
    $.renderView.disabled = this.busy || this.camera.isFit || Boolean(problem);
    if (!this.busy) this.say(problem || "", Boolean(problem));
  }

  say(text, isError = false) {
    $.renderNote.textContent = text;
    $.renderNote.dataset.error = isError ? "true" : "false";
  }

  async render() {
    const { id: parentId, config } = this.run;
    const { region, problem } = this.target();
    const maxIter = Number($.renderMaxIter.value);
    if (problem) return this.say(problem, true); // the button is disabled then; keys are not
    if (!Number.isInteger(maxIter) || maxIter < 1 || maxIter > 1_000_000) {
      return this.say("max_iter must be a whole number from 1 to 1000000.", true);
    }
    const child = {
      grid: config.grid, tile_px: config.tile_px, palette: config.palette, max_iter: maxIter,
      view: region, sites: config.sites, split: "dynamic", weights: null,
    };
    this.busy = true;
    $.renderView.disabled = true;
    this.say("creating the run…");
    try {
      const ids = childRunIds(parentId);
      const taken = await takenIds();
      for (let attempt = 0; attempt < MAX_ID_TRIES; attempt += 1) {
        const runId = ids.next().value;
        if (taken.has(runId)) continue;
        const { status, doc } = await putRun(this.key, runId, child);
        if (status === 201 || status === 200) {
          rememberParent(runId, parentId);
          this.say("");
          this.follow(runId);
          return undefined;
        }
        if (status === 409) continue; // just taken by another page: try the next id
        if (status === 401 || status === 403) {
          dropControlKey();
          $.renderControls.hidden = true;
          this.key = null;
        }
        return this.say(`The dashboard refused the run (${status || "no answer"}): ${doc?.error ?? "try again"}`, true);
      }
      return this.say("Every id for this view is taken.", true);
    } finally {
      this.busy = false;
      this.update();
    }
  }
}
