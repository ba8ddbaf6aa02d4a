// Permalinks: the whole program in the URL's hash, as Compiler Explorer's
// links carry their state. `#lang=tinylang&code=<base64url(deflate-raw(UTF-8))>`.
// The hash never reaches the server, so a shared link leaks nothing to it.

async function pipe(bytes, stream) {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

function toBase64Url(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

export async function encodePermalink(language, source) {
  const packed = await pipe(new TextEncoder().encode(source), new CompressionStream("deflate-raw"));
  return `#lang=${encodeURIComponent(language)}&code=${toBase64Url(packed)}`;
}

// -> {language, source} or null when the hash holds no program; throws with a
// readable message when it holds a damaged one.
export async function decodePermalink(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const code = params.get("code");
  if (code === null) return null;
  const language = params.get("lang") === "lox" ? "lox" : "tinylang";
  try {
    const bytes = await pipe(fromBase64Url(code), new DecompressionStream("deflate-raw"));
    return { language, source: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    throw new Error("this permalink is damaged: its program could not be decoded");
  }
}
