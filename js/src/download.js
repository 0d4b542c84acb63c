// Exports are built by the kernel and arrive as one buffer; hand them to the browser's
// own download flow through a temporary link.
import { bytesOf } from "./buffers.js";

export function saveFile(host, msg, buffer) {
  const bytes = bytesOf(buffer);
  const blob = new Blob([bytes], { type: String(msg.mime || "application/octet-stream") });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  // The kernel names the file; keep only a base name.
  link.download = String(msg.filename || "export").replace(/[\\/]/g, "_");
  link.hidden = true;
  host.append(link);
  link.click();
  link.remove();
  // Revoking right away can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { filename: link.download, mime: blob.type, size: bytes.byteLength };
}
