// "Where": the view on the stage as text (centre, width, zoom depth, max_iter) with a one-click
// copy, and, on a page with the control key, a "Go to" box for a pasted location and the famous
// locations (GET api/locations, the CLI's list) to start from; both make a run and follow it.

import { Decimal } from "./decimal.js";
import { FORMS_HINT, parseLocation } from "./goto.js";
import { checkedMaxIter, childConfig, startRun } from "./newrun.js";
import { numberedIds, suggestMaxIter } from "./region.js";
import { $, el, showNote } from "./view.js";

const COPIED_SHOWN_MS = 2000;

/** Put text on the clipboard: the Clipboard API, or a selected text area where it is missing. */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (err) {
    // Not a secure context (plain http to another host) or no permission: the old way.
    const area = el("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    return done;
  }
}

export class PositionPanel {
  /**
   * @param {string|null} key the control key (null: read-only, no Go to)
   * @param {Place} place where the stage is
   * @param {() => string} maxIterNow the max_iter a render of this view would use
   * @param {(runId: string) => void} follow shows another run
   * @param {() => void} onKeyRefused the dashboard refused the key
   */
  constructor(key, place, maxIterNow, follow, onKeyRefused) {
    this.key = key;
    this.place = place;
    this.maxIterNow = maxIterNow;
    this.follow = follow;
    this.onKeyRefused = onKeyRefused;
    this.busy = false;
    this.copiedTimer = null;
    $.posCopy.addEventListener("click", () => this.copy());
    $.goto.hidden = !key;
    if (!key) return;
    $.gotoText.title = FORMS_HINT;
    $.gotoGo.addEventListener("click", () => this.goToPasted());
    $.gotoText.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.goToPasted();
      }
    });
    this.loadLocations();
  }

  /** The key was refused elsewhere: no more Go to. */
  disable() {
    this.key = null;
    $.goto.hidden = true;
  }

  /** The text of the current view: {cx, cy, width, zoom, maxIter}, or null before a run. */
  text() {
    const here = this.place.current();
    if (!here) return null;
    return { ...here.strings, zoom: here.zoom, maxIter: this.maxIterNow() };
  }

  /** Refresh after a camera move or a new run (at most once per frame: main.js schedules it). */
  update() {
    const now = this.text();
    $.position.dataset.fit = String(Boolean(this.place.current()?.fit));
    $.posCx.textContent = now?.cx ?? "-";
    $.posCy.textContent = now?.cy ?? "-";
    $.posWidth.textContent = now?.width ?? "-";
    $.posZoom.textContent = now?.zoom ?? "-";
    $.posMaxIter.textContent = now?.maxIter ?? "-";
  }

  async copy() {
    const now = this.text();
    if (!now) return;
    const done = await copyText(`${now.cx}, ${now.cy}, ${now.width}, ${now.maxIter}`);
    $.posCopied.textContent = done ? "copied" : "copy failed: select the text instead";
    clearTimeout(this.copiedTimer);
    this.copiedTimer = setTimeout(() => { $.posCopied.textContent = ""; }, COPIED_SHOWN_MS);
  }

  say(text, isError = false) {
    showNote($.gotoNote, text, isError);
  }

  async loadLocations() {
    let locations = [];
    try {
      const response = await fetch("api/locations");
      if (response.ok) ({ locations } = await response.json());
    } catch (err) {
      // The dashboard is away: the page works without the list.
    }
    $.famousList.replaceChildren(...locations.map((place) => {
      const button = el("button", "button famous", place.name);
      button.type = "button";
      button.title = `${place.description} (width ${place.view.width}, max_iter ${place.max_iter})`;
      button.addEventListener("click", () => this.go(place.view, place.max_iter, numberedIds(place.name)));
      return button;
    }));
  }

  goToPasted() {
    const run = this.place.run;
    if (!run) return this.say("No run on screen yet to take the image settings from.", true);
    let location;
    try {
      location = parseLocation($.gotoText.value, run.imagePx);
    } catch (err) {
      return this.say(err.message, true);
    }
    const maxIter = location.maxIter ?? suggestMaxIter(Decimal.parse(location.view.width));
    return this.go(location.view, maxIter, numberedIds("goto"));
  }

  /** Make a run of `view` (strings) with the image settings of the run on screen, follow it. */
  async go(view, maxIter, ids) {
    const run = this.place.run;
    if (!run) return this.say("No run on screen yet to take the image settings from.", true);
    if (this.busy) return undefined;
    const checked = checkedMaxIter(maxIter);
    if (checked.error) return this.say(checked.error, true);
    this.busy = true;
    try {
      return await startRun({
        key: this.key, ids, config: childConfig(run.config, view, checked.value), parent: run.id,
        say: (text, isError) => this.say(text, isError), follow: this.follow,
        onKeyRefused: this.onKeyRefused,
      });
    } finally {
      this.busy = false;
    }
  }
}
