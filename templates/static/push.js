// P04: waits for the decision in the app without a reload. It polls the
// flow's status URL (every 2 s, ui.md P04) and, once the request is no
// longer pending, submits the page's form, whose "Ho confermato" button
// does the same by hand without JavaScript. The server decides what
// happens next; this script only saves a click.
(function () {
  "use strict";
  var INTERVAL = 2000;
  var LIMIT = 10 * 60 * 1000; // the login's own deadline
  function init() {
    var form = document.querySelector("form[data-push-poll]");
    if (!form || !window.fetch) {
      return;
    }
    var url = form.getAttribute("data-push-poll");
    var status = document.getElementById("push-status");
    var started = Date.now();
    var done = false;
    function finish() {
      if (done) {
        return;
      }
      done = true;
      if (status) {
        status.textContent = form.getAttribute("data-push-status") || "";
      }
      form.submit();
    }
    function poll() {
      if (done || Date.now() - started > LIMIT) {
        return;
      }
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
        .then(function (res) {
          if (!res.ok) {
            throw new Error("status " + res.status);
          }
          return res.json();
        })
        .then(function (body) {
          if (body && body.status && body.status !== "pending") {
            finish();
            return;
          }
          window.setTimeout(poll, INTERVAL);
        })
        .catch(function () {
          // A network hiccup: keep trying, more slowly.
          window.setTimeout(poll, INTERVAL * 2);
        });
    }
    window.setTimeout(poll, INTERVAL);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
