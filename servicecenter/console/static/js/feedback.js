// Rating of the chat's answers: thumbs up/down and an optional comment, sent to /api/feedback.
// Shown once the assistant has answered at least one question; one rating per conversation.
// Reads the conversation id that chat.js keeps in sessionStorage (no inline script: CSP).

const SESSION_KEY = "geldern-chat:session";
const RATED_KEY = "geldern-chat:rated";
const SESSION_ID_PATTERN = /^[0-9a-f]{32}$/;

const TEXT = {
  choose: "Bitte wählen Sie zuerst „Ja“ oder „Nein“.",
  tooLong: (max) => `Ihr Kommentar ist zu lang. Bitte kürzen Sie ihn auf höchstens ${max} Zeichen.`,
  sending: "Ihre Bewertung wird gesendet …",
  failed: "Ihre Bewertung konnte gerade nicht gesendet werden. Bitte versuchen Sie es noch einmal.",
  thanks: "Vielen Dank für Ihre Rückmeldung!",
};

function storageGet(key) {
  try {
    return window.sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    window.sessionStorage.setItem(key, value);
  } catch {
    // Without storage the rating is still sent; it may just be offered again after a reload.
  }
}

function main() {
  const root = document.getElementById("chat-rating");
  const log = document.getElementById("chat-log");
  if (!root || !log) return;
  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("rating-form"),
    up: $("rating-up"),
    down: $("rating-down"),
    comment: $("rating-comment"),
    send: $("rating-send"),
    status: $("rating-status"),
    done: $("rating-done"),
  };
  const url = root.dataset.feedbackUrl || "/api/feedback";
  const maxComment = Number(root.dataset.maxComment) || 500;
  let rating = null;
  let busy = false;

  const sessionId = () => {
    const id = storageGet(SESSION_KEY);
    return id && SESSION_ID_PATTERN.test(id) ? id : null;
  };

  function choose(value) {
    rating = value;
    el.up.setAttribute("aria-pressed", String(value === "up"));
    el.down.setAttribute("aria-pressed", String(value === "down"));
    el.status.textContent = "";
  }

  function reset() {
    rating = null;
    el.up.setAttribute("aria-pressed", "false");
    el.down.setAttribute("aria-pressed", "false");
    el.comment.value = "";
    el.status.textContent = "";
    el.form.hidden = false;
    el.done.hidden = true;
  }

  // Offered once the assistant replied to something the citizen wrote: the greeting alone
  // (sent by the page itself, not shown as a citizen message) is nothing to rate.
  function answeredQuestion() {
    const items = [...log.children];
    const firstQuestion = items.findIndex((el) => el.classList.contains("msg--user"));
    return firstQuestion >= 0 && items.slice(firstQuestion + 1).some((el) => el.classList.contains("msg--bot"));
  }

  function update() {
    const id = sessionId();
    const answered = answeredQuestion();
    const rated = id !== null && storageGet(RATED_KEY) === id;
    root.hidden = !(id && answered);
    if (rated) {
      el.form.hidden = true;
      el.done.hidden = false;
    }
  }

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    const id = sessionId();
    if (!rating) {
      el.status.textContent = TEXT.choose;
      return;
    }
    const comment = el.comment.value;
    if (comment.length > maxComment) {
      el.status.textContent = TEXT.tooLong(maxComment);
      return;
    }
    busy = true;
    el.send.setAttribute("aria-disabled", "true");
    el.status.textContent = TEXT.sending;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "omit",
        body: JSON.stringify({ conversation_id: id, rating, comment: comment.trim() ? comment : null }),
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok || response.status === 429) {
        storageSet(RATED_KEY, id);
        el.form.hidden = true;
        el.done.hidden = false;
        el.done.textContent = (data && data.message) || TEXT.thanks;
        el.done.focus();
      } else {
        el.status.textContent = (data && data.message) || TEXT.failed;
      }
    } catch {
      el.status.textContent = TEXT.failed;
    } finally {
      busy = false;
      el.send.setAttribute("aria-disabled", "false");
    }
  }

  el.up.addEventListener("click", () => choose("up"));
  el.down.addEventListener("click", () => choose("down"));
  el.form.addEventListener("submit", submit);
  const restart = document.getElementById("chat-restart");
  if (restart) restart.addEventListener("click", () => window.setTimeout(() => { reset(); update(); }, 0));
  new MutationObserver(update).observe(log, { childList: true });
  update();
}

main();
