// Turns a bot message into DOM nodes. Text is never parsed as HTML: every piece becomes a
// text node, and the only formatting is a tiny Markdown subset built node by node:
// **bold**, lines starting with "- " as a list, [label](https://...) and bare http(s) URLs
// as links. Anything else, including HTML tags, stays visible text.

const INLINE = /\*\*([^*\n]+?)\*\*|\[([^\]\n]+)\]\(([^()\s]+)\)|(https?:\/\/[^\s<>()"']+)/g;
const TRAILING_PUNCTUATION = /[.,;:!?]+$/;

/** Return a safe http(s) URL string, or null for anything else (javascript:, data:, ...). */
export function safeHref(candidate) {
  let url;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

function link(href, label) {
  const a = document.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.textContent = label;
  const hint = document.createElement("span");
  hint.className = "visually-hidden";
  hint.textContent = " (öffnet in neuem Fenster)";
  a.append(hint);
  return a;
}

function appendInline(parent, text, allowBold = true) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const [whole, bold, label, target, bare] = match;
    let consumed = whole;
    let node = null;
    if (bold !== undefined) {
      if (allowBold) {
        node = document.createElement("strong");
        appendInline(node, bold, false);
      }
    } else if (label !== undefined) {
      const href = safeHref(target);
      if (href) node = link(href, label);
    } else if (bare !== undefined) {
      consumed = bare.replace(TRAILING_PUNCTUATION, "");
      const href = safeHref(consumed);
      if (href) node = link(href, consumed);
    }
    if (!node) continue; // not a valid construct: it stays part of the plain text
    parent.append(text.slice(last, match.index), node);
    last = match.index + consumed.length;
  }
  parent.append(text.slice(last));
}

/** Build a DocumentFragment for one message text. */
export function renderMessage(text) {
  const fragment = document.createDocumentFragment();
  let list = null;
  for (const line of String(text).split(/\r?\n/)) {
    const item = /^\s*- +(.*)$/.exec(line);
    if (item) {
      if (!list) {
        list = document.createElement("ul");
        fragment.append(list);
      }
      const li = document.createElement("li");
      appendInline(li, item[1]);
      list.append(li);
    } else {
      list = null;
      // Answers put heading, facts, contact and source on lines of their own: one
      // paragraph each reads easier than a dense block with line breaks.
      if (line.trim() !== "") {
        const paragraph = document.createElement("p");
        appendInline(paragraph, line);
        fragment.append(paragraph);
      }
    }
  }
  return fragment;
}
