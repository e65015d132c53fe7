// Live chat in the ticket view: polls the conversation and sends the agent's messages.
// Citizens' text is inserted with textContent only, so markup in it stays inert.
const root = document.getElementById("live-chat");
const POLL_MS = 1000;
const WHO = { citizen: "Bürger/in", bot: "Assistent", agent: "ServiceCenter", notice: "Hinweis" };

function main() {
  if (!root) return;
  const ticketId = root.dataset.ticketId;
  const csrf = root.dataset.csrf;
  const log = document.getElementById("live-chat-log");
  const stateText = document.getElementById("live-chat-state");
  const form = document.getElementById("live-chat-form");
  const input = document.getElementById("live-chat-input");
  const error = document.getElementById("live-chat-error");
  let after = 0;
  let status = null;

  function line(message) {
    const li = document.createElement("li");
    li.className = `live-chat__msg live-chat__msg--${message.role}`;
    const who = document.createElement("span");
    who.className = "live-chat__who";
    who.textContent = `${message.role === "agent" && message.agent ? message.agent : WHO[message.role] || ""} (${message.at}): `;
    const text = document.createElement("span");
    text.className = "live-chat__text";
    text.textContent = message.text;
    li.append(who, text);
    return li;
  }

  async function poll() {
    try {
      const response = await fetch(`/console/api/tickets/${encodeURIComponent(ticketId)}/messages?after=${after}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const data = await response.json();
      for (const message of data.messages) {
        log.append(line(message));
        after = Math.max(after, message.id);
      }
      if (data.messages.length) log.scrollTop = log.scrollHeight;
      if (status !== null && data.status !== status && root.dataset.active === "true" && data.status !== "in_conversation") {
        stateText.textContent = `Status geändert: ${data.status_label}.`;
        if (form) form.hidden = true;
      }
      status = data.status;
    } catch {
      // The next poll tries again.
    }
  }

  async function send(text) {
    error.hidden = true;
    const response = await fetch(`/console/api/tickets/${encodeURIComponent(ticketId)}/messages`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify({ text }),
    });
    if (!response.ok) {
      let detail = "Die Nachricht konnte nicht gesendet werden.";
      try {
        detail = (await response.json()).detail || detail;
      } catch {
        // keep the general message
      }
      error.textContent = detail;
      error.hidden = false;
      return false;
    }
    await poll();
    return true;
  }

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) {
        error.textContent = "Bitte schreiben Sie eine Nachricht.";
        error.hidden = false;
        return;
      }
      if (await send(text)) input.value = "";
      input.focus();
    });
    for (const button of form.querySelectorAll("[data-canned]")) {
      button.addEventListener("click", () => {
        input.value = button.dataset.canned;
        input.focus();
      });
    }
  }
  poll();
  window.setInterval(poll, POLL_MS);
}

main();
