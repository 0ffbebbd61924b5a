// Messages the bot sends outside a turn (an agent's answers, the hand-back to the bot): polls
// GET ./updates with the session cookie while the page is open and shows them through chat.js.
// The cursor is kept in localStorage, so a reload catches up on what arrived meanwhile.
(function () {
  "use strict";
  const CURSOR_KEY = "nordhaven-chat-updates";
  const POLL_MS = 3000;
  const IDLE_MS = 15000;  // the server cannot be reached: try again less often

  async function poll() {
    let wait = POLL_MS;
    try {
      const cursor = localStorage.getItem(CURSOR_KEY);
      const res = await fetch("updates" + (cursor ? "?after=" + encodeURIComponent(cursor) : ""));
      if (res.ok) {
        const body = await res.json();
        window.NordhavenChat.showBotMessages(body.messages);
        localStorage.setItem(CURSOR_KEY, body.cursor);
      } else if (res.status === 400) {
        localStorage.removeItem(CURSOR_KEY);  // not a cursor of this server: start from now
      }  // 401: the page is still asking for its session; the next poll has it
    } catch (e) {
      wait = IDLE_MS;
    }
    setTimeout(poll, wait);
  }
  poll();  // at once; the first answer (no cursor yet) has what came since the customer's last message
})();
