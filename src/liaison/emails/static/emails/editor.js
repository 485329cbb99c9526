// The e-mail editor: insert tokens at the cursor of the last focused field (subject, HTML, text).
(function () {
  var last = null;
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el.matches && el.matches("#email-form input[type=text], #email-form textarea")) { last = el; }
  });
  function insert(text, linkLabel) {
    var target = last || document.getElementById("id_html");
    if (!target) { return; }
    if (linkLabel && target.id === "id_html") {
      text = '<a href="' + text + '">' + (linkLabel === "1" ? text : linkLabel) + "</a>";
    }
    var start = target.selectionStart || 0, end = target.selectionEnd || 0;
    target.value = target.value.slice(0, start) + text + target.value.slice(end);
    target.focus();
    target.selectionStart = target.selectionEnd = start + text.length;
    target.dispatchEvent(new Event("input", { bubbles: true }));
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insert], [data-insert-from]");
    if (!button) { return; }
    event.preventDefault();
    var text = button.getAttribute("data-insert");
    var from = button.getAttribute("data-insert-from");
    if (from) { text = document.getElementById(from).value; }
    if (text) { insert(text, button.getAttribute("data-link")); }
  });
})();
// Segment e-mails choose their audiences; template e-mails have none.
(function () {
  function sync() {
    var kind = document.getElementById("id_kind"), box = document.getElementById("audiences-field");
    if (kind && box) { box.hidden = kind.value !== "segment"; }
  }
  document.addEventListener("change", function (event) { if (event.target.id === "id_kind") { sync(); } });
  document.addEventListener("DOMContentLoaded", sync);
})();
