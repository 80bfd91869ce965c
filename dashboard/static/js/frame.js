// Decoding of the binary WebSocket tile frame (layout in mpi_render/protocol.py and docs/API.md):
//   bytes 0..3 "MRT1", bytes 4..7 header length H (u32 big-endian),
//   bytes 8..8+H UTF-8 JSON header, then the PNG bytes.

const MAGIC = [0x4d, 0x52, 0x54, 0x31]; // "MRT1"
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Read one tile frame's header; the PNG is left in place (decoded later, off the main thread).
 * @param {ArrayBuffer} buffer the whole binary message
 * @returns {{header: object, pngOffset: number}} header = {seq, row, col, site, ...};
 *   the PNG is buffer[pngOffset:]
 * @throws {Error} bad magic, or a header length that runs past the end of the frame
 */
export function decodeFrame(buffer) {
  const view = new DataView(buffer);
  if (buffer.byteLength < 8 || MAGIC.some((byte, i) => view.getUint8(i) !== byte)) {
    throw new Error("not a tile frame (bad magic)");
  }
  const headerBytes = view.getUint32(4, false);
  if (8 + headerBytes > buffer.byteLength) {
    throw new Error("tile frame header runs past the end of the frame");
  }
  const header = JSON.parse(utf8.decode(new Uint8Array(buffer, 8, headerBytes)));
  return { header, pngOffset: 8 + headerBytes };
}
