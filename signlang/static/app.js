// signlang's page: the browser's camera -> JPEG frames over a WebSocket (/ws) -> the server's Holistic, model
// and decision rule -> landmarks, probability bars and the sentence drawn here. One frame at a time: the
// next frame is sent only when the previous result has arrived, so nothing queues up.
"use strict";

const $ = (id) => document.getElementById(id);
const view = $("view"), ctx = view.getContext("2d");
const video = $("video");
const capture = document.createElement("canvas");  // the frame sent; drawn under its landmarks when they come
let socket = null, hello = null, mode = "camera";
let waiting = false, sentAt = 0, lastSend = 0, fps = null, latency = null, stream = null;
let recording = null;

function message(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

function status(text) {
  $("status").textContent = text || "";
}

// --- the connection -----------------------------------------------------------------------------------

function connect() {
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { $("connection").textContent = "connected"; };
  socket.onclose = (event) => {
    waiting = false;
    $("connection").textContent = "disconnected";
    status(`Connection closed${event.reason ? ": " + event.reason : ""}. Reload the page to reconnect.`);
  };
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "hello") welcome(data);
    else if (data.type === "result") result(data);
    else if (data.type === "error") {
      if (data.frame) { waiting = false; sendFrame(); }  // the frame's answer: the next frame may go
      status(data.error);
      if (mode === "record" && !data.frame) $("record-status").textContent = data.error;
    }
    else if (data.type === "recording") recordingStatus(data.recording);
    else if (data.type === "cleared") $("sentence").textContent = "";
  };
}

function welcome(data) {
  hello = data;
  $("length").textContent = data.length;
  $("sequences").max = data.max_sequences;
  const bars = $("bars");
  bars.textContent = "";
  data.signs.forEach((sign, i) => {
    const row = document.createElement("div");
    row.className = "bar";
    row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="p"></span>';
    row.querySelector(".name").textContent = sign;
    row.querySelector(".fill").style.background = data.colors[i];
    bars.appendChild(row);
  });
  startCamera();
}

// --- the camera -----------------------------------------------------------------------------------------

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    message("This browser gives no camera to this page. Browsers allow the camera only on http://localhost, " +
            "http://127.0.0.1 or https addresses: open the page through one of those. You can still use a video file.");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    const refused = error.name === "NotAllowedError" || error.name === "SecurityError";
    const absent = error.name === "NotFoundError" || error.name === "OverconstrainedError" || error.name === "NotReadableError";
    message(refused ? "Camera access was refused. Allow the camera for this page (the icon in the address bar) and reload, or use a video file."
          : absent ? "No camera was found (or another program is using it). Connect one and reload, or use a video file."
          : `The camera could not be opened (${error.name}: ${error.message}). You can still use a video file.`);
    return;
  }
  message("");
  video.srcObject = stream;
  await video.play().catch(() => {});
  requestAnimationFrame(tick);
}

function tick() {
  requestAnimationFrame(tick);
  sendFrame();
}

// The camera's current picture to the server, unless a frame is in flight or the last went less than 1/25 s
// ago. Called on every animation frame and at once when an answer comes (not one animation frame later).
function sendFrame() {
  const interval = 1000 / (hello ? hello.fps : 25);  // no faster than the training rate, as `detect` samples
  const now = performance.now();
  if (waiting || mode === "video" || !socket || socket.readyState !== WebSocket.OPEN || video.readyState < 2
      || now - lastSend < interval) return;
  const [boxW, boxH] = hello.frame_box;
  const scale = Math.min(1, boxW / video.videoWidth, boxH / video.videoHeight);
  const w = Math.max(2, Math.round(video.videoWidth * scale)), h = Math.max(2, Math.round(video.videoHeight * scale));
  if (capture.width !== w || capture.height !== h) { capture.width = w; capture.height = h; }
  capture.getContext("2d").drawImage(video, 0, 0, w, h);
  waiting = true;
  lastSend = now;
  capture.toBlob((blob) => {
    if (!blob || socket.readyState !== WebSocket.OPEN) { waiting = false; return; }
    sentAt = performance.now();
    socket.send(blob);
  }, "image/jpeg", 0.8);
}

// --- results ---------------------------------------------------------------------------------------------

function result(data) {
  waiting = false;
  const now = performance.now();
  latency = latency === null ? now - sentAt : 0.8 * latency + 0.2 * (now - sentAt);
  if (result.last) {
    const rate = 1000 / (now - result.last);
    fps = fps === null ? rate : 0.9 * fps + 0.1 * rate;
  }
  result.last = now;
  $("fps").textContent = `${fps === null ? "–" : fps.toFixed(1)} frames/s`;
  $("latency").textContent = `${Math.round(latency)} ms per frame`;

  if (view.width !== capture.width || view.height !== capture.height) { view.width = capture.width; view.height = capture.height; }
  ctx.drawImage(capture, 0, 0);
  sendFrame();  // the picture just drawn is free: the next frame is captured and encoded while the rest is drawn
  drawLandmarks(data.landmarks);
  if (data.recording) recordingStatus(data.recording);
  drawRecording();

  const rows = $("bars").children;
  data.signs.forEach((sign, i) => {
    const p = data.probs ? data.probs[i] : 0;
    rows[i].querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    rows[i].querySelector(".p").textContent = data.probs ? p.toFixed(2) : "";
  });
  $("sentence").textContent = data.sentence.join(" ");
  if (data.sign) status(`recognised: ${data.sign}`);
}

function drawLandmarks(landmarks) {
  const W = view.width, H = view.height;
  for (const [part, style] of Object.entries(hello.styles)) {
    const points = landmarks[part];
    if (!points) continue;
    ctx.strokeStyle = style.line.color;
    ctx.lineWidth = style.line.width;
    ctx.beginPath();
    for (const [a, b] of style.connections) {
      if (points[2 * a] === null || points[2 * b] === null) continue;
      ctx.moveTo(points[2 * a] * W, points[2 * a + 1] * H);
      ctx.lineTo(points[2 * b] * W, points[2 * b + 1] * H);
    }
    ctx.stroke();
    ctx.fillStyle = style.point.color;
    ctx.beginPath();
    for (let i = 0; i < points.length; i += 2) {
      if (points[i] === null) continue;
      ctx.moveTo(points[i] * W + style.point.radius, points[i + 1] * H);
      ctx.arc(points[i] * W, points[i + 1] * H, style.point.radius, 0, 2 * Math.PI);
    }
    ctx.fill();
  }
}

// --- recording ----------------------------------------------------------------------------------------

function recordingStatus(r) {
  recording = r && !r.done && !r.stopped ? r : null;
  $("record").disabled = !!recording;
  $("stop").disabled = !recording;
  if (!r) { $("record-status").textContent = "stopped"; return; }
  const total = r.sequences * r.length;
  $("progress").max = total;
  $("progress").value = r.written.length * r.length + r.frame;
  const saved = r.written.length ? ` Saved ${r.written.join(", ")}.` : "";
  $("record-status").textContent = r.done ? `Done: ${r.written.length} sequences of ${r.action}.${saved}`
    : r.stopped ? `Stopped: the sequence in progress was dropped.${saved}`
    : `Collecting frames for ${r.action}, sequence ${r.sequence + 1} of ${r.sequences}.${saved}`;
}

function drawRecording() {
  if (!recording) return;
  ctx.font = "14px sans-serif";
  ctx.fillStyle = "rgb(255,0,0)";
  ctx.fillText(`Collecting frames for ${recording.action} Video Number ${recording.sequence}`, 15, 18);
  if (recording.starting) {
    ctx.font = "bold 30px sans-serif";
    ctx.fillStyle = "rgb(0,255,0)";
    ctx.fillText("STARTING COLLECTION", Math.max(10, view.width / 2 - 180), view.height / 2);
  }
}

function send(object) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(object));
  else status("not connected: reload the page");
}

// --- video files -------------------------------------------------------------------------------------------

async function uploadVideo(file) {
  $("upload-result").hidden = true;
  const limit = 200 * 1024 * 1024;
  if (file.size > limit) { $("upload-status").textContent = `${file.name}: more than the 200 MB a video may have`; return; }
  $("upload-status").textContent = `Processing ${file.name}…`;
  try {
    const response = await fetch(`/upload?name=${encodeURIComponent(file.name)}`,
                                 { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
    const data = await response.json();
    if (!response.ok) { $("upload-status").textContent = data.error || `error ${response.status}`; return; }
    $("upload-status").textContent = `${data.name}: ${data.frames} frames at ${data.fps} frames/s`;
    $("upload-sentence").textContent = data.sentence.join(" ") || "(no sign)";
    $("upload-signs").textContent = "";
    for (const s of data.signs) {
      const li = document.createElement("li");
      li.textContent = `${s.t.toFixed(2)} s: ${s.sign} (p=${s.p.toFixed(2)})`;
      $("upload-signs").appendChild(li);
    }
    $("download").href = data.video;
    $("upload-result").hidden = false;
  } catch (error) {
    $("upload-status").textContent = `upload failed: ${error.message}`;
  }
}

// --- controls ---------------------------------------------------------------------------------------------

function setMode(name) {
  mode = name;
  if (location.hash.slice(1) !== name) history.replaceState(null, "", name === "camera" ? location.pathname : `#${name}`);
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.mode === name));
  $("panel-video").hidden = name !== "video";
  $("panel-record").hidden = name !== "record";
}

document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => setMode(b.dataset.mode)));
$("clear").addEventListener("click", () => send({ type: "clear" }));
$("record").addEventListener("click", () => {
  send({ type: "record", action: $("action").value.trim(), sequences: parseInt($("sequences").value, 10) });
});
$("stop").addEventListener("click", () => send({ type: "stop" }));
$("file").addEventListener("change", () => { if ($("file").files.length) uploadVideo($("file").files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) uploadVideo(e.dataTransfer.files[0]);
});
const fromHash = () => setMode(["#video", "#record"].includes(location.hash) ? location.hash.slice(1) : "camera");
window.addEventListener("hashchange", fromHash);
fromHash();
connect();
