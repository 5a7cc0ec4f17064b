// Live check of the codice fiscale on the enrolment data page: as the
// applicant leaves a field, the server's check (/enrol/check-cf) says what
// is wrong with the code or what does not match it, in the page's
// language. The form is checked again on submission; this only helps.
(function () {
  "use strict";
  var fields = ["fiscal_number", "name", "family_name", "date_of_birth", "gender", "place_of_birth", "county_of_birth"];
  function init() {
    var out = document.getElementById("cf-live");
    var cf = document.getElementById("fiscal_number");
    if (!out || !cf || !window.fetch) {
      return;
    }
    var url = out.getAttribute("data-check");
    var seq = 0;
    function check() {
      if (!cf.value.trim()) {
        out.textContent = "";
        return;
      }
      var q = new URLSearchParams();
      fields.forEach(function (n) {
        var el = document.getElementById(n);
        if (el) {
          q.set(n, el.value);
        }
      });
      q.set("lang", document.documentElement.lang || "it");
      var mine = ++seq;
      fetch(url + "?" + q.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
        .then(function (d) {
          if (mine === seq) {
            out.textContent = (d.messages || []).join(" ");
          }
        })
        .catch(function () {});
    }
    fields.forEach(function (n) {
      var el = document.getElementById(n);
      if (el) {
        el.addEventListener("change", check);
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
