// The run a zoomed view would make: its region of the complex plane, whether double precision
// can still render it, a max_iter for its depth and a readable id. Pure functions (no DOM).
// Geometry as in the design: the view is the square image of centre (cx, cy) and width `width`,
// row 0 at the top (imaginary part decreasing downwards).

/** Below this pixel pitch, relative to the coordinates, doubles render blocks, not detail. */
export const MIN_RELATIVE_PITCH = 1e-15;
const MAX_ITER_LIMIT = 1_000_000; // the run config's upper bound
/** max_iter grows by a quarter of the parent's for every doubling of the zoom. */
const MAX_ITER_PER_DOUBLING = 0.25;
const RUN_ID_MAX = 64;

/**
 * The complex-plane square shown by a camera over a run of view `view`.
 * @param {{cx: number|string, cy: number|string, width: number|string}} view the run's view
 * @param {{x0: number, y0: number, span: number}} camera the shown square, fractions of the image
 * @returns {{cx: number, cy: number, width: number}}
 */
export function regionOf(view, camera) {
  // A view value may be a decimal string (DESIGN.md, "Deep views"); as doubles here.
  const [cx, cy, width] = [Number(view.cx), Number(view.cy), Number(view.width)];
  // Offsets from the run's centre keep the digits a deep view needs.
  return {
    cx: cx + (camera.x0 + camera.span / 2 - 0.5) * width,
    cy: cy - (camera.y0 + camera.span / 2 - 0.5) * width,
    width: width * camera.span,
  };
}

/**
 * Why a region cannot be rendered with doubles, or null when it can: its pixel pitch must stay
 * above MIN_RELATIVE_PITCH times the largest coordinate in it.
 */
export function precisionProblem(region, imagePx) {
  const pitch = region.width / imagePx;
  const magnitude = Math.max(Math.abs(region.cx), Math.abs(region.cy)) + region.width / 2;
  if (pitch >= MIN_RELATIVE_PITCH * magnitude) return null;
  return `This view is beyond double precision: its pixels would be ${pitch.toExponential(1)} apart `
    + `at coordinates near ${magnitude.toPrecision(3)}, and rendering it would show blocks. Zoom out a little.`;
}

/** A max_iter for a view `zoom` times deeper than a run of `parentMaxIter`. */
export function suggestMaxIter(parentMaxIter, zoom) {
  const wanted = parentMaxIter * (1 + MAX_ITER_PER_DOUBLING * Math.log2(Math.max(1, zoom)));
  return Math.min(MAX_ITER_LIMIT, Math.max(parentMaxIter, Math.round(wanted)));
}

/**
 * Ids for a run zoomed from `parentId`, best first: `<root>-z<depth>`, then `-2`, `-3`, ...
 * for siblings (demo -> demo-z1 -> demo-z2; another view of demo: demo-z1-2). Each matches
 * [A-Za-z0-9_.-]{1,64} (the root is cut to make room).
 * @returns {Generator<string>}
 */
export function* childRunIds(parentId) {
  const match = /^(.*?)-z(\d+)(?:-\d+)?$/.exec(parentId);
  const root = match ? match[1] : parentId;
  const depth = match ? Number(match[2]) + 1 : 1;
  for (let sibling = 1; ; sibling += 1) {
    const suffix = `-z${depth}${sibling > 1 ? `-${sibling}` : ""}`;
    yield `${root.slice(0, RUN_ID_MAX - suffix.length)}${suffix}`;
  }
}
