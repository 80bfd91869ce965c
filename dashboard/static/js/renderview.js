// "Render this view": on a page opened with the control link, a button that makes the visible
// region a new run (same grid, tile, palette and sites; split dynamic; max_iter suggested from
// the zoom depth, editable; the view as exact decimal strings, place.js) and has the page follow
// it. A read-only page never shows it.

import { checkedMaxIter, childConfig, startRun } from "./newrun.js";
import { MAX_ITER_LIMIT, childRunIds } from "./region.js";
import { $, showNote } from "./view.js";

export class RenderView {
  /**
   * @param {string|null} key the control key, or null (read-only: nothing is shown)
   * @param {Place} place where the stage is (the run on screen and the camera)
   * @param {(runId: string) => void} follow shows another run (changes ?run=)
   * @param {() => void} onKeyRefused the dashboard refused the key (the page turns read-only)
   */
  constructor(key, place, follow, onKeyRefused) {
    this.key = key;
    this.place = place;
    this.follow = follow;
    this.onKeyRefused = onKeyRefused;
    this.maxIterEdited = false;
    this.busy = false;
    $.renderControls.hidden = !key;
    if (!key) return;
    $.renderMaxIter.max = String(MAX_ITER_LIMIT);
    $.renderMaxIter.addEventListener("input", () => { this.maxIterEdited = true; });
    $.renderView.addEventListener("click", () => this.render());
  }

  /** The run on screen changed (its hello arrived). */
  reset() {
    this.maxIterEdited = false;
    this.update();
  }

  /** The key was refused elsewhere: hide the controls. */
  disable() {
    this.key = null;
    $.renderControls.hidden = true;
  }

  /** The max_iter a render would use now (the suggestion unless a person typed one). */
  maxIter() {
    const here = this.place.current();
    if (this.key && this.maxIterEdited) return $.renderMaxIter.value;
    return here ? String(here.suggestedMaxIter) : "";
  }

  /** Refresh after a camera move (at most once per frame: main.js schedules it). */
  update() {
    const here = this.place.current();
    if (!this.key || !here) return;
    if (!this.maxIterEdited) $.renderMaxIter.value = String(here.suggestedMaxIter);
    $.renderView.disabled = this.busy || here.fit || Boolean(here.problem);
    if (!this.busy) this.say(here.problem || "", Boolean(here.problem));
  }

  say(text, isError = false) {
    showNote($.renderNote, text, isError);
  }

  async render() {
    const here = this.place.current();
    if (!here || here.fit) return undefined;
    if (here.problem) return this.say(here.problem, true); // the button is disabled then; keys are not
    const maxIter = checkedMaxIter($.renderMaxIter.value);
    if (maxIter.error) return this.say(maxIter.error, true);
    const { id: parentId, config } = this.place.run;
    this.busy = true;
    $.renderView.disabled = true;
    try {
      return await startRun({
        key: this.key, ids: childRunIds(parentId), config: childConfig(config, here.strings, maxIter.value),
        parent: parentId, say: (text, isError) => this.say(text, isError), follow: this.follow,
        onKeyRefused: this.onKeyRefused,
      });
    } finally {
      this.busy = false;
      this.update();
    }
  }
}
