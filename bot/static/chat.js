// Nordhaven web chat: talks to POST ./webhook with the session the server issued (an HttpOnly
// cookie: the page never sees or chooses who it is) and keeps the conversation in localStorage,
// so a reload (or a new tab of the same page) continues it while the session lasts.
// The page speaks the browser's language first, then the conversation's (each webhook answer
// names it in Content-Language); its texts come from GET ./locale (bot/static/locales/).
(function () {
  "use strict";
  const STORE_KEY = "nordhaven-chat";
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const typing = document.getElementById("typing");
  const RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY)) || null; } catch (e) { return null; }
  }
  // `conversation` is the server's tag of the session; the stored log belongs to it only.
  // `language` is the conversation's language once the bot has answered in one.
  let state = load() || { conversation: null, items: [], language: null };
  let texts = {};  // the page's texts in its current language
  let ready;  // the locale and session requests in flight: messages wait for them
  let pending = 0;  // replies the page is waiting for
  function save() { localStorage.setItem(STORE_KEY, JSON.stringify(state)); }

  function direction(text) { return RTL.test(text) ? "rtl" : "ltr"; }
  function t(key, values) {
    return (texts[key] || key).replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }

  // Puts the page in `language`: its texts, <html lang dir> (the layout mirrors with dir).
  async function useLanguage(languages) {
    try {
      const res = await fetch("locale?languages=" + encodeURIComponent(languages.join(",")));
      if (!res.ok) { return; }
      const locale = await res.json();
      texts = locale.texts;
      document.documentElement.lang = locale.language;
      document.documentElement.dir = locale.dir;
      document.querySelectorAll("[data-text]").forEach(function (el) { el.textContent = t(el.dataset.text); });
      document.querySelectorAll("[data-placeholder]").forEach(function (el) { el.placeholder = t(el.dataset.placeholder); });
      document.querySelectorAll("[data-label]").forEach(function (el) { el.setAttribute("aria-label", t(el.dataset.label)); });
    } catch (e) { /* the English texts of the HTML stay; the next answer tries again */ }
  }

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
      li.className = "msg msg--" + item.kind + (item.greeting ? " msg--greeting" : "");
      li.textContent = item.text;
      li.dir = direction(item.text);
      log.appendChild(li);
    }
    log.scrollTop = log.scrollHeight;
  }
  function add(item) { state.items.push(item); save(); render(item); }
  function showError(key, values) { add({ kind: "error", text: t(key, values) }); }

  // Appends the bot's messages (Rasa's format: text and/or buttons) to the conversation.
  // Exposed as NordhavenChat.showBotMessages for messages that arrive other than as a reply.
  function showBotMessages(messages) {
    messages.forEach(function (m) {
      if (m.text) { add({ kind: "bot", text: m.text }); }
      if (m.buttons && m.buttons.length) { add({ kind: "buttons", buttons: m.buttons }); }
    });
  }

  function setWaiting(change) {
    pending += change;
    typing.hidden = pending === 0;
    sendButton.disabled = pending > 0;
  }

  async function send(message, shown) {
    await ready;
    add({ kind: "user", text: shown || message });
    setWaiting(1);
    try {
      const res = await fetch("webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          message: message,
          metadata: { locale: navigator.language || "", session_id: state.conversation }
        })
      });
      // An expired session: a fresh one starts a new conversation, then the reason is shown in it.
      if (res.status === 401) { ready = startSession(false); await ready; showError("error_session_expired"); return; }
      if (!res.ok) { showError("error_status", { status: res.status }); return; }
      const language = res.headers.get("Content-Language");
      if (language && language !== state.language) {
        state.language = language; save();
        await useLanguage([language]);
      }
      showBotMessages(await res.json());
    } catch (e) {
      showError("error_unreachable");
    } finally {
      setWaiting(-1);
      input.focus();
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || pending > 0) { return; }
    input.value = "";
    send(text);
  });
  // Asks the server for this browser's session: the valid one it has, or a new one (restart).
  // A new conversation opens with the greeting, in the page's language.
  async function startSession(restart) {
    try {
      const res = await fetch("session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ restart: restart })
      });
      if (!res.ok) { showError("error_status", { status: res.status }); return; }
      const body = await res.json();
      if (body.conversation !== state.conversation) {
        state = { conversation: body.conversation, items: [], language: state.language }; save(); log.innerHTML = "";
      }
      if (!state.items.length) { add({ kind: "bot", text: t("greeting"), greeting: true }); }
    } catch (e) {
      showError("error_unreachable");
    }
  }

  async function open(restart) {
    await useLanguage(state.language ? [state.language] : (navigator.languages || [navigator.language]));
    await startSession(restart);
  }

  document.getElementById("restart").addEventListener("click", function () {
    state.language = null;  // a new conversation starts in the browser's language again
    ready = open(true);
  });
  state.items.forEach(render);
  ready = open(false);
  input.focus();
  window.NordhavenChat = { showBotMessages: showBotMessages };
})();
