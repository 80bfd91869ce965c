// Decode worker: PNG bytes -> ImageBitmap scaled to the overview cell, off the main thread.
// Message in:  {id, buffer: ArrayBuffer (transferred), offset: where the PNG starts, cellPx}
// Message out: {id, bitmap} (bitmap transferred), or {id, error} for bytes that are not a PNG.

onmessage = async (event) => {
  const { id, buffer, offset, cellPx } = event.data;
  try {
    const png = new Blob([new Uint8Array(buffer, offset)], { type: "image/png" });
    // "low" (bilinear) resampling: the overview is a preview, and it keeps decode + scale
    // cheap enough to replay 1024 large tiles quickly; the full-resolution tile is one click away.
    const bitmap = await createImageBitmap(png, {
      resizeWidth: cellPx, resizeHeight: cellPx, resizeQuality: "low",
    });
    postMessage({ id, bitmap }, [bitmap]);
  } catch (err) {
    postMessage({ id, error: String(err) });
  }
};
