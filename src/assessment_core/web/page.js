// The reference assessment page: a participant's whole assessment against this API, with
// nothing loaded from another host and no build step. Read it as an example of each call:
// the catalogue (GET /api/instruments), one-answer saves, submit, the chat stream read from a
// POST (EventSource cannot POST), refusals shown as a wait, frames fetched with the token.
"use strict";

const FRAME_EVERY_MS = 3000;  // a picture every few seconds...
const FRAMES_PER_BATCH = 2;   // ...sent two at a time
const SAFETY_TEXT = "Thank you for telling us. Because of your answer about thoughts of " +
  "death or of hurting yourself, a member of the care team will talk with you before you " +
  "leave. If you are in danger now, call your local emergency number.";

const page = {
  sid: null, token: null, instruments: [], at: 0, item: 0,
  answers: {}, saved: {}, assessments: {},
  chat: null, camera: null, pending: [], shown: new Set(),
};
const $ = (id) => document.getElementById(id);

// Every session call carries the bearer token; a JSON body is sent as JSON.
async function api(path, { method = "GET", json, body, signal } = {}) {
  const headers = { Authorization: `Bearer ${page.token}` };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  return fetch(path, { method, headers, body, signal });
}

function sessionPath(rest) { return `/api/sessions/${page.sid}${rest}`; }

async function errorOf(response) {
  try { return (await response.json()).error || {}; } catch { return {}; }
}

// A refusal as a wait a person understands: from Retry-After, or the error's own retry_after.
function waitText(seconds, what) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 5));
  return `${what} Please wait about ${s} second${s === 1 ? "" : "s"} and try again.`;
}

// --- The session and the questionnaires -------------------------------------------------

async function begin() {
  $("begin").disabled = true;
  $("start-status").textContent = "Starting…";
  try {
    const created = await fetch("/api/sessions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    if (!created.ok) throw new Error((await errorOf(created)).message || created.status);
    const session = await created.json();
    page.sid = session.session_id;
    page.token = session.token;
    const listed = await fetch("/api/instruments");
    if (!listed.ok) throw new Error((await errorOf(listed)).message || listed.status);
    page.instruments = (await listed.json()).instruments;
  } catch (error) {
    $("start-status").textContent = `Could not start: ${error.message}. Please try again.`;
    $("start-status").classList.add("failed");
    $("begin").disabled = false;
    return;
  }
  for (const instrument of page.instruments) {
    page.answers[instrument.key] = {};
    page.saved[instrument.key] = {};
  }
  $("start").hidden = true;
  $("questionnaire").hidden = false;
  $("camera").hidden = false;
  showQuestion();
}

function current() {
  const instrument = page.instruments[page.at];
  return { instrument, item: instrument.items[page.item] };
}

function showQuestion() {
  const { instrument, item } = current();
  $("instrument-title").textContent = instrument.title;
  $("progress").textContent = `Question ${page.item + 1} of ${instrument.items.length}`;
  $("question-text").textContent = item.text;
  const options = $("options");
  options.replaceChildren();
  const chosen = page.answers[instrument.key][item.id];
  for (const option of item.options) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "answer";
    input.value = String(option.value);
    input.checked = chosen === option.value;
    input.addEventListener("change", () => choose(option.value));
    label.append(input, option.text);
    options.append(label);
  }
  const saved = page.saved[instrument.key][item.id];
  setSaveStatus(chosen === undefined ? "" : saved ? "Saved." : "Not saved yet.", !saved && chosen !== undefined);
  $("retry").hidden = chosen === undefined || saved;
  const last = page.item === instrument.items.length - 1;
  $("back").disabled = page.item === 0;
  $("next").hidden = last;
  $("submit").hidden = !last;
  updateNav();
  (options.querySelector("input:checked") || options.querySelector("input")).focus();
}

function setSaveStatus(text, failed) {
  $("save-status").textContent = text;
  $("save-status").classList.toggle("failed", Boolean(failed));
}

// An unscored item (the difficulty question) may be left; a scored one must be saved.
function updateNav() {
  const { instrument, item } = current();
  const ready = !item.scored || page.saved[instrument.key][item.id];
  $("next").disabled = !ready;
  $("submit").disabled = !ready;
}

async function choose(value) {
  const { instrument, item } = current();
  page.answers[instrument.key][item.id] = value;
  page.saved[instrument.key][item.id] = false;
  await save(instrument.key, item.id, value);
}

// Each answer is saved as it is chosen; a failure keeps the choice and offers a retry.
async function save(key, itemId, value) {
  setSaveStatus("Saving…", false);
  $("retry").hidden = true;
  updateNav();
  let problem = "";
  try {
    const response = await api(sessionPath(`/instruments/${key}/responses/${itemId}`),
                               { method: "PUT", json: { answer: value } });
    if (response.ok) {
      if (page.answers[key][itemId] === value) page.saved[key][itemId] = true;
    } else {
      problem = (await errorOf(response)).message || `the server answered ${response.status}`;
    }
  } catch {
    problem = "the connection failed";
  }
  const { instrument, item } = current();
  if (instrument.key !== key || item.id !== itemId) return;  // the participant moved on
  if (page.saved[key][itemId]) {
    setSaveStatus("Saved.", false);
  } else if (page.answers[key][itemId] === value) {
    setSaveStatus(`Your answer was not saved (${problem}). Your choice is kept: press ` +
                  "“Retry saving”.", true);
    $("retry").hidden = false;
  }
  updateNav();
}

function retry() {
  const { instrument, item } = current();
  save(instrument.key, item.id, page.answers[instrument.key][item.id]);
}

function move(step) {
  page.item += step;
  showQuestion();
}

async function submit() {
  const { instrument } = current();
  $("submit").disabled = true;
  setSaveStatus("Submitting…", false);
  const response = await api(sessionPath(`/instruments/${instrument.key}/submit`),
                             { method: "POST", json: { responses: [] } }).catch(() => null);
  if (!response || !response.ok) {
    const message = response ? (await errorOf(response)).message : "the connection failed";
    setSaveStatus(`Not submitted (${message}). Please try again.`, true);
    $("submit").disabled = false;
    return;
  }
  const assessment = await response.json();
  page.assessments[instrument.key] = assessment;
  if (assessment.alerts.length) showSafety(assessment.alerts);
  await linkFrames(assessment);
  if (page.at < page.instruments.length - 1) {
    page.at += 1;
    page.item = 0;
    showQuestion();
  } else {
    cameraOff();  // the questionnaires are done: no frame is taken that no submit links
    showResults();
  }
}

// The participant reads words meant for them for PHQ-9's item 9; any other instrument's
// alert shows the API's own message. Once shown it stays: it has nothing to close it.
function showSafety(alerts) {
  const alert = $("safety");
  alert.textContent = alerts.map((a) => a.code === "ITEM9_POSITIVE" ? SAFETY_TEXT : a.message)
    .join(" ");
  alert.hidden = false;
}

function showResults() {
  $("questionnaire").hidden = true;
  const list = $("result-list");
  list.replaceChildren();
  for (const instrument of page.instruments) {
    const a = page.assessments[instrument.key];
    const li = document.createElement("li");
    li.textContent = `${instrument.title}: ${a.total_score} of ${instrument.max_total}, ` +
                     `${a.severity}.`;
    list.append(li);
  }
  $("results").hidden = false;
  $("continue").hidden = false;
  $("results-title").focus();
}

// --- The chat: a POST whose answer is a stream of Server-Sent Events --------------------

// Yields {event, data} from an SSE body read with a stream reader; comment lines (": ...",
// sent while a turn waits for its first token) keep the connection alive and are skipped.
async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

function say(who, text) {
  const p = document.createElement("p");
  p.className = who;
  p.textContent = who === "you" ? `You: ${text}` : text;
  $("transcript").append(p);
  return p;
}

// A chat refused for now (429, 503 with Retry-After) is sent again by itself after the wait
// the server asked for, this many times; the person sees the wait count down, and Stop ends it.
const CHAT_RETRIES = 3;

// Count `seconds` down in the chat status; true when done, false if Stop was pressed.
function countdown(seconds, what, signal) {
  let left = Math.max(1, Math.ceil(Number(seconds) || 5));
  return new Promise((resolve) => {
    const tick = () => {
      if (signal.aborted || left <= 0) {
        clearInterval(timer);
        resolve(!signal.aborted);
        return;
      }
      $("chat-status").textContent =
        `${what} Sending again in ${left} second${left === 1 ? "" : "s"}…`;
      left -= 1;
    };
    const timer = setInterval(tick, 1000);
    tick();
  });
}

// What a chat refused for now tells the person; null for any other answer.
function refusalText(status) {
  if (status === 429) return "You are sending messages quickly.";
  if (status === 503) return "The assistant is busy with other conversations.";
  return null;
}

async function postChat(text, signal) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await api(sessionPath("/chat"),
                               { method: "POST", json: { message: text }, signal });
    const what = refusalText(response.status);
    if (response.ok || !what || attempt === CHAT_RETRIES) return response;
    await errorOf(response);  // read to its end, so the connection is reused
    if (!await countdown(response.headers.get("Retry-After"), what, signal)) {
      throw new DOMException("stopped while waiting", "AbortError");
    }
    $("chat-status").textContent = "";
  }
}

async function send(event) {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || page.chat) return;
  $("chat-status").textContent = "";
  say("you", text);
  $("message").value = "";
  const controller = new AbortController();
  page.chat = controller;
  $("send").disabled = true;
  $("stop").disabled = false;
  const reply = say("assistant", "");
  let sent = false;  // the server took the message: a stop keeps what it said
  try {
    const response = await postChat(text, controller.signal);
    if (!response.ok) {
      const error = await errorOf(response);
      const what = refusalText(response.status);
      $("chat-status").textContent = what
        ? waitText(response.headers.get("Retry-After"), what)
        : `Not sent: ${error.message || response.status}`;
      return;
    }
    sent = true;
    for await (const { event: kind, data } of sseEvents(response.body)) {
      if (kind === "token") reply.textContent += data.delta;
      else if (kind === "error") {
        $("chat-status").textContent = data.retry_after
          ? waitText(data.retry_after, "The assistant could not answer.")
          : `The assistant could not finish: ${data.message}`;
      }
    }
  } catch (error) {
    $("chat-status").textContent = error.name !== "AbortError"
      ? "The connection failed; please try again."
      : sent ? "Stopped. What was said so far is kept." : "Stopped. Your message was not sent.";
  } finally {
    if (!reply.textContent) reply.remove();
    page.chat = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
}

function stop() {
  if (page.chat) page.chat.abort();
}

// --- The camera: frames in batches, linked at submit, shown back with the token ---------

async function cameraOn() {
  $("camera-on").disabled = true;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    const video = $("preview");
    video.srcObject = stream;
    video.classList.add("on");
    await video.play();
  } catch (error) {
    $("camera-status").textContent = `The camera is off (${error.message}).`;
    $("camera-on").disabled = false;
    return;
  }
  $("camera-status").textContent = "The camera is on.";
  page.camera = setInterval(takeFrame, FRAME_EVERY_MS);
}

function cameraOff() {
  if (page.camera === null) return;
  clearInterval(page.camera);
  page.camera = null;
  const video = $("preview");
  for (const track of video.srcObject ? video.srcObject.getTracks() : []) track.stop();
  video.classList.remove("on");
  $("camera-status").textContent = "The camera is off: the questionnaires are done.";
}

async function takeFrame() {
  const video = $("preview");
  if (!video.videoWidth) return;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.8));
  if (blob) page.pending.push(blob);
  if (page.pending.length >= FRAMES_PER_BATCH) await sendFrames();
}

// One batch: stored all or nothing; a failed batch stays pending and goes with the next.
async function sendFrames() {
  if (!page.pending.length) return;
  const batch = page.pending.splice(0);
  const form = new FormData();
  form.append("capture_type", "face");
  batch.forEach((blob, i) => form.append("frames", blob, `frame-${i}.jpg`));
  const response = await api(sessionPath("/captures"), { method: "POST", body: form })
    .catch(() => null);
  if (!response || !response.ok) {
    page.pending.unshift(...batch);
    $("camera-status").textContent = "Pictures could not be sent; trying again shortly.";
    return;
  }
  $("camera-status").textContent = "The camera is on.";
  await showFrames();
}

async function linkFrames(assessment) {
  if (page.camera === null) return;
  await sendFrames();
  await api(sessionPath("/captures/link"), { method: "POST",
    json: { assessment_id: assessment.assessment_id, assessment_type: assessment.instrument } })
    .catch(() => null);
}

// <img src> cannot send the bearer token: each frame is fetched with it, shown as a blob.
async function showFrames() {
  const response = await api(sessionPath("/captures")).catch(() => null);
  if (!response || !response.ok) return;
  for (const capture of await response.json()) {
    if (page.shown.has(capture.capture_id)) continue;
    page.shown.add(capture.capture_id);
    const image = await api(sessionPath(`/captures/${capture.capture_id}`));
    if (!image.ok) continue;
    const img = document.createElement("img");
    img.src = URL.createObjectURL(await image.blob());
    img.alt = `Your picture from ${new Date(capture.created_at).toLocaleTimeString()}`;
    $("frames").append(img);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("begin").addEventListener("click", begin);
  $("retry").addEventListener("click", retry);
  $("back").addEventListener("click", () => move(-1));
  $("next").addEventListener("click", () => move(1));
  $("submit").addEventListener("click", submit);
  $("continue").addEventListener("click", () => {
    $("results").hidden = true;
    $("chat").hidden = false;
    $("message").focus();
  });
  $("chat-form").addEventListener("submit", send);
  $("stop").addEventListener("click", stop);
  $("camera-on").addEventListener("click", cameraOn);
});
