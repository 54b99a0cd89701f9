// OSC 1.0 messages with one argument, as OSCQuery's WebSocket carries them (big-endian, 4-byte aligned).
"use strict";

const OSC = (() => {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  function padded(bytes) {  // a string's bytes, a 0 terminator, zeros to a multiple of 4
    const out = new Uint8Array((bytes.length + 4) & ~3);
    out.set(bytes);
    return out;
  }

  // type: "f", "i", "s", "T" (on/off: value true/false), "N" (no argument)
  function encode(address, type, value) {
    let tag = type, payload = new Uint8Array(0);
    if (type === "T") {
      tag = value ? "T" : "F";
    } else if (type === "f" || type === "i") {
      payload = new Uint8Array(4);
      const view = new DataView(payload.buffer);
      if (type === "f") view.setFloat32(0, value); else view.setInt32(0, Math.round(value));
    } else if (type === "s") {
      payload = padded(encoder.encode(String(value)));
    } else {
      tag = "";
    }
    const parts = [padded(encoder.encode(address)), padded(encoder.encode("," + tag)), payload];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out.buffer;
  }

  function readString(bytes, at) {
    let end = at;
    while (end < bytes.length && bytes[end] !== 0) end++;
    return [decoder.decode(bytes.subarray(at, end)), (end + 4) & ~3];
  }

  // -> {address, value} (the first argument; null when there is none)
  function decode(buffer) {
    const bytes = new Uint8Array(buffer), view = new DataView(buffer);
    let [address, at] = readString(bytes, 0);
    let tags;
    [tags, at] = readString(bytes, at);
    const tag = tags[1];
    let value = null;
    if (tag === "f") value = view.getFloat32(at);
    else if (tag === "d") value = view.getFloat64(at);
    else if (tag === "i") value = view.getInt32(at);
    else if (tag === "h") value = Number(view.getBigInt64(at));
    else if (tag === "s") value = readString(bytes, at)[0];
    else if (tag === "T") value = true;
    else if (tag === "F") value = false;
    return {address, value};
  }

  return {encode, decode};
})();
