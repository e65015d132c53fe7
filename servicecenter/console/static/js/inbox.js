// Agent inbox: refreshes the list of open tickets every few seconds (no page reload).
// Everything from the server is inserted with textContent, so citizens' text stays inert.
const root = document.getElementById("inbox");

function card(item) {
  const li = document.createElement("li");
  li.className = `ticket-card ticket-card--${item.mode}`;
  li.dataset.ticketId = item.id;
  const h2 = document.createElement("h2");
  const a = document.createElement("a");
  a.href = `/console/tickets/${encodeURIComponent(item.id)}`;
  a.textContent = item.title;
  h2.append(a);
  const meta = document.createElement("p");
  meta.className = "ticket-card__meta";
  const mode = document.createElement("span");
  mode.className = "ticket-mode";
  mode.textContent = item.mode_label;
  const status = document.createElement("span");
  status.className = `ticket-status ticket-status--${item.status}`;
  status.textContent = item.status_label;
  meta.append(mode, ` · Nr. ${item.reference} · `, status, ` · wartet seit ${item.waiting}`);
  if (item.assignee) meta.append(` · bei ${item.assignee}`);
  const lines = document.createElement("ul");
  lines.className = "ticket-card__lines";
  for (const line of item.lines) {
    const entry = document.createElement("li");
    entry.textContent = line;
    lines.append(entry);
  }
  li.append(h2, meta, lines);
  return li;
}

function countText(n) {
  if (!n) return "Zurzeit wartet kein offenes Anliegen.";
  return `${n} ${n === 1 ? "offenes" : "offene"} Anliegen; wartende Live-Chats zuerst, dann die am längsten wartenden.`;
}

async function refresh() {
  const list = document.getElementById("inbox-list");
  const count = document.getElementById("inbox-count");
  const error = document.getElementById("inbox-refresh-error");
  try {
    const response = await fetch(root.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.redirected || response.status === 401 || response.status === 403) {
      window.location.assign("/console/login");
      return;
    }
    if (!response.ok) throw new Error(String(response.status));
    const data = await response.json();
    list.replaceChildren(...data.items.map(card));
    const text = countText(data.items.length);
    if (count.textContent !== text) count.textContent = text;
    error.hidden = true;
  } catch {
    error.hidden = false;
  }
}

if (root) {
  const seconds = Number(root.dataset.refreshSeconds) || 3;
  window.setInterval(refresh, seconds * 1000);
}
