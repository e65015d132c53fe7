// The chat page's microphone: one spoken question per press, streamed to the voice gateway
// over a WebSocket; the transcript and the answers join the chat, the answer is spoken.
const SESSION_KEY = "geldern-chat:session";
const SESSION_ID_PATTERN = /^[0-9a-f]{32}$/;

const TEXT = {
  unsupported: "Ihr Browser unterstützt keine Spracheingabe. Bitte schreiben Sie Ihre Frage.",
  denied:
    "Der Zugriff auf das Mikrofon wurde nicht erlaubt. Sie können ihn in den Einstellungen Ihres Browsers erlauben oder Ihre Frage schreiben.",
  noMic: "Es wurde kein Mikrofon gefunden. Bitte schließen Sie ein Mikrofon an oder schreiben Sie Ihre Frage.",
  unavailable: "Die Spracheingabe ist gerade nicht erreichbar. Bitte schreiben Sie Ihre Frage.",
  listening: "Ich höre zu. Bitte sprechen Sie jetzt.",
  thinking: "Einen Moment bitte …",
  noSpeech: "Ich habe nichts gehört. Bitte drücken Sie noch einmal auf „Sprechen“.",
  notUnderstood: "Das habe ich leider nicht verstanden. Bitte versuchen Sie es noch einmal.",
  busy: "Die Spracheingabe ist gerade ausgelastet. Bitte versuchen Sie es gleich noch einmal.",
  failed: "Die Spracheingabe hat nicht geklappt. Bitte schreiben Sie Ihre Frage.",
};
const DONE_TEXT = {
  "stt-no-speech": TEXT.noSpeech,
  "stt-no-text": TEXT.notUnderstood,
  busy: TEXT.busy,
};

function sessionId() {
  try {
    const stored = window.sessionStorage.getItem(SESSION_KEY);
    if (stored && SESSION_ID_PATTERN.test(stored)) return stored;
  } catch {
    // storage disabled: fall through to a one-off id
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function toPcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
  }
  return out.buffer;
}

function main() {
  const root = document.getElementById("chat");
  const button = document.getElementById("voice-mic");
  const feedback = document.getElementById("chat-feedback");
  if (!root || !button || !root.dataset.voiceUrl) return;
  button.hidden = false;
  root.dataset.voiceAudioBytes = "0";
  let active = null;

  const say = (text) => {
    feedback.textContent = text;
  };

  function finish(message) {
    if (!active) return;
    const { stream, ws } = active;
    stream.getTracks().forEach((track) => track.stop());
    if (ws.readyState <= 1) ws.close();
    active.done = true;
    active = null;
    button.setAttribute("aria-pressed", "false");
    button.textContent = "Sprechen";
    if (message !== undefined) say(message);
  }

  function play(ctx, state, data) {
    const samples = new Int16Array(data);
    const buffer = ctx.createBuffer(1, samples.length, 16000);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i += 1) channel[i] = samples[i] / 0x8000;
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    state.nextTime = Math.max(ctx.currentTime, state.nextTime || 0);
    source.start(state.nextTime);
    state.nextTime += buffer.duration;
    root.dataset.voiceAudioBytes = String(Number(root.dataset.voiceAudioBytes) + data.byteLength);
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioWorkletNode) {
      say(TEXT.unsupported);
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
    } catch (err) {
      const name = err && err.name;
      say(name === "NotAllowedError" || name === "SecurityError" ? TEXT.denied
        : name === "NotFoundError" || name === "OverconstrainedError" ? TEXT.noMic : TEXT.failed);
      return;
    }
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/static/js/voice-capture.js");
    const node = new AudioWorkletNode(ctx, "voice-capture");
    ctx.createMediaStreamSource(stream).connect(node);
    const ws = new WebSocket(`${root.dataset.voiceUrl}?session=${sessionId()}`);
    ws.binaryType = "arraybuffer";
    const state = { stream, ws, sending: false, nextTime: 0, done: false };
    active = state;
    button.setAttribute("aria-pressed", "true");
    button.textContent = "Aufnahme beenden";

    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "start", rate: ctx.sampleRate }));
      state.sending = true;
      say(TEXT.listening);
    });
    node.port.onmessage = (event) => {
      if (state.sending && ws.readyState === 1) ws.send(toPcm16(event.data));
    };
    ws.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        play(ctx, state, event.data);
        return;
      }
      const message = JSON.parse(event.data);
      if (message.type === "transcript") {
        state.sending = false;
        stream.getTracks().forEach((track) => track.stop());
        say(TEXT.thinking);
        document.dispatchEvent(new CustomEvent("voice:transcript", { detail: { text: message.text } }));
      } else if (message.type === "replies") {
        document.dispatchEvent(new CustomEvent("voice:replies", { detail: { texts: message.texts } }));
      } else if (message.type === "done") {
        if (state === active) finish(message.error ? DONE_TEXT[message.error] || TEXT.failed : "");
        root.dataset.voiceDone = message.error || "ok";
      }
    });
    ws.addEventListener("close", () => {
      if (state === active && !state.done) finish(TEXT.unavailable);
    });
  }

  button.addEventListener("click", () => {
    if (active) finish("");
    else start();
  });
}

main();
