// Making a run from the page: PUT api/runs/{id} with the control key under the first id of a
// series that is free, with the run it came from as its parent (kept by the dashboard, so the
// breadcrumb works in any tab). Shared by "Render this view", "Go to" and the famous locations.

import { dropControlKey, putRun } from "./control.js";
import { maxIterProblem } from "./region.js";

const MAX_ID_TRIES = 50; // ids already taken before the page gives up

/** The run config of a new view from the run on screen: its image and sites, split dynamic. */
export function childConfig(base, view, maxIter) {
  return {
    grid: base.grid, tile_px: base.tile_px, palette: base.palette, max_iter: maxIter, view,
    sites: base.sites, split: "dynamic", weights: null,
  };
}

/** A max_iter typed by a person as {value}, or {error: message}. */
export function checkedMaxIter(text) {
  const value = Number(text);
  const problem = maxIterProblem(value);
  return problem ? { error: `${problem}.` } : { value };
}

/** The ids of the dashboard's runs (empty when it cannot say: a PUT then answers 409). */
async function takenIds() {
  try {
    const response = await fetch("api/runs");
    return new Set(response.ok ? (await response.json()).runs.map((run) => run.id) : []);
  } catch (err) {
    return new Set();
  }
}

/**
 * Create a run under the first free id `ids` yields.
 * @param {string} key the control key
 * @param {Iterator<string>} ids candidate run ids, best first
 * @param {object} config the run config (view values as decimal strings)
 * @param {string|null} parent the run it was made from
 * @returns {Promise<{runId: string}|{error: string, keyRefused: boolean}>} keyRefused: the
 *   dashboard refused the key (it is forgotten: the page is read-only from now on)
 */
export async function createRun(key, ids, config, parent) {
  const body = parent ? { ...config, parent } : config;
  const taken = await takenIds();
  for (let attempt = 0; attempt < MAX_ID_TRIES; attempt += 1) {
    const runId = ids.next().value;
    if (taken.has(runId)) continue;
    const { status, doc } = await putRun(key, runId, body);
    if (status === 201 || status === 200) return { runId };
    if (status === 409) continue; // just taken by another page: try the next id
    const keyRefused = status === 401 || status === 403;
    if (keyRefused) dropControlKey();
    return { error: `The dashboard refused the run (${status || "no answer"}): ${doc?.error ?? "try again"}`, keyRefused };
  }
  return { error: "Every id for this run is taken.", keyRefused: false };
}

/**
 * createRun, telling the person how it goes through `say(text, isError)`: "creating the run…",
 * then the page follows the new run, or the dashboard's refusal is shown (a refused key also
 * calls onKeyRefused: the page turns read-only).
 * @returns {Promise<boolean>} whether the run was made
 */
export async function startRun({ key, ids, config, parent, say, follow, onKeyRefused }) {
  say("creating the run…");
  const made = await createRun(key, ids, config, parent);
  if (made.runId) {
    say("");
    follow(made.runId);
    return true;
  }
  if (made.keyRefused) onKeyRefused();
  say(made.error, true);
  return false;
}
