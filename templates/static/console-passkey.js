// Operator passkeys (WebAuthn) on the console's second-factor page: the
// form carries the server's options in data-options; on submit the
// browser creates or uses the passkey and the form posts its answer as
// JSON in the hidden field "credential". Without WebAuthn the status line
// says so and the TOTP form stays available.
(function () {
  "use strict";
  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }
  function bufToB64u(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64uToBuf(pk.challenge);
    pk.user.id = b64uToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
    return { publicKey: pk };
  }
  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64uToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
    return { publicKey: pk };
  }
  function answer(cred) {
    var r = cred.response;
    var out = { id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, response: {},
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {} };
    out.response.clientDataJSON = bufToB64u(r.clientDataJSON);
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64u(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = bufToB64u(r.authenticatorData);
      out.response.signature = bufToB64u(r.signature);
      if (r.userHandle) {
        out.response.userHandle = bufToB64u(r.userHandle);
      }
    }
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    return JSON.stringify(out);
  }
  function init(form) {
    var status = form.querySelector(".passkey-status");
    var field = form.querySelector('input[name="credential"]');
    var button = form.querySelector('button[type="submit"]');
    if (!window.PublicKeyCredential || !navigator.credentials) {
      status.textContent = status.getAttribute("data-unsupported");
      button.disabled = true;
      return;
    }
    form.addEventListener("submit", function (ev) {
      if (field.value) {
        return; // the answer is in: let the form go
      }
      ev.preventDefault();
      var o;
      try {
        o = JSON.parse(form.getAttribute("data-options"));
      } catch (e) {
        status.textContent = status.getAttribute("data-failed");
        return;
      }
      var create = form.getAttribute("data-passkey") === "create";
      var p = create ? navigator.credentials.create(creationOptions(o)) : navigator.credentials.get(requestOptions(o));
      button.disabled = true;
      p.then(function (cred) {
        field.value = answer(cred);
        form.submit();
      }, function () {
        button.disabled = false;
        status.textContent = status.getAttribute("data-failed");
      });
    });
  }
  function start() {
    var forms = document.querySelectorAll("form[data-passkey]");
    for (var i = 0; i < forms.length; i++) {
      init(forms[i]);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
