// Where a run came from: a run made on the page names its parent (the run whose view was zoomed
// into, or the run on screen when a location was chosen), and the dashboard keeps it with the run
// (`parent` in api/runs and the hello). The page shows the chain as a breadcrumb with a Back
// button, the same in every tab, after a reload and for a viewer who joins late.

import { $, el } from "./view.js";

const MAX_DEPTH = 1000; // a chain longer than this is cut (the dashboard cannot make loops)
const CRUMBS_SHOWN = 6; // a longer chain shows its root, "…", and the last ones

export class Lineage {
  /** @param {(runId: string|null) => void} follow shows another run (a crumb or Back) */
  constructor(follow) {
    this.follow = follow;
    this.parents = new Map(); // run id -> parent id (null: none)
    this.shown = null;
    $.lineageBack.addEventListener("click", () => {
      const parent = this.parents.get(this.shown);
      if (parent) this.follow(parent);
    });
  }

  /** Learn parents from GET api/runs entries (or a hello: {id, parent}); redraw if needed. */
  learn(runs) {
    let changed = false;
    for (const { id, parent } of runs) {
      if (this.parents.get(id) !== (parent ?? null)) {
        this.parents.set(id, parent ?? null);
        changed = true;
      }
    }
    if (changed && this.shown) this.show(this.shown);
  }

  /** The ids from the first known ancestor down to `runId` itself. */
  ancestry(runId) {
    const chain = [runId];
    for (let parent = this.parents.get(runId); parent && chain.length < MAX_DEPTH; parent = this.parents.get(parent)) {
      chain.unshift(parent);
    }
    return chain;
  }

  /** Show the breadcrumb of `runId` (hidden for a run without a parent). */
  show(runId) {
    this.shown = runId;
    const chain = this.ancestry(runId);
    $.lineage.hidden = chain.length < 2;
    const shown = chain.length <= CRUMBS_SHOWN ? chain
      : [chain[0], null, ...chain.slice(chain.length - CRUMBS_SHOWN + 2)];
    $.lineagePath.replaceChildren(...shown.map((id, i) => {
      const item = el("li");
      if (id === null) {
        item.append(el("span", "muted", `… ${chain.length - CRUMBS_SHOWN + 1} more`));
      } else if (i === shown.length - 1) {
        item.append(el("span", "current", id));
      } else {
        const link = el("a", "", id);
        link.href = `?run=${encodeURIComponent(id)}`;
        link.addEventListener("click", (event) => {
          event.preventDefault();
          this.follow(id);
        });
        item.append(link);
      }
      return item;
    }));
  }
}
