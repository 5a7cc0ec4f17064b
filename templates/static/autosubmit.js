// Submits the form marked data-autosubmit once the page has loaded (P06).
// The form keeps a visible "Continua" button, so nothing depends on this
// script. No inline script: the page's CSP allows scripts from 'self' only.
(function () {
  "use strict";
  function go() {
    var form = document.querySelector("form[data-autosubmit]");
    if (!form || form.dataset.submitted) {
      return;
    }
    form.dataset.submitted = "true";
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true; // no second POST of the same message
    }
    form.submit();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", go);
  } else {
    go();
  }
})();
