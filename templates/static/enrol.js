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
  // Place of birth: suggestions from the table of municipalities and
  // foreign states as the applicant types (filtered by the birth date when
  // it is there); picking one fills the cadastral code and the province.
  // Without this script the name typed is resolved on submission.
  function places() {
    var name = document.getElementById("place_name");
    var list = document.getElementById("place-list");
    var code = document.getElementById("place_of_birth");
    var prov = document.getElementById("county_of_birth");
    var born = document.getElementById("date_of_birth");
    if (!name || !list || !code || !prov || !window.fetch) {
      return;
    }
    var url = name.getAttribute("data-suggest");
    var found = {};
    var seq = 0;
    var timer = null;
    // The place picked: a suggestion's label, or a name that only one
    // suggestion has ("Milano" for "Milano (MI)").
    function chosen() {
      if (found[name.value]) {
        return found[name.value];
      }
      var typed = name.value.trim().toLowerCase();
      var only = null;
      var n = 0;
      Object.keys(found).forEach(function (label) {
        if (label.toLowerCase().indexOf(typed + " (") === 0) {
          only = found[label];
          n++;
        }
      });
      return n === 1 && typed ? only : null;
    }
    function pick() {
      var p = chosen();
      var c = p ? p.code : "";
      if (c !== code.value) {
        code.value = c;
        prov.value = p ? p.province : "";
        // The fiscal-code check above listens to the code.
        code.dispatchEvent(new Event("change"));
      }
    }
    function suggest() {
      var q = name.value.trim();
      if (q.length < 2) {
        return;
      }
      var params = new URLSearchParams();
      params.set("q", q);
      if (born && born.value) {
        params.set("born", born.value);
      }
      params.set("lang", document.documentElement.lang || "it");
      var mine = ++seq;
      fetch(url + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { places: [] }; })
        .then(function (d) {
          if (mine !== seq) {
            return;
          }
          while (list.firstChild) {
            list.removeChild(list.firstChild);
          }
          found = {};
          (d.places || []).forEach(function (p) {
            found[p.label] = p;
            var o = document.createElement("option");
            o.value = p.label;
            list.appendChild(o);
          });
          pick();
        })
        .catch(function () {});
    }
    name.addEventListener("input", function () {
      pick();
      if (timer) {
        clearTimeout(timer);
      }
      timer = setTimeout(suggest, 150);
    });
    name.addEventListener("change", pick);
  }
  function start() {
    init();
    places();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
