// The control key: what lets this page create runs (PUT api/runs/{id} with the dashboard's
// control token). It arrives only in the fragment of a control link (`.../?run=ID#key=TOKEN`;
// a fragment is never sent to a server), is moved at once into sessionStorage (this tab only)
// and out of the address bar, and leaves the page only as an Authorization header. It is never
// put in a URL, the page markup or the console.

const STORAGE_KEY = `mpi-render-control-key:${location.pathname}`;

/**
 * Take the key out of the address bar (history.replaceState, so Back does not bring it back
 * either) and keep it in sessionStorage. Run once, before anything else reads the URL.
 * @returns {string|null} the key of this tab (from the link or kept before), or null: read-only
 */
export function takeControlKey() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const key = fragment.get("key");
  if (key !== null) {
    fragment.delete("key");
    const rest = fragment.toString();
    history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
    if (key.trim()) sessionStorage.setItem(STORAGE_KEY, key.trim());
  }
  return sessionStorage.getItem(STORAGE_KEY);
}

/** Forget the key (the dashboard refused it): the page is read-only from now on. */
export function dropControlKey() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/**
 * Create (or confirm) a run: PUT api/runs/{id} with the key as a bearer token.
 * @returns {Promise<{status: number, doc: object|null}>} status 0 when the dashboard is away
 */
export async function putRun(key, runId, config) {
  try {
    const response = await fetch(`api/runs/${encodeURIComponent(runId)}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify(config),
    });
    return { status: response.status, doc: await response.json().catch(() => null) };
  } catch (err) {
    return { status: 0, doc: null };
  }
}
