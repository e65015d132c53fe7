// Marking the service words: selecting text inside the message fills the "Wörter" field.
const text = document.getElementById("message-text");
const words = document.getElementById("correct-words");

if (text && words) {
  const pick = () => {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || selection.rangeCount === 0) {
      return;
    }
    const range = selection.getRangeAt(0);
    if (!text.contains(range.commonAncestorContainer)) {
      return;
    }
    const chosen = selection.toString().trim();
    if (chosen && chosen.length <= 200 && !/[[\]]/.test(chosen)) {
      words.value = chosen;
      words.dispatchEvent(new Event("change"));
    }
  };
  text.addEventListener("mouseup", pick);
  text.addEventListener("keyup", pick);
}
