// Nordhaven web chat: talks to POST ./webhook and keeps the conversation in localStorage,
// so a reload (or a new tab of the same page) continues it with the same sender id.
(function () {
  "use strict";
  const STORE_KEY = "nordhaven-chat";
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY)) || null; } catch (e) { return null; }
  }
  function newState() {
    const id = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
    const params = new URLSearchParams(location.search);
    // ?customer=maria talks as a seeded demo customer (see README).
    const sender = params.get("customer") || "web-" + id.replace(/[^\w-]/g, "");
    return { sender: sender, sessionId: id, items: [] };
  }
  let state = load() || newState();
  const wanted = new URLSearchParams(location.search).get("customer");
  if (wanted && state.sender !== wanted) { state = newState(); }
  function save() { localStorage.setItem(STORE_KEY, JSON.stringify(state)); }

  function direction(text) { return RTL.test(text) ? "rtl" : "ltr"; }

  function render(item) {
    if (item.kind === "buttons") {
      const li = document.createElement("li");
      li.className = "buttons";
      item.buttons.forEach(function (b) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.title;
        btn.dir = direction(b.title);
        btn.disabled = !!item.used;
        btn.addEventListener("click", function () {
          item.used = true; save();
          li.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
          send(b.payload, b.title);
        });
        li.appendChild(btn);
      });
      log.appendChild(li);
    } else {
      const li = document.createElement("li");
      li.className = "msg msg--" + item.kind;
      li.textContent = item.text;
      li.dir = direction(item.text);
      log.appendChild(li);
    }
    log.scrollTop = log.scrollHeight;
  }
  function add(item) { state.items.push(item); save(); render(item); }

  async function send(message, shown) {
    add({ kind: "user", text: shown || message });
    try {
      const res = await fetch("webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          sender: state.sender,
          message: message,
          metadata: { locale: navigator.language || "", session_id: state.sessionId }
        })
      });
      const body = await res.json();
      if (!res.ok) { add({ kind: "error", text: body.error || ("Error " + res.status) }); return; }
      body.forEach(function (m) {
        if (m.text) { add({ kind: "bot", text: m.text }); }
        if (m.buttons && m.buttons.length) { add({ kind: "buttons", buttons: m.buttons }); }
      });
    } catch (e) {
      add({ kind: "error", text: "The assistant cannot be reached. Is `make run` still running?" });
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send(text);
  });
  document.getElementById("restart").addEventListener("click", function () {
    state = newState(); save(); log.innerHTML = "";
  });
  state.items.forEach(render);
  input.focus();
})();
