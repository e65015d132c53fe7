// The citizens' chat page: talks to Rasa's socket.io channel (Socket.IO v5) directly.
// Configuration comes from data- attributes on #chat (no inline script under the CSP).
import { renderMessage } from "./format.js";

const KEYS = {
  session: "geldern-chat:session",
  transcript: "geldern-chat:transcript",
  greeted: "geldern-chat:greeted",
  handoff: "geldern-chat:handoff",
};
const SESSION_ID_PATTERN = /^[0-9a-f]{32}$/;
const MAX_TRANSCRIPT_ENTRIES = 200;
const REPLY_TIMEOUT_MS = 30000;
const HUMAN_LABEL = "Mit einem Menschen sprechen";

const STATUS_TEXT = {
  connecting: "Verbindung wird aufgebaut …",
  connected: "Verbunden",
  reconnecting: "Verbindung unterbrochen, wird neu aufgebaut …",
  unreachable: "Nicht erreichbar, neuer Versuch läuft …",
};

const TEXT = {
  empty: "Bitte schreiben Sie zuerst Ihre Frage in das Eingabefeld.",
  tooLong: (max) => `Ihre Nachricht ist zu lang. Bitte kürzen Sie sie auf höchstens ${max} Zeichen.`,
  busy: "Einen Moment bitte, die Antwort auf Ihre letzte Nachricht kommt gleich.",
  offline: "Gerade besteht keine Verbindung. Bitte versuchen Sie es gleich noch einmal.",
  slow: "Die Antwort dauert länger als sonst. Sie können Ihre Frage noch einmal stellen oder „Mit einem Menschen sprechen“ wählen.",
  noClient: "Der Chat konnte nicht geladen werden. Bitte laden Sie die Seite neu.",
};

const WHO = { bot: "Digitaler Assistent", user: "Sie", notice: "Hinweis", agent: "ServiceCenter" };

const HANDOFF_TEXT = {
  waiting: (h) =>
    `Sie warten auf eine Mitarbeiterin oder einen Mitarbeiter des ServiceCenters: Position ${h.position}, ` +
    `voraussichtlich etwa ${h.minutes === 1 ? "eine Minute" : `${h.minutes} Minuten`}. Sie können hier weiter schreiben.` +
    (h.reference ? ` Ihre Vorgangsnummer: ${h.reference}.` : ""),
  live: (h) => `Sie schreiben jetzt mit ${h.agent}. Der digitale Assistent pausiert so lange.`,
  ticket: (h) =>
    `Ihr Anliegen ist unter der Nummer ${h.reference} vermerkt` + (h.due ? `; Antwort spätestens bis ${h.due}.` : "."),
};

// sessionStorage may be unavailable (privacy settings); then the chat still works, it just
// does not survive a reload.
const storage = (() => {
  try {
    const probe = "geldern-chat:probe";
    window.sessionStorage.setItem(probe, probe);
    window.sessionStorage.removeItem(probe);
    return window.sessionStorage;
  } catch {
    const memory = new Map();
    return {
      getItem: (key) => (memory.has(key) ? memory.get(key) : null),
      setItem: (key, value) => memory.set(key, String(value)),
      removeItem: (key) => memory.delete(key),
    };
  }
})();

/** 128 random bits as 32 hex characters; unguessable, so nobody can join a conversation. */
export function newSessionId() {
  if (typeof crypto.randomUUID === "function") {
    return crypto.randomUUID().replace(/-/g, "");
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function loadSessionId() {
  const stored = storage.getItem(KEYS.session);
  if (stored && SESSION_ID_PATTERN.test(stored)) return stored;
  const fresh = newSessionId();
  storage.setItem(KEYS.session, fresh);
  return fresh;
}

function loadTranscript() {
  try {
    const entries = JSON.parse(storage.getItem(KEYS.transcript) || "[]");
    return Array.isArray(entries) ? entries.filter((e) => e && typeof e.text === "string") : [];
  } catch {
    return [];
  }
}

function loadHandoff() {
  try {
    const value = JSON.parse(storage.getItem(KEYS.handoff) || "null");
    return value && typeof value === "object" && typeof value.state === "string" ? value : null;
  } catch {
    return null;
  }
}

/** Quick replies or buttons from a bot message, as [{title, payload}]. */
function suggestionsOf(data) {
  const raw = Array.isArray(data.quick_replies) ? data.quick_replies : data.buttons;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((r) => r && typeof r.title === "string" && r.title.trim() !== "")
    .map((r) => ({ title: r.title, payload: typeof r.payload === "string" ? r.payload : r.title }));
}

function main() {
  const root = document.getElementById("chat");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const el = {
    log: $("chat-log"),
    status: $("chat-status"),
    statusText: $("chat-status-text"),
    offline: $("chat-offline"),
    typing: $("chat-typing"),
    form: $("chat-form"),
    input: $("chat-input"),
    send: $("chat-send"),
    human: $("chat-human"),
    restart: $("chat-restart"),
    feedback: $("chat-feedback"),
    handoff: $("chat-handoff"),
    handoffText: $("chat-handoff-text"),
  };
  const config = {
    rasaUrl: root.dataset.rasaUrl,
    socketPath: root.dataset.socketPath || "/socket.io",
    initPayload: root.dataset.initPayload || "",
    humanPayload: root.dataset.humanPayload || "/human",
    maxLength: Number(root.dataset.maxLength) || 1000,
  };
  const state = {
    sessionId: loadSessionId(),
    transcript: loadTranscript(),
    ready: false,
    everConnected: false,
    failures: 0,
    pending: false,
    pendingTimer: null,
    sessionRetried: false,
    handoff: loadHandoff(),
  };

  function setStatus(name) {
    if (el.status.dataset.state === name) return; // no repeated announcements
    el.status.dataset.state = name;
    el.statusText.textContent = STATUS_TEXT[name];
    el.offline.hidden = name !== "unreachable";
  }

  function setFeedback(text) {
    if (el.feedback.textContent !== text) el.feedback.textContent = text;
  }

  function setPending(on) {
    state.pending = on;
    window.clearTimeout(state.pendingTimer);
    // aria-disabled instead of disabled: the buttons keep their focus and tab position.
    for (const button of [el.send, el.human]) button.setAttribute("aria-disabled", String(on));
    el.typing.hidden = !on;
    if (on) {
      state.pendingTimer = window.setTimeout(() => {
        setPending(false);
        appendEntry({ role: "notice", text: TEXT.slow }, { persist: false });
      }, REPLY_TIMEOUT_MS);
    }
  }

  function saveTranscript() {
    const kept = state.transcript.slice(-MAX_TRANSCRIPT_ENTRIES);
    state.transcript = kept;
    try {
      storage.setItem(KEYS.transcript, JSON.stringify(kept));
    } catch {
      // Storage full: the conversation goes on, only the reload copy is incomplete.
    }
  }

  function clearSuggestions() {
    for (const group of el.log.querySelectorAll(".suggestions")) group.remove();
    let changed = false;
    for (const entry of state.transcript) {
      if (entry.replies) {
        delete entry.replies;
        changed = true;
      }
    }
    if (changed) saveTranscript();
  }

  function suggestionsNode(replies) {
    const group = document.createElement("div");
    group.className = "suggestions";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Antwortvorschläge");
    for (const reply of replies) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button--suggestion";
      button.textContent = reply.title;
      button.addEventListener("click", () => {
        if (send(reply.payload, reply.title)) el.input.focus();
      });
      group.append(button);
    }
    return group;
  }

  function messageNode(entry) {
    const item = document.createElement("div");
    item.className = `msg msg--${entry.role}`;
    const who = document.createElement("p");
    who.className = "msg__who";
    who.textContent = entry.role === "agent" && entry.agent ? entry.agent : WHO[entry.role] || WHO.notice;
    const body = document.createElement("div");
    body.className = "msg__body";
    if (entry.role === "bot") {
      body.append(renderMessage(entry.text));
    } else {
      const p = document.createElement("p");
      p.textContent = entry.text; // citizens' text is shown exactly as typed
      body.append(p);
    }
    item.append(who);
    if (entry.text) item.append(body);
    if (entry.replies && entry.replies.length) item.append(suggestionsNode(entry.replies));
    return item;
  }

  function appendEntry(entry, { persist = true } = {}) {
    el.log.append(messageNode(entry));
    el.log.scrollTop = el.log.scrollHeight;
    if (persist) {
      state.transcript.push(entry);
      saveTranscript();
    }
  }

  function send(payload, display) {
    if (state.pending) {
      setFeedback(TEXT.busy);
      return false;
    }
    if (!state.ready) {
      setFeedback(TEXT.offline);
      return false;
    }
    setFeedback("");
    clearSuggestions();
    appendEntry({ role: "user", text: display });
    socket.emit("user_uttered", { message: payload, session_id: state.sessionId });
    // While a person has the conversation the assistant is silent: nothing to wait for.
    if (!state.handoff || state.handoff.state !== "live") setPending(true);
    return true;
  }

  function showHandoff(handoff) {
    state.handoff = handoff;
    if (handoff) storage.setItem(KEYS.handoff, JSON.stringify(handoff));
    else storage.removeItem(KEYS.handoff);
    const render = handoff && HANDOFF_TEXT[handoff.state];
    el.handoff.hidden = !render;
    el.handoff.dataset.state = handoff ? handoff.state : "";
    if (render) el.handoffText.textContent = render(handoff);
  }

  /** Messages that are not the assistant's answers: handoff state and the live agent. */
  function onControlMessage(data) {
    const agent = typeof data.agent === "string" && data.agent ? data.agent : WHO.agent;
    switch (data.type) {
      case "handoff_status":
        if (data.state === "waiting") {
          showHandoff({
            state: "waiting",
            position: Number(data.position) || 1,
            minutes: Number(data.minutes) || 1,
            reference: typeof data.reference === "string" ? data.reference : "",
          });
        } else if (data.state === "ticket" && typeof data.reference === "string") {
          showHandoff({ state: "ticket", reference: data.reference, due: typeof data.due === "string" ? data.due : "" });
        }
        return true;
      case "agent_joined":
        setPending(false);
        showHandoff({ state: "live", agent });
        appendEntry({ role: "notice", text: `${agent} ist jetzt für Sie da.` });
        return true;
      case "agent_message":
        if (typeof data.text !== "string" || !data.text) return true;
        setPending(false);
        if (!state.handoff || state.handoff.state !== "live") showHandoff({ state: "live", agent });
        appendEntry({ role: "agent", agent, text: data.text });
        return true;
      case "agent_left":
        showHandoff(null);
        appendEntry({
          role: "notice",
          text: "Das Gespräch mit dem ServiceCenter ist beendet. Der digitale Assistent ist wieder für Sie da.",
        });
        return true;
      default:
        return false;
    }
  }

  function onBotMessage(data) {
    if (!data || typeof data !== "object") return;
    if (typeof data.type === "string" && onControlMessage(data)) return;
    const text = typeof data.text === "string" ? data.text : "";
    const replies = suggestionsOf(data);
    if (!text && !replies.length) return; // attachments and custom payloads are not shown
    setPending(false);
    if (replies.length) clearSuggestions();
    appendEntry(replies.length ? { role: "bot", text, replies } : { role: "bot", text });
  }

  function startSession() {
    state.ready = false;
    socket.emit("session_request", { session_id: state.sessionId });
  }

  function onSessionConfirm() {
    state.ready = true;
    state.everConnected = true;
    state.failures = 0;
    setStatus("connected");
    setFeedback("");
    if (config.initPayload && storage.getItem(KEYS.greeted) !== state.sessionId) {
      storage.setItem(KEYS.greeted, state.sessionId);
      socket.emit("user_uttered", { message: config.initPayload, session_id: state.sessionId });
      setPending(true);
    }
  }

  function restart() {
    setPending(false);
    clearSuggestions();
    state.transcript = [];
    storage.removeItem(KEYS.transcript);
    state.sessionId = newSessionId();
    storage.setItem(KEYS.session, state.sessionId);
    el.log.replaceChildren();
    showHandoff(null);
    setFeedback("");
    if (socket.connected) startSession();
    el.input.focus();
  }

  // Show what this tab already said and heard before a reload.
  for (const entry of state.transcript) el.log.append(messageNode(entry));
  showHandoff(state.handoff);
  el.log.scrollTop = el.log.scrollHeight;

  if (typeof window.io !== "function") {
    setStatus("unreachable");
    setFeedback(TEXT.noClient);
    return;
  }

  const socket = window.io(config.rasaUrl, {
    path: config.socketPath,
    transports: ["websocket"],
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10000,
    timeout: 10000,
  });
  socket.on("connect", startSession);
  socket.on("session_confirm", onSessionConfirm);
  // The server refused our id (should not happen with the ids made here): start afresh once.
  socket.on("session_error", () => {
    if (state.sessionRetried) return setStatus("unreachable");
    state.sessionRetried = true;
    state.sessionId = newSessionId();
    storage.setItem(KEYS.session, state.sessionId);
    startSession();
  });
  socket.on("bot_uttered", onBotMessage);
  socket.on("disconnect", (reason) => {
    state.ready = false;
    setPending(false);
    setStatus("reconnecting");
    // The server closed the connection on purpose: socket.io does not retry by itself then.
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("connect_error", () => {
    state.ready = false;
    state.failures += 1;
    setStatus(!state.everConnected || state.failures >= 3 ? "unreachable" : "reconnecting");
  });

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el.input.value.trim();
    if (!text) {
      setFeedback(TEXT.empty);
    } else if (text.length > config.maxLength) {
      setFeedback(TEXT.tooLong(config.maxLength));
    } else if (send(text, text)) {
      el.input.value = "";
    }
    el.input.focus();
  });
  el.input.addEventListener("input", () => {
    if (el.feedback.textContent === TEXT.empty) setFeedback("");
  });
  el.human.addEventListener("click", () => send(config.humanPayload, HUMAN_LABEL));
  // Spoken questions (voice.js): the transcript and the answers join the conversation.
  document.addEventListener("voice:transcript", (event) => appendEntry({ role: "user", text: event.detail.text }));
  document.addEventListener("voice:replies", (event) =>
    event.detail.texts.forEach((text) => appendEntry({ role: "bot", text })),
  );
  el.restart.addEventListener("click", restart);
}

main();
