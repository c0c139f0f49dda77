// The page's whole client: reads the model info, submits a job, follows it over Server-Sent Events, fills the gallery.
"use strict";
const $ = id => document.getElementById(id);
let current = null;   // {id, events, started}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

// Plain words for what the server answered.
function explain(status, message) {
  switch (status) {
    case 429: return "The server is busy: its queue is full. Try again in a moment.";
    case 400: case 413: case 422: return "The server refused these settings: " + message;
    case 503: return "Stopped: " + message;
    case 507: return "The server ran out of memory for this request. Try a smaller size or batch.";
    case 499: return "Cancelled: " + message + ".";
    default: return "Something went wrong on the server (" + status + "): " + message;
  }
}

async function loadInfo() {
  try {
    const r = await fetch("/api/info");
    const info = await r.json();
    const model = $("model");
    model.textContent = info.description;
    if (info.random_weights) {
      const w = document.createElement("span");
      w.className = "warn";
      w.textContent = " — random weights: images are abstract patterns, not the prompt";
      model.appendChild(w);
    }
    $("width").value = info.width;
    $("height").value = info.height;
    for (const s of info.samplers) {
      const o = document.createElement("option");
      o.value = s.id;
      o.textContent = s.name;
      $("sampler").appendChild(o);
    }
  } catch (e) {
    showError("Cannot reach the server: " + e.message);
  }
}

function settings() {
  const body = {
    prompt: $("prompt").value,
    width: Number($("width").value), height: Number($("height").value),
    steps: Number($("steps").value), guidance_scale: Number($("guidance").value),
    batch: Number($("batch").value), seed: Number($("seed").value)
  };
  if ($("negative").value.trim()) body.negative_prompt = $("negative").value;
  if ($("sampler").value) body.sampler = $("sampler").value;
  return body;
}

function busy(on) {
  $("generate").disabled = on;
  $("cancel").disabled = !on;
}

async function generate(event) {
  event.preventDefault();
  showError("");
  busy(true);
  $("bar-fill").style.width = "0";
  $("status").textContent = "sending…";
  let r, answer;
  try {
    r = await fetch("/api/jobs", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(settings())});
    answer = await r.json();
  } catch (e) {
    busy(false);
    showError("Cannot reach the server: " + e.message);
    return;
  }
  if (r.status !== 202) {
    busy(false);
    $("status").textContent = "idle";
    showError(explain(r.status, answer.error));
    return;
  }
  $("seed-used").textContent = "seed " + answer.seed + ($("seed").value === "-1" ? " (random)" : "");
  const events = new EventSource("/api/jobs/" + answer.id + "/events");
  current = {id: answer.id, events, started: performance.now(), seed: answer.seed};
  events.addEventListener("status", e => update(JSON.parse(e.data)));
  events.onerror = () => {
    if (current && current.events === events) finish("The connection to the server was lost.");
  };
}

function update(s) {
  $("bar-fill").style.width = (100 * s.progress).toFixed(1) + "%";
  if (s.preview) {
    const p = $("preview");
    p.src = s.preview;
    p.hidden = false;
    p.dataset.previews = String(Number(p.dataset.previews || 0) + 1);
  }
  if (s.state === "queued") $("status").textContent = "waiting in the queue, position " + s.position;
  else if (s.state === "running") {
    $("status").textContent = s.total ? "step " + s.step + "/" + s.total + (s.eta_s !== undefined ? " · about " + s.eta_s.toFixed(1) + " s left" : "") : "starting…";
  } else if (s.state === "done") {
    addToGallery(s);
    finish(null, "done in " + ((performance.now() - current.started) / 1000).toFixed(1) + " s");
  } else finish(explain(s.status, s.error));
}

function finish(error, text) {
  if (current) current.events.close();
  current = null;
  busy(false);
  $("status").textContent = text || "idle";
  if (error) showError(error);
}

function addToGallery(s) {
  $("empty")?.remove();
  const figures = s.images.map((im, i) => {
    const fig = document.createElement("figure");
    fig.className = "result";
    const img = document.createElement("img");
    img.src = im.url;
    img.alt = "generated image " + (i + 1);
    const cap = document.createElement("figcaption");
    const pre = document.createElement("pre");
    pre.className = "parameters";
    pre.textContent = im.parameters;
    const a = document.createElement("a");
    a.href = im.url;
    a.download = "tornado-diffusion-" + s.id + "-" + i + ".png";
    a.textContent = "download PNG";
    cap.append(pre, a);
    fig.append(img, cap);
    return fig;
  });
  $("gallery").prepend(...figures);
}

async function cancel() {
  if (!current) return;
  $("status").textContent = "cancelling…";
  await fetch("/api/jobs/" + current.id + "/cancel", {method: "POST"});
}

$("form").addEventListener("submit", generate);
$("cancel").addEventListener("click", cancel);
loadInfo();
