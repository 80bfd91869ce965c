// The run a zoomed view would make, computed exactly: its region of the complex plane as decimal
// strings with as many digits as its depth needs, the limits the dashboard sets, its zoom depth,
// a max_iter for that depth and a readable id. Pure functions (no DOM).
//
// The camera (camera.js) holds only doubles relative to the run's own image: the shown square is
// [x0, x0 + span] of the image's width, a fraction of it. The run's centre and width stay the exact
// decimals of its config (decimal.js). So the page zooms and pans the same at 1e-3 and at 1e-1000:
// the doubles never hold an absolute coordinate, only where in this run's image the view sits, and
// the region is that fraction of the exact view, computed exactly and then rounded (see
// quantumExponent). Geometry as in the design: row 0 at the top, the imaginary part decreasing
// downwards.

import { Decimal } from "./decimal.js";

/** The dashboard's limits for a view value (DESIGN.md "Deep views", mpi_render/view.py). */
export const MAX_VALUE_CHARS = 5000;
export const MIN_EXPONENT = -5000;
export const MAX_EXPONENT = 299; // values stay below 1e300
export const MAX_ITER_LIMIT = 100_000_000;
/** Rounding keeps every value within 1/2000 of a pixel (10**-3 below the pitch's decade). */
const DIGITS_BELOW_PITCH = 3;
/** The whole set is 3 wide: the view of width w is zoom 3 / w. */
const FULL_WIDTH = new Decimal(3n);
/** The max_iter rule: 256 at the whole set, 320 more per decade of zoom (docs: README). */
export const MAX_ITER_BASE = 256;
export const MAX_ITER_PER_DECADE = 320;
const RUN_ID_MAX = 64;
const HALF = new Decimal(5n, -1);

/**
 * Why `value` cannot be a run's max_iter (a sentence without its full stop), or null when it can:
 * a whole number from 1 to MAX_ITER_LIMIT.
 */
export function maxIterProblem(value) {
  if (Number.isInteger(value) && value >= 1 && value <= MAX_ITER_LIMIT) return null;
  return `max_iter must be a whole number from 1 to ${MAX_ITER_LIMIT.toLocaleString("en-US")}`;
}

/**
 * A run's view as exact decimals. JSON numbers mean the decimal they print as (JavaScript and
 * Python both print the shortest text that reads back as the same double).
 * @param {{cx: number|string, cy: number|string, width: number|string}} view
 * @returns {{cx: Decimal, cy: Decimal, width: Decimal}}
 */
export function exactView(view) {
  return { cx: Decimal.parse(String(view.cx)), cy: Decimal.parse(String(view.cy)), width: Decimal.parse(String(view.width)) };
}

/**
 * The decade k to which the values of a view of width `width` on an image of `imagePx` pixels
 * are rounded: k = floor(log10(width)) - ceil(log10(imagePx)) - 3, so 10**k is at most a
 * thousandth of the pixel pitch. The centre then has exactly the digits its depth needs and the
 * width about seven significant digits.
 */
export function quantumExponent(width, imagePx) {
  return width.lead() - Math.ceil(Math.log10(imagePx)) - DIGITS_BELOW_PITCH;
}

/**
 * The square of the complex plane a camera shows over a run of view `exact`, exactly, rounded to
 * the view's quantum.
 * @param {{cx: Decimal, cy: Decimal, width: Decimal}} exact the run's view
 * @param {{x0: number, y0: number, span: number}} camera the shown square, fractions of the image
 * @param {number} imagePx pixels per side of the image (grid * tile_px)
 * @returns {{cx: Decimal, cy: Decimal, width: Decimal}}
 */
export function regionOf(exact, camera, imagePx) {
  const span = Decimal.fromDouble(camera.span);
  const halfSpan = span.mul(HALF);
  // The view's centre, as an offset from the image's centre in fractions of its width.
  const dx = Decimal.fromDouble(camera.x0).add(halfSpan).sub(HALF);
  const dy = Decimal.fromDouble(camera.y0).add(halfSpan).sub(HALF);
  const width = exact.width.mul(span);
  const k = quantumExponent(width, imagePx);
  return {
    cx: exact.cx.add(dx.mul(exact.width)).roundTo(k),
    cy: exact.cy.sub(dy.mul(exact.width)).roundTo(k),
    width: width.roundTo(k),
  };
}

/** {cx, cy, width} of Decimals as the strings a run config carries. */
export function viewStrings(region) {
  return { cx: region.cx.toString(), cy: region.cy.toString(), width: region.width.toString() };
}

/**
 * Why a view cannot be a run, or null when it can: a value longer than the dashboard takes, or
 * beyond the depth it renders.
 * @param {{cx: string, cy: string, width: string}} strings the view as it would be sent
 */
export function limitProblem(strings) {
  for (const [name, text] of Object.entries(strings)) {
    if (text.length > MAX_VALUE_CHARS) {
      return `This view needs ${text.length.toLocaleString("en-US")} characters for ${name}; the `
        + `dashboard takes at most ${MAX_VALUE_CHARS.toLocaleString("en-US")} per value, so this is `
        + "as deep as mpi-render goes here. Zoom out a little.";
    }
  }
  for (const [name, text] of Object.entries(strings)) {
    const value = Decimal.parse(text);
    if (value.isZero()) continue;
    if (value.lead() < MIN_EXPONENT) {
      return `${name} ${value.toPrecision(2)} is below 1e${MIN_EXPONENT}, the deepest view mpi-render renders.`;
    }
    if (value.lead() > MAX_EXPONENT) return `${name} must be below 1e300 in magnitude.`;
  }
  return null;
}

/** log10(zoom) of a view of this width (zoom 1: the whole set, 3 wide). */
export function zoomDecades(width) {
  const digits = width.n.toString().replace("-", "");
  const mantissa = Number(`${digits[0]}.${digits.slice(1, 16) || "0"}`);
  return Math.log10(3) - (width.lead() + Math.log10(mantissa));
}

/** The zoom of a view of this width as text: 3 / width, two significant digits ("1.8e157"). */
export function zoomText(width) {
  const zoom = FULL_WIDTH.div(width, -width.lead() - 6); // 3 / width to about 6 digits
  return zoom.isZero() ? "0" : zoom.toPrecision(2);
}

/**
 * A max_iter for a view of width `width`: it grows by MAX_ITER_PER_DECADE for every decade of
 * zoom. From the whole set: MAX_ITER_BASE + MAX_ITER_PER_DECADE * decades (the Flake, 157 decades
 * deep: 50,575); zoomed from a parent run: at least the parent's max_iter plus the same slope for
 * the decades below the parent (a max_iter a person chose is kept and grows). Within 1..1e8.
 * @param {Decimal} width the new view's width
 * @param {{maxIter: number, width: Decimal}|null} parent the run it is zoomed from, or null
 */
export function suggestMaxIter(width, parent = null) {
  const decades = zoomDecades(width);
  let wanted = MAX_ITER_BASE + MAX_ITER_PER_DECADE * Math.max(0, decades);
  if (parent) {
    const below = decades - zoomDecades(parent.width);
    wanted = Math.max(wanted, parent.maxIter + MAX_ITER_PER_DECADE * Math.max(0, below));
  }
  return Math.min(MAX_ITER_LIMIT, Math.max(1, Math.round(wanted)));
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
  yield* numberedIds(root, `-z${depth}`);
}

/**
 * `<base><suffix>`, then `<base><suffix>-2`, `-3`, ..., each cut to the run id's 64 characters.
 * @returns {Generator<string>}
 */
export function* numberedIds(base, suffix = "") {
  for (let sibling = 1; ; sibling += 1) {
    const tail = `${suffix}${sibling > 1 ? `-${sibling}` : ""}`;
    yield `${base.slice(0, RUN_ID_MAX - tail.length)}${tail}`;
  }
}
