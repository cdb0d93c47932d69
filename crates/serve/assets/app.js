// faststyle serve: the page's behaviour. Talks only to this server's /api.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, style: null, maxBytes: Infinity, busy: null, resultUrl: null };

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function showStatus(text) {
  $("status").hidden = !text;
  $("status-text").textContent = text || "";
}

async function loadStyles() {
  const gallery = $("gallery");
  try {
    const res = await fetch("/api/styles");
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    const body = await res.json();
    state.maxBytes = body.max_upload_bytes;
    gallery.replaceChildren(...body.styles.map(styleButton));
    if (body.styles.length === 0) {
      gallery.innerHTML = '<p class="muted">No styles are installed on this server.</p>';
    } else {
      select(body.styles[0].name);
    }
  } catch (e) {
    gallery.innerHTML = "";
    showError(`Could not load the styles: ${e.message}`);
  }
}

function styleButton(style) {
  const button = document.createElement("button");
  button.type = "button";
  button.setAttribute("role", "radio");
  button.dataset.style = style.name;
  const img = document.createElement("img");
  img.src = style.thumbnail;
  img.alt = "";
  const label = document.createElement("span");
  label.textContent = style.title || style.name;
  if (style.artist) {
    const artist = document.createElement("small");
    artist.textContent = ` ${style.artist}`;
    label.append(document.createElement("br"), artist);
  }
  button.append(img, label);
  button.addEventListener("click", () => { select(style.name); repaint(); });
  return button;
}

function select(name) {
  state.style = name;
  for (const b of $("gallery").querySelectorAll("button")) {
    b.setAttribute("aria-checked", String(b.dataset.style === name));
  }
  updateButton();
}

function setPhoto(file) {
  showError("");
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    showError(`"${file.name}" is not an image.`);
    return;
  }
  if (file.size > state.maxBytes) {
    const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
    showError(`"${file.name}" is ${mb(file.size)}; the limit is ${mb(state.maxBytes)}.`);
    return;
  }
  state.file = file;
  $("drop-text").textContent = `${file.name}, tap to change`;
  $("before").src = URL.createObjectURL(file);
  $("after").removeAttribute("src");
  $("download").hidden = true;
  $("compare").hidden = false;
  updateButton();
  repaint();
}

function updateButton() {
  $("go").disabled = !(state.file && state.style);
}

// One repaint at a time: a new one cancels the one in flight (its answer would be stale).
function repaint() {
  if (!state.file || !state.style) return;
  if (state.busy) state.busy.abort();
  showError("");
  const form = new FormData();
  form.append("image", state.file);
  form.append("style", state.style);
  form.append("strength", String($("strength").value / 100));
  form.append("preserve_color", String($("keep-colours").checked));

  const xhr = new XMLHttpRequest();
  state.busy = xhr;
  const started = Date.now();
  let timer = null;
  const done = () => { clearInterval(timer); if (state.busy === xhr) { state.busy = null; showStatus(""); } };
  xhr.open("POST", "/api/stylize");
  xhr.responseType = "blob";
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) showStatus(`Uploading… ${Math.round((100 * e.loaded) / e.total)}%`);
  };
  xhr.upload.onload = () => {
    const tick = () => showStatus(`Painting… ${Math.round((Date.now() - started) / 1000)} s`);
    tick();
    timer = setInterval(tick, 1000);
  };
  xhr.onload = async () => {
    done();
    if (xhr.status === 200) {
      showResult(xhr.response, xhr.getResponseHeader("content-disposition"));
    } else {
      showError(await errorText(xhr));
    }
  };
  xhr.onerror = () => { done(); showError("Could not reach the server. Is faststyle serve still running?"); };
  xhr.onabort = () => clearInterval(timer);
  showStatus("Uploading…");
  xhr.send(form);
}

async function errorText(xhr) {
  try {
    const body = JSON.parse(await xhr.response.text());
    if (body.error) return `${body.error} (${xhr.status})`;
  } catch (_) { /* not JSON: fall through */ }
  return `The server answered ${xhr.status} ${xhr.statusText}.`;
}

function showResult(blob, disposition) {
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  state.resultUrl = URL.createObjectURL(blob);
  $("after").src = state.resultUrl;
  const name = /filename="([^"]+)"/.exec(disposition || "");
  const link = $("download");
  link.href = state.resultUrl;
  link.download = name ? name[1] : "faststyle.png";
  link.hidden = false;
}

function wireDrop() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => setPhoto(e.target.files[0]));
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    setPhoto(e.dataTransfer.files[0]);
  });
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); }
  });
}

function wireOptions() {
  const strength = $("strength");
  strength.addEventListener("input", () => { $("strength-value").textContent = `${strength.value}%`; });
  strength.addEventListener("change", repaint);
  $("keep-colours").addEventListener("change", repaint);
  $("go").addEventListener("click", repaint);
}

wireDrop();
wireOptions();
loadStyles();
