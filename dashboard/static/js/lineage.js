// Where a run came from: runs made with "Render this view" remember their parent (in this tab's
// sessionStorage), and the page shows the chain as a breadcrumb with a Back button.

import { $, el } from "./view.js";

const STORAGE_KEY = `mpi-render-parents:${location.pathname}`;
const MAX_DEPTH = 32; // a loop in the stored map cannot hang the page

function parents() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "{}");
  } catch (err) {
    return {}; // something else wrote there: start afresh
  }
}

/** Remember that `childId` was rendered from a view of `parentId`. */
export function rememberParent(childId, parentId) {
  const map = parents();
  map[childId] = parentId;
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(map));
}

/** The ids from the first ancestor known down to `runId` itself. */
export function ancestry(runId) {
  const map = parents();
  const chain = [runId];
  while (map[chain[0]] && chain.length < MAX_DEPTH && !chain.includes(map[chain[0]])) {
    chain.unshift(map[chain[0]]);
  }
  return chain;
}

/**
 * Show the breadcrumb of `runId` (hidden for a run without a known parent); `follow(id)` shows
 * another run (a click on a crumb or Back).
 */
export function showLineage(runId, follow) {
  const chain = ancestry(runId);
  $.lineage.hidden = chain.length < 2;
  const items = chain.map((id, i) => {
    const item = el("li");
    if (i === chain.length - 1) {
      item.append(el("span", "current", id));
    } else {
      const link = el("a", "", id);
      link.href = `?run=${encodeURIComponent(id)}`;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        follow(id);
      });
      item.append(link);
    }
    return item;
  });
  $.lineagePath.replaceChildren(...items);
  $.lineageBack.onclick = chain.length < 2 ? null : () => follow(chain[chain.length - 2]);
}
