// The control surface, made from the show's OSCQuery tree (/tree): faders for numbers with a range, toggles
// for on/off, buttons for actions, pickers for choices. Changes go to the show as OSC over the WebSocket
// (/ws); the show's changes come back through LISTEN, so every browser and controller stays in step.
"use strict";

const controls = document.getElementById("controls");
const status = document.getElementById("status");
const widgets = new Map();   // address -> {node, input, show(value)}
let socket = null;

function leaves(node, out = []) {
  if (node.CONTENTS) Object.values(node.CONTENTS).forEach((child) => leaves(child, out));
  else out.push(node);
  return out;
}

function send(node, value) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(OSC.encode(node.FULL_PATH, node.TYPE, value));
}

function fader(node, readOnly) {
  const {MIN: min, MAX: max} = node.RANGE[0];
  const input = Object.assign(document.createElement("input"), {type: "range", min, max, disabled: readOnly});
  input.step = node.TYPE === "i" ? Math.max(1, Math.round((max - min) / 1000)) : (max - min) / 1000;
  const shown = document.createElement("output");
  const show = (v) => { if (!input.dataset.held) input.value = v; shown.textContent = Number(v).toFixed(node.TYPE === "i" ? 0 : 2); };
  input.addEventListener("input", () => { shown.textContent = input.value; send(node, Number(input.value)); });
  input.addEventListener("pointerdown", () => { input.dataset.held = "1"; });
  input.addEventListener("pointerup", () => { delete input.dataset.held; });
  return {input, extra: shown, show};
}

function toggle(node, readOnly) {
  const input = Object.assign(document.createElement("input"), {type: "checkbox", disabled: readOnly});
  input.addEventListener("change", () => send(node, input.checked));
  return {input, show: (v) => { input.checked = Boolean(v); }};
}

function picker(node, readOnly) {
  const input = Object.assign(document.createElement("select"), {disabled: readOnly});
  for (const choice of node.RANGE[0].VALS) input.append(new Option(choice, choice));
  input.addEventListener("change", () => send(node, input.value));
  return {input, show: (v) => { input.value = v; }};
}

function button(node) {
  const input = Object.assign(document.createElement("button"), {type: "button", textContent: node.FULL_PATH.split("/").pop()});
  input.addEventListener("click", () => send(node, null));
  return {input, show: () => {}};
}

function text(node, readOnly) {
  const number = node.TYPE === "i" || node.TYPE === "f";
  const input = Object.assign(document.createElement("input"), {type: number ? "number" : "text", readOnly, size: 14});
  input.addEventListener("change", () => send(node, number ? Number(input.value) : input.value));
  return {input, show: (v) => { input.value = v; }};
}

function widget(node) {
  const readOnly = node.ACCESS === 1;
  const range = node.RANGE && node.RANGE[0];
  if (node.TYPE === "N") return node.ACCESS === 0 ? null : button(node);
  if (node.ACCESS === 0) return null;
  if (node.TYPE === "T") return toggle(node, readOnly);
  if (range && range.VALS) return picker(node, readOnly);
  const span = range && range.MIN !== undefined && range.MAX !== undefined ? range.MAX - range.MIN : Infinity;
  if (span < Infinity && (node.TYPE === "f" || (node.TYPE === "i" && span <= 10000))) return fader(node, readOnly);
  return text(node, readOnly);  // free strings, and numbers too wide for a fader (a seed)
}

const ORDER = ["scene", "visual", "audio", "sampler", "record", "display"];
const rank = (node) => { const i = ORDER.indexOf(node.FULL_PATH.split("/")[1]); return i < 0 ? ORDER.length : i; };

function build(tree) {
  controls.replaceChildren();
  widgets.clear();
  const groups = new Map();
  const nodes = leaves(tree).sort((a, b) => rank(a) - rank(b) || a.FULL_PATH.split("/").length - b.FULL_PATH.split("/").length);
  for (const node of nodes) {
    const made = widget(node);
    if (!made) continue;
    const group = node.FULL_PATH.split("/").slice(1, -1).join(" ");
    if (!groups.has(group)) {
      const fieldset = document.createElement("fieldset");
      fieldset.append(Object.assign(document.createElement("legend"), {textContent: group}));
      controls.append(fieldset);
      groups.set(group, fieldset);
    }
    const row = Object.assign(document.createElement("label"), {className: "row", title: node.DESCRIPTION});
    row.dataset.address = node.FULL_PATH;
    made.input.dataset.address = node.FULL_PATH;
    row.append(Object.assign(document.createElement("span"), {textContent: node.FULL_PATH.split("/").pop()}), made.input);
    if (made.extra) row.append(made.extra);
    groups.get(group).append(row);
    widgets.set(node.FULL_PATH, {node, ...made});
    if (node.VALUE) showValue(node.FULL_PATH, node.VALUE[0]);
  }
}

function showValue(address, value) {
  for (const shown of [address, address === "/scene/name" ? "/scene/load" : null]) {  // the picker shows the scene playing
    const made = widgets.get(shown);
    if (made) made.show(value);
  }
}

async function refresh() {
  const response = await fetch("/tree", {cache: "no-store"});
  build(await response.json());
  for (const address of widgets.keys()) socket.send(JSON.stringify({COMMAND: "LISTEN", DATA: address}));
  document.body.dataset.ready = "1";
}

function connect() {
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { status.textContent = "live"; refresh(); };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") return;  // OSCQuery's JSON notices: none needed here
    const {address, value} = OSC.decode(event.data);
    showValue(address, value);
    if (address === "/scene/name") refresh();  // a new scene brings other sound layers
  };
  socket.onclose = () => {
    status.textContent = "reconnecting…";
    delete document.body.dataset.ready;
    setTimeout(connect, 1000);
  };
}

connect();
