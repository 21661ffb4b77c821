// askonce clerk console: the only script. The pages work without it; it
// shows the print button (window.print needs a script) and moves focus to
// an answer so that a screen reader announces it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });
  var t = document.getElementById("answer-title");
  if (t) { t.setAttribute("tabindex", "-1"); t.focus(); }
});
