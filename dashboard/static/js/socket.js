// One run's WebSocket: connect, resume from the last seq after a drop, exponential backoff.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;

/**
 * The WebSocket URL of a dashboard path, derived from the page's own URL, so the page works
 * under any proxy prefix (http -> ws, https -> wss, path relative to the current directory).
 * @param {string} relativePath e.g. "api/runs/ID/ws?since=0"
 */
export function socketUrl(relativePath) {
  const url = new URL(relativePath, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/**
 * Keeps one run's tile stream open until close() is called.
 *
 * Callbacks: onHello(msg) for the hello text frame, onFrame(ArrayBuffer) for every binary tile
 * frame, onControl(msg) for other JSON text frames, onStatus(state, detail) with state one of
 * "connecting" | "live" | "retrying" | "closed" (detail: the retry delay in ms when retrying).
 * The caller tells the socket the last seq it has stored with `lastSeq`; a reconnect asks for
 * `since=lastSeq`, so nothing is replayed twice unless the caller lost it. With `imagesAfter`
 * set (the seq of an overview image the caller drew), replayed tiles up to it come header-only.
 */
export class TileSocket {
  constructor(runId, callbacks) {
    this.runId = runId;
    this.callbacks = callbacks;
    this.lastSeq = 0;
    this.imagesAfter = 0;
    this.backoffMs = BACKOFF_FIRST_MS;
    this.ws = null;
    this.retryTimer = null;
    this.closed = false;
  }

  open() {
    if (this.closed) return;
    const images = this.imagesAfter > 0 ? `&images_after=${this.imagesAfter}` : "";
    const path = `api/runs/${encodeURIComponent(this.runId)}/ws?since=${this.lastSeq}${images}`;
    this.callbacks.onStatus("connecting");
    const ws = new WebSocket(socketUrl(path));
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => this.dropped(ws, event);
    this.ws = ws;
  }

  receive(data) {
    if (typeof data !== "string") {
      this.callbacks.onFrame(data);
      return;
    }
    const msg = JSON.parse(data);
    if (msg.type === "hello") {
      // Reset the backoff only once the server has answered, not on a bare TCP connect.
      this.backoffMs = BACKOFF_FIRST_MS;
      this.callbacks.onStatus("live");
      this.callbacks.onHello(msg);
    } else {
      this.callbacks.onControl(msg);
    }
  }

  dropped(ws, event) {
    if (ws !== this.ws || this.closed) return;
    this.ws = null;
    // 4404-style or HTTP 404 closes still retry: the run may be created a moment later.
    const delayMs = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.callbacks.onStatus("retrying", { delayMs, code: event.code });
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, "page left the run");
    this.ws = null;
    this.callbacks.onStatus("closed");
  }
}
