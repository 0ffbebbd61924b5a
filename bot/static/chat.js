// Nordhaven web chat: talks to POST ./webhook with the session the server issued (an HttpOnly
// cookie: the page never sees or chooses who it is) and keeps the conversation in localStorage,
// so a reload (or a new tab of the same page) continues it while the session lasts.
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
  // `conversation` is the server's tag of the session; the stored log belongs to it only.
  let state = load() || { conversation: null, items: [] };
  let ready;  // the session request in flight: messages wait for it
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

  // The bot's messages, as the webhook (and updates.js, for an agent's) hands them over.
  function showReplies(messages) {
    messages.forEach(function (m) {
      if (m.text) { add({ kind: "bot", text: m.text }); }
      if (m.buttons && m.buttons.length) { add({ kind: "buttons", buttons: m.buttons }); }
    });
  }
  window.nordhavenChat = { showReplies: showReplies };

  async function send(message, shown) {
    await ready;
    add({ kind: "user", text: shown || message });
    try {
      const res = await fetch("webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          message: message,
          metadata: { locale: navigator.language || "", session_id: state.conversation }
        })
      });
      const body = await res.json();
      // An expired session: a fresh one starts a new conversation, then the reason is shown in it.
      if (res.status === 401) { ready = startSession(false); await ready; }
      if (!res.ok) { add({ kind: "error", text: body.error || ("Error " + res.status) }); return; }
      showReplies(body);
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
  // Asks the server for this browser's session: the valid one it has, or a new one (restart).
  async function startSession(restart) {
    try {
      const res = await fetch("session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ restart: restart })
      });
      const body = await res.json();
      if (!res.ok) { add({ kind: "error", text: body.error || ("Error " + res.status) }); return; }
      if (body.conversation !== state.conversation) {
        state = { conversation: body.conversation, items: [] }; save(); log.innerHTML = "";
      }
    } catch (e) {
      add({ kind: "error", text: "The assistant cannot be reached. Is `make run` still running?" });
    }
  }

  document.getElementById("restart").addEventListener("click", function () { ready = startSession(true); });
  state.items.forEach(render);
  ready = startSession(false);
  input.focus();
})();
