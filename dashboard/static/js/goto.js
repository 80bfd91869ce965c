// Reading a location a person pastes into the "Go to" box, in the forms other explorers use.
// Pure (no DOM). Accepted, case-insensitive:
//
//   -0.743643887, 0.131825904, 0.02, 4096         re, im, width[, max_iter] (commas or spaces):
//                                                 what the page's own "copy" gives
//   Re: -1.99996...  Im: 3.0013e-34               Kalles Fraktaler's location text (.kfr):
//   Zoom: 1.76E157   Iterations: 50000            the view's half-height is 2 / Zoom, so on a
//                                                 square image width = 4 / Zoom
//   x = "-1.99996..."  y = "3.0013e-34"           fractalshades' parameters: dx is the width
//   dx = "1.7e-157"  max_iter = 50000
//
// Labels (`name: value` or `name = value`, one per line or separated by , or ;): re / cx / x /
// real for the real part, im / cy / y / imag for the imaginary part, width / dx / w, radius / r
// (half the width), zoom, max_iter / maxiter / iterations / iters / iter. Other labels (a .kfr's
// colour settings) are ignored. Values keep their digits: nothing goes through a double.

import { Decimal } from "./decimal.js";
import { limitProblem, maxIterProblem, quantumExponent } from "./region.js";

/** The dashboard's decimal syntax (mpi_render/view.py): values in it are sent as typed. */
const STRICT_RE = /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** Labels per field, the most specific first (a .kfr also has `real: 1`, `imag: 1` lines). */
const LABELS = {
  cx: ["re", "cx", "x", "real"],
  cy: ["im", "cy", "y", "imag", "imaginary"],
  width: ["width", "dx", "w"],
  radius: ["radius", "r"],
  zoom: ["zoom"],
  maxIter: ["max_iter", "maxiter", "max-iter", "iterations", "iters", "iter"],
};
const LABELLED_RE = /([A-Za-z_][\w-]*)\s*[:=]\s*("[^"]*"|'[^']*'|[^\s,;]+)/g;
export const FORMS_HINT = "Paste re, im, width[, max_iter] (e.g. -0.7436, 0.1318, 0.02, 4096), or "
  + "Re: / Im: / Zoom: lines as Kalles Fraktaler saves them, or x = / y = / dx = as fractalshades prints them.";

/**
 * A pasted location as a run's view and max_iter.
 * @param {string} text what was pasted
 * @param {number} imagePx pixels per side of the image it will be rendered on (the rounding of a
 *   width derived from a zoom or radius depends on it, see quantumExponent)
 * @returns {{view: {cx: string, cy: string, width: string}, maxIter: number|null}}
 * @throws {Error} a message saying what is wrong and which forms are read
 */
export function parseLocation(text, imagePx) {
  const cleaned = String(text).replace(/\u2212/g, "-").trim(); // a typographic minus from a web page
  if (!cleaned) throw new Error(FORMS_HINT);
  const fields = /[A-Za-z_][\w-]*\s*[:=]/.test(cleaned) ? labelled(cleaned) : positional(cleaned);
  for (const name of ["cx", "cy"]) {
    if (fields[name] === undefined) throw new Error(`No ${name === "cx" ? "real part" : "imaginary part"} found. ${FORMS_HINT}`);
  }
  const cx = number("re", fields.cx);
  const cy = number("im", fields.cy);
  const width = widthOf(fields, imagePx);
  const view = { cx: spelled(fields.cx, cx), cy: spelled(fields.cy, cy), width };
  const problem = limitProblem(view);
  if (problem) throw new Error(problem);
  return { view, maxIter: fields.maxIter === undefined ? null : maxIterOf(fields.maxIter) };
}

function labelled(text) {
  const values = new Map(); // label -> its first value
  for (const [, label, raw] of text.matchAll(LABELLED_RE)) {
    const name = label.toLowerCase();
    if (!values.has(name)) values.set(name, raw.replace(/^["']|["']$/g, ""));
  }
  const fields = {};
  for (const [field, names] of Object.entries(LABELS)) {
    const found = names.find((name) => values.has(name));
    if (found) fields[field] = values.get(found);
  }
  return fields;
}

function positional(text) {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (parts.length < 3 || parts.length > 4) {
    throw new Error(`Expected 3 or 4 numbers (re, im, width[, max_iter]), got ${parts.length}. ${FORMS_HINT}`);
  }
  const [cx, cy, width, maxIter] = parts;
  return { cx, cy, width, maxIter };
}

function number(name, raw) {
  try {
    return Decimal.parse(raw);
  } catch (err) {
    throw new Error(`${name}: ${err.message}`);
  }
}

/** The text as typed when the dashboard reads it so, else the exact value respelled. */
function spelled(raw, value) {
  return STRICT_RE.test(raw) ? raw : value.toString();
}

function widthOf(fields, imagePx) {
  if (fields.width !== undefined) {
    const width = number("width", fields.width);
    if (width.sign() <= 0) throw new Error("width must be positive.");
    return spelled(fields.width, width);
  }
  if (fields.radius !== undefined) {
    const radius = number("radius", fields.radius);
    if (radius.sign() <= 0) throw new Error("radius must be positive.");
    return radius.mul(new Decimal(2n)).toString();
  }
  if (fields.zoom !== undefined) {
    const zoom = number("zoom", fields.zoom);
    if (zoom.sign() <= 0) throw new Error("zoom must be positive.");
    if (zoom.lead() > 5000) throw new Error("zoom must be below 1e5000.");
    // width = 4 / zoom, rounded like any view of that depth (a digit or so more, to be safe).
    const approx = new Decimal(4n, -zoom.lead());
    return new Decimal(4n).div(zoom, quantumExponent(approx, imagePx) - 1).toString();
  }
  throw new Error(`No width found (width, dx, radius or zoom). ${FORMS_HINT}`);
}

function maxIterOf(raw) {
  const value = Number(String(raw).replace(/[_,]/g, ""));
  const problem = maxIterProblem(value);
  if (problem) throw new Error(`${problem}, got ${JSON.stringify(String(raw)).slice(0, 40)}.`);
  return value;
}
