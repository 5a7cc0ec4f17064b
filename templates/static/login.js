// "Mostra password" on P01: reveals the checkbox (hidden without
// JavaScript, where it could not work) and toggles the field's type.
(function () {
  "use strict";
  function init() {
    var row = document.getElementById("show-password-row");
    var box = document.getElementById("show-password");
    var field = document.getElementById("password");
    if (!row || !box || !field) {
      return;
    }
    row.hidden = false;
    box.addEventListener("change", function () {
      field.type = box.checked ? "text" : "password";
    });
    // Restore the type before sending, so the browser still treats the
    // value as a password (save prompts, no autofill history).
    if (field.form) {
      field.form.addEventListener("submit", function () {
        field.type = "password";
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
