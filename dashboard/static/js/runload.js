// What the page reads over HTTP before a run's socket opens: the run document, and for a late
// joiner of a large run the server's overview image. URLs are relative (the page may sit under a
// proxy prefix).

import { OVERVIEW_MAX_PX, cellPx } from "./mosaic.js";

/**
 * Stored tiles from which a late joiner draws the server's overview image instead of decoding
 * every full-size tile (e.g. 1024 tiles of 512 px: 268 Mpx of PNG for a 2048 px canvas);
 * `?overview_min=N` overrides it (tests).
 */
const OVERVIEW_MIN_TILES = 64;

/** Relative API URL of a run (relative: the page may sit under a proxy prefix). */
export function runUrl(runId, suffix = "") {
  return `api/runs/${encodeURIComponent(runId)}${suffix}`;
}

/** The run document (GET api/runs/{id}), or null when the dashboard cannot give it now. */
export async function loadRunDoc(runId) {
  try {
    const response = await fetch(runUrl(runId));
    return response.ok ? await response.json() : null;
  } catch (err) {
    return null; // the dashboard is away: the socket shows it and retries
  }
}

/**
 * The run's overview image as {seq, bitmap} when a late join is worth it (many tiles stored,
 * each shown smaller than its size), else null; null too on any failure (tiles then come whole).
 */
export async function loadOverview(runId, { stored, config }) {
  try {
    const wanted = Number(new URLSearchParams(location.search).get("overview_min"));
    const minTiles = wanted > 0 ? wanted : OVERVIEW_MIN_TILES;
    if (stored < minTiles || cellPx(config.grid, config.tile_px) >= config.tile_px) return null;
    const image = await fetch(runUrl(runId, `/overview.png?px=${OVERVIEW_MAX_PX}`));
    const seq = Number(image.headers.get("X-Mosaic-Seq"));
    if (!image.ok || !Number.isInteger(seq)) return null;
    return { seq, bitmap: await createImageBitmap(await image.blob()) };
  } catch (err) {
    return null; // the dashboard is away: the socket shows it and retries
  }
}
