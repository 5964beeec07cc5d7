// Copy buttons for secrets shown once. navigator.clipboard needs a secure context, which a
// plant network on plain http is not, so fall back to selecting the text and execCommand.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    const box = document.getElementById(button.dataset.copy);
    const text = box.textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(box);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    button.textContent = "Copied";
  });
});
