// foir360 annotate: the page. Rank every object of a panorama by clicking them from most
// to least important. The server sends, per picture ("surface"), a JPEG and an object-index
// map (uint16 per pixel, 0 = no object, k + 1 = object k); hit-testing and highlighting
// happen here against that map. Sparse panoramas have one surface (the rolled ERP); dense
// ones one per sub-window, ranked in turn and merged by the server (local rank collector).
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = { ranked: [40, 150, 255, 110], hover: [255, 200, 0, 150], free: [255, 255, 255, 40] };

const state = {
  pano: null,        // /api/pano/<id> answer
  surfaces: [],      // per surface: {meta, image, index (Uint16Array), order: [object ids]}
  current: 0,        // surface shown
  merged: null,      // dense: merged global order once all windows are ranked
  hover: -1,         // object under the mouse (or the list item), -1 = none
  started: 0,        // time the panorama was shown, for the record
  busy: false,       // a request is in flight: ignore buttons
};

// ----------------------------------------------------------------------------- server

// The server's per-run token, embedded in this page: every write quotes it, so pages from
// other origins (which cannot read this page) cannot write annotations.
const TOKEN = document.querySelector('meta[name="foir360-token"]').content;

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Foir360-Token": TOKEN },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  let data = {};
  try { data = await response.json(); } catch (_) { /* not JSON: keep {} */ }
  return { ok: response.ok, status: response.status, data };
}

async function loadIndexMap(url, width, height) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`index map ${url}: HTTP ${response.status}`);
  const view = new DataView(await response.arrayBuffer());
  if (view.byteLength !== width * height * 2) {
    throw new Error(`index map ${url}: ${view.byteLength} bytes for ${width}x${height}`);
  }
  const index = new Uint16Array(width * height);
  for (let i = 0; i < index.length; i++) index[i] = view.getUint16(2 * i, true);
  return index;
}

async function loadImage(url) {
  const image = new Image();
  image.src = url;
  await image.decode();
  return image;
}

// ----------------------------------------------------------------------------- messages

function say(text, kind = "") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
}

function objectName(k) {
  const obj = state.pano.objects[k];
  return `object ${k} (${obj.category})`;
}

// ----------------------------------------------------------------------------- loading

async function start() {
  const params = new URLSearchParams(window.location.search);
  const wanted = params.get("pano");
  if (wanted !== null) {
    await openPano(Number(wanted));
  } else {
    await openNext();
  }
}

async function refreshProgress() {
  const { data } = await api("/api/session");
  const position = state.pano ? `Panorama ${state.pano.position + 1} of ${data.total}` : `${data.total} panoramas`;
  $("progress").textContent =
    `${position} · done ${data.done} · skipped ${data.skipped} · rejected ${data.rejected} · annotator ${data.annotator}`;
  return data;
}

async function openNext() {
  const session = await refreshProgress();
  if (session.next === null) {
    finish(session);
    return;
  }
  await openPano(session.next);
}

function finish(session) {
  state.pano = null;
  $("finished-text").textContent =
    `${session.done} of ${session.total} panoramas ranked, ${session.skipped} skipped, ` +
    `${session.rejected} rejected. The ranks are in ${session.out}.`;
  $("finished").hidden = false;
  document.querySelector("main").hidden = true;
  $("progress").textContent = `done ${session.done} of ${session.total}`;
  document.body.dataset.state = "finished";
}

async function openPano(id) {
  document.body.dataset.state = "loading";
  const { ok, status, data } = await api(`/api/pano/${id}`);
  if (!ok) {
    if (status === 422) {
      // The server has recorded why (no objects, masks not matching the image...): move on.
      say(`Panorama ${id} ${data.status}: ${data.error}`, "error");
      await openNext();
      return;
    }
    say(`Cannot open panorama ${id}: ${data.error || `HTTP ${status}`}`, "error");
    document.body.dataset.state = "error";
    return;
  }
  state.pano = data;
  state.surfaces = await Promise.all(data.surfaces.map(async (meta) => ({
    meta,
    image: await loadImage(meta.image),
    index: await loadIndexMap(meta.index_map, meta.width, meta.height),
    order: [],
  })));
  state.current = 0;
  state.merged = null;
  state.hover = -1;
  state.started = performance.now();
  $("pano-name").textContent = data.file_name;
  const mode = $("mode");
  mode.textContent = `${data.mode} · density ${data.density.toFixed(1)} (threshold ${data.dense_threshold})`;
  mode.className = `badge ${data.mode}`;
  $("window-nav").hidden = data.mode !== "dense";
  $("merged").hidden = true;
  $("ranking").hidden = false;
  await refreshProgress();
  document.body.dataset.pano = String(id);
  render();
  document.body.dataset.state = "ranking";
}

// ----------------------------------------------------------------------------- drawing

function surface() { return state.surfaces[state.current]; }

function rankOf(k) {
  // 1-based place of object k in the current surface's order, 0 when not ranked yet.
  return surface().order.indexOf(k) + 1;
}

function render() {
  const s = surface();
  const { width, height } = s.meta;
  for (const canvas of [$("picture"), $("overlay")]) {
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
  }
  $("picture").getContext("2d").drawImage(s.image, 0, 0, width, height);
  fitCanvases();
  document.body.dataset.surface = String(state.current);
  drawOverlay();
  drawLists();
  updateButtons();
}

function fitCanvases() {
  // Scale the picture (up or down) to the stage width, but never taller than the window,
  // so the whole picture is visible without scrolling; the overlay follows exactly.
  const { width, height } = surface().meta;
  const stage = $("stage").clientWidth;
  const room = Math.max(200, window.innerHeight - $("canvas-wrap").getBoundingClientRect().top - 40);
  const scale = Math.min(stage / width, room / height);
  for (const canvas of [$("picture"), $("overlay")]) {
    canvas.style.width = `${Math.floor(width * scale)}px`;
    canvas.style.height = `${Math.floor(height * scale)}px`;
  }
}

function drawOverlay() {
  const s = surface();
  const { width, height } = s.meta;
  const ctx = $("overlay").getContext("2d");
  const pixels = ctx.createImageData(width, height);
  const ranked = new Set(s.order);
  const data = pixels.data;
  for (let i = 0; i < s.index.length; i++) {
    const value = s.index[i];
    if (value === 0) continue;
    const k = value - 1;
    const color = k === state.hover ? COLORS.hover : ranked.has(k) ? COLORS.ranked : COLORS.free;
    data.set(color, 4 * i);
  }
  ctx.putImageData(pixels, 0, 0);
  const size = Math.max(12, Math.round(width / 70));
  ctx.font = `bold ${size}px sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  // Badges: the place in this picture's order, or in the merged order once merged.
  const places = state.merged === null ? s.order : state.merged.filter((k) => s.meta.objects.includes(k));
  const numbers = state.merged === null ? places.map((_, i) => i + 1)
    : places.map((k) => state.merged.indexOf(k) + 1);
  places.forEach((k, i) => {
    const point = s.meta.labels[String(k)];
    if (!point) return;
    ctx.fillStyle = "rgba(0, 0, 0, 0.75)";
    ctx.beginPath();
    ctx.arc(point[0], point[1], size * 0.85, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = "#fff";
    ctx.fillText(String(numbers[i]), point[0], point[1]);
  });
}

function listItem(k, text) {
  const li = document.createElement("li");
  li.textContent = text;
  li.dataset.object = String(k);
  li.addEventListener("mouseenter", () => setHover(k));
  li.addEventListener("mouseleave", () => setHover(-1));
  return li;
}

function drawLists() {
  const s = surface();
  const order = $("order");
  order.replaceChildren(...s.order.map((k) => listItem(k, objectName(k))));
  const unranked = $("unranked");
  const rest = s.meta.objects.filter((k) => !s.order.includes(k));
  unranked.replaceChildren(...rest.map((k) => {
    const li = listItem(k, objectName(k));
    li.title = "click to rank (for objects hard to click in the picture)";
    li.addEventListener("click", () => rank(k));
    return li;
  }));
  $("order-title").textContent = state.pano.mode === "dense"
    ? `Order in window ${state.current + 1}` : "Order so far";
  if (state.pano.mode === "dense") {
    const done = state.surfaces.filter((w) => w.order.length === w.meta.objects.length).length;
    $("window-pos").textContent =
      `Window ${state.current + 1} of ${state.surfaces.length} (${done} ranked)`;
  }
}

function updateButtons() {
  const s = surface();
  const complete = s.order.length === s.meta.objects.length;
  const dense = state.pano.mode === "dense";
  const allWindows = state.surfaces.every((w) => w.order.length === w.meta.objects.length);
  $("undo").disabled = state.busy || s.order.length === 0;
  $("reset").disabled = state.busy || s.order.length === 0;
  $("skip").disabled = state.busy;
  $("save").hidden = dense;
  $("save").disabled = state.busy || !complete;
  $("merge").hidden = !dense;
  $("merge").disabled = state.busy || !allWindows;
  $("next-window").disabled = !complete || state.current === state.surfaces.length - 1;
  $("prev-window").disabled = state.current === 0;
  $("confirm").disabled = state.busy;
}

function setHover(k) {
  if (k === state.hover) return;
  state.hover = k;
  for (const li of document.querySelectorAll("li[data-object]")) {
    li.classList.toggle("hover", Number(li.dataset.object) === k);
  }
  if (state.pano) drawOverlay();
}

// ----------------------------------------------------------------------------- input

function objectAt(event) {
  const canvas = $("overlay");
  const box = canvas.getBoundingClientRect();
  const x = Math.floor((event.clientX - box.left) * canvas.width / box.width);
  const y = Math.floor((event.clientY - box.top) * canvas.height / box.height);
  if (x < 0 || y < 0 || x >= canvas.width || y >= canvas.height) return -1;
  return surface().index[y * canvas.width + x] - 1;
}

function describe(k) {
  if (k < 0) return "Click the objects from most to least important.";
  if (state.merged !== null) return `${objectName(k)}: #${state.merged.indexOf(k) + 1} in the merged order`;
  const place = rankOf(k);
  return place ? `${objectName(k)}: ranked #${place}` : `${objectName(k)}: click to rank #${surface().order.length + 1}`;
}

function rank(k) {
  const s = surface();
  if (state.busy || !state.pano) return;
  if (state.merged !== null) {
    say("Go back to the windows to change their rankings.", "error");
    return;
  }
  if (k < 0) {
    say("No object there: click inside an object (objects light up under the mouse).", "error");
    return;
  }
  if (!s.meta.objects.includes(k)) {
    say(`${objectName(k)} is not ranked in this window.`, "error");
    return;
  }
  const place = rankOf(k);
  if (place) {
    say(`${objectName(k)} is already #${place}; use Undo or Reset to change the order.`, "error");
    return;
  }
  s.order.push(k);
  const complete = s.order.length === s.meta.objects.length;
  if (!complete) {
    say(`${objectName(k)} ranked #${s.order.length}.`);
  } else if (state.pano.mode === "sparse") {
    say("Every object is ranked: check the order, then Save.", "ok");
  } else if (state.surfaces.every((w) => w.order.length === w.meta.objects.length)) {
    say("Every window is ranked: Merge windows to see the global order.", "ok");
  } else {
    say("This window is ranked: go to the next window.", "ok");
  }
  render();
  $("hint").textContent = describe(state.hover);
}

function onMove(event) {
  const k = objectAt(event);
  setHover(k);
  $("hint").textContent = describe(k);
}

function undo() {
  const s = surface();
  if (state.merged !== null || s.order.length === 0) return;
  const k = s.order.pop();
  say(`Undid ${objectName(k)}.`);
  render();
}

function reset() {
  surface().order = [];
  say("Order cleared for this picture.");
  render();
}

function showSurface(index) {
  state.current = Math.max(0, Math.min(index, state.surfaces.length - 1));
  state.hover = -1;
  render();
}

// ----------------------------------------------------------------------------- dense merge

async function merge() {
  state.busy = true;
  updateButtons();
  const windows = state.surfaces.map((w) => w.order);
  const { ok, data } = await api(`/api/pano/${state.pano.id}/merge`, { windows });
  state.busy = false;
  if (!ok) {
    say(`Merge failed: ${data.error}`, "error");
    updateButtons();
    return;
  }
  state.merged = data.order;
  const warning = $("merge-warning");
  const notes = [];
  if (state.pano.components > 1) {
    notes.push(`the windows form ${state.pano.components} groups that share no object, so ` +
      "the order between groups is a guess");
  }
  if (state.pano.unseen.length) {
    notes.push(`objects ${state.pano.unseen.join(", ")} are in no window and were placed by default`);
  }
  warning.hidden = notes.length === 0;
  warning.textContent = notes.length ? `Check carefully: ${notes.join("; ")}.` : "";
  $("ranking").hidden = true;
  $("merged").hidden = false;
  drawMerged();
  drawOverlay();
  $("hint").textContent = "Numbers now show the merged global order; hover a row to see the object.";
  say("Windows merged: check the global order, then confirm.", "ok");
  document.body.dataset.state = "merged";
}

function drawMerged() {
  const list = $("merged-order");
  list.replaceChildren(...state.merged.map((k, place) => {
    const li = listItem(k, objectName(k));
    li.addEventListener("mouseenter", () => showObject(k));
    const up = document.createElement("button");
    up.textContent = "▲";
    up.title = "move up";
    up.disabled = place === 0;
    up.addEventListener("click", () => move(place, -1));
    const down = document.createElement("button");
    down.textContent = "▼";
    down.title = "move down";
    down.disabled = place === state.merged.length - 1;
    down.addEventListener("click", () => move(place, 1));
    li.append(up, down);
    return li;
  }));
}

function showObject(k) {
  // Show a window in which k is ranked, so the annotator sees it without ERP distortion.
  const where = state.surfaces.findIndex((w) => w.meta.objects.includes(k));
  if (where >= 0 && where !== state.current) showSurface(where);
  setHover(k);
}

function move(place, step) {
  const other = place + step;
  [state.merged[place], state.merged[other]] = [state.merged[other], state.merged[place]];
  drawMerged();
  drawOverlay();
}

function backToWindows() {
  state.merged = null;
  $("merged").hidden = true;
  $("ranking").hidden = false;
  document.body.dataset.state = "ranking";
  render();
}

// ----------------------------------------------------------------------------- save / skip

async function save() {
  const dense = state.pano.mode === "dense";
  const body = {
    version: state.pano.version,
    mode: state.pano.mode,
    order: dense ? state.merged : surface().order,
    seconds: (performance.now() - state.started) / 1000,
  };
  if (dense) body.windows = state.surfaces.map((w) => w.order);
  await submit("save", body, "Saved");
}

async function skip() {
  await submit("skip", { version: state.pano.version }, "Skipped");
}

async function submit(action, body, done) {
  if (state.busy) return;
  state.busy = true;
  updateButtons();
  $("confirm").disabled = true;
  const id = state.pano.id;
  const { ok, status, data } = await api(`/api/pano/${id}/${action}`, body);
  state.busy = false;
  if (!ok) {
    const hint = status === 409 ? " Reload the page to continue with the current state." : "";
    say(`${done === "Saved" ? "Not saved" : "Not skipped"}: ${data.error || `HTTP ${status}`}.${hint}`, "error");
    document.body.dataset.state = status === 409 ? "conflict" : document.body.dataset.state;
    updateButtons();
    return;
  }
  say(`${done} panorama ${id} (${state.pano.file_name}).`, "ok");
  await openNext();
}

// ----------------------------------------------------------------------------- wiring

$("overlay").addEventListener("mousemove", onMove);
$("overlay").addEventListener("mouseleave", () => setHover(-1));
$("overlay").addEventListener("click", (event) => rank(objectAt(event)));
$("undo").addEventListener("click", undo);
$("reset").addEventListener("click", reset);
$("skip").addEventListener("click", skip);
$("save").addEventListener("click", save);
$("merge").addEventListener("click", merge);
$("confirm").addEventListener("click", save);
$("back").addEventListener("click", backToWindows);
$("next-window").addEventListener("click", () => showSurface(state.current + 1));
$("prev-window").addEventListener("click", () => showSurface(state.current - 1));
window.addEventListener("resize", () => { if (state.pano) fitCanvases(); });
document.addEventListener("keydown", (event) => {
  if (event.key === "u" || (event.key === "z" && (event.ctrlKey || event.metaKey))) undo();
});

start().catch((err) => {
  say(`The page failed: ${err.message}`, "error");
  document.body.dataset.state = "error";
});
