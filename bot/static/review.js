// The review page: asks for the agent token once (kept in this tab's sessionStorage only) and
// sends it as a bearer token with every request; charts are fetched the same way and shown
// from memory, since an <img src> cannot send the header.
"use strict";

const TOKEN_KEY = "nordhaven-review-token";
const OUT_OF_SCOPE = "out_of_scope";
const statusLine = document.getElementById("status");
let labels = [];

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (options.body) headers["Content-Type"] = "application/json";
  const reply = await fetch(`api/${path}`, { ...options, headers });
  if (!reply.ok) {
    let reason = `${reply.status}`;
    try { reason = (await reply.json()).error || reason; } catch (ignored) { /* not JSON */ }
    if (reply.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    throw new Error(reason);
  }
  return reply;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function showDays(days) {
  const body = document.querySelector("#days tbody");
  body.replaceChildren();
  for (const day of days) {
    const row = body.insertRow();
    cell(row, day.day);
    cell(row, day.language);
    for (const key of ["messages", "conversations", "fallback_rate", "handoff_rate", "frustration_offers", "mean_confidence"]) {
      cell(row, String(day[key]), "number");
    }
  }
}

async function showCharts(measures) {
  const box = document.getElementById("charts");
  for (const old of box.querySelectorAll("img")) URL.revokeObjectURL(old.src);
  box.replaceChildren();
  for (const [measure, title] of Object.entries(measures)) {
    const image = document.createElement("img");
    image.alt = title;
    image.dataset.measure = measure;
    box.append(image);
    image.src = URL.createObjectURL(await (await api(`charts/${measure}.png`)).blob());
  }
}

function labelButton(message, row, name, className) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = name === OUT_OF_SCOPE ? "out of scope" : name;
  button.dataset.label = name;
  if (className) button.className = className;
  button.addEventListener("click", () => label(message, row, name));
  return button;
}

function showQueue(queue) {
  document.getElementById("queue-count").textContent = `(${queue.length})`;
  const body = document.querySelector("#queue tbody");
  body.replaceChildren();
  for (const message of queue) {
    const row = body.insertRow();
    row.dataset.id = message.id;
    const text = cell(row, message.text, "text");
    text.dir = "auto";
    cell(row, message.language);
    cell(row, `${message.channel} ${message.conversation}`);
    cell(row, message.reasons.join(", "));
    cell(row, message.top_intents.map((intent) => `${intent.name} ${intent.confidence.toFixed(2)}`).join("\n"), "intents");
    const actions = row.insertCell();
    actions.className = "actions";
    for (const intent of message.top_intents) actions.append(labelButton(message, row, intent.name));
    actions.append(labelButton(message, row, OUT_OF_SCOPE, "oos"));
    const other = document.createElement("select");
    other.setAttribute("aria-label", "Another intent");
    other.append(new Option("other intent…", ""));
    for (const name of labels) other.append(new Option(name, name));
    other.addEventListener("change", () => { if (other.value) label(message, row, other.value); });
    actions.append(other);
  }
}

async function label(message, row, name) {
  try {
    await api("labels", { method: "POST", body: JSON.stringify({ id: message.id, label: name }) });
    row.classList.add("labelled");
    row.dataset.label = name;
    for (const control of row.querySelectorAll("button, select")) control.disabled = true;
    statusLine.textContent = `Labelled “${message.text}” as ${name}.`;
  } catch (error) {
    statusLine.textContent = `Label not saved: ${error.message}`;
  }
}

async function loadQueue() {
  const language = document.getElementById("language").value;
  const query = language ? `?language=${encodeURIComponent(language)}` : "";
  showQueue((await (await api(`queue${query}`)).json()).queue);
}

async function load() {
  try {
    const summary = await (await api("summary")).json();
    labels = summary.labels;
    const select = document.getElementById("language");
    const chosen = select.value;
    select.replaceChildren(new Option("all", ""), ...summary.languages.map((language) => new Option(language, language)));
    select.value = chosen;
    showDays(summary.days);
    await loadQueue();
    document.getElementById("review").hidden = false;
    document.getElementById("sign-in").hidden = true;
    statusLine.textContent = `Messages labelled so far: ${summary.labelled}.`;
    await showCharts(summary.measures);
  } catch (error) {
    statusLine.textContent = error.message;
    document.getElementById("sign-in").hidden = Boolean(token());
  }
}

async function exportDrafts() {
  try {
    const drafts = (await (await api("export", { method: "POST", body: "{}" })).json()).drafts;
    const files = Object.values(drafts);
    document.getElementById("exported").textContent = files.length ? `Written: ${files.join(", ")}` : "Nothing new to export.";
  } catch (error) {
    document.getElementById("exported").textContent = `Export failed: ${error.message}`;
  }
}

document.getElementById("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value);
  load();
});
document.getElementById("language").addEventListener("change", () => loadQueue().catch((error) => { statusLine.textContent = error.message; }));
document.getElementById("export").addEventListener("click", exportDrafts);
if (token()) load();
