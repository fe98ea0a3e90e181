/*
 * The pages' only script (no inline scripts: the site's Content-Security-Policy forbids them).
 * - remembers the browser's time zone in the `tz` cookie, so deadlines are shown in it;
 * - moves focus to a form's error summary when the page shows one;
 * - asks for confirmation on buttons with `data-confirm`;
 * - sends forms marked `data-upload` with XMLHttpRequest, showing upload progress, after
 *   checking the size and format rules that the page shows (the server checks them again).
 * Every text shown comes from the page (data-msg-* attributes), already translated.
 */
(function () {
  "use strict";

  function rememberTimeZone() {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      // IANA names (America/Lima) are cookie-safe as they are; anything else is ignored.
      if (zone && /^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) {
        document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
      }
    } catch (e) {
      /* An old browser: times stay in the call's own zone. */
    }
  }

  function focusErrorSummary() {
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) {
      summary.focus();
    }
  }

  function confirmations() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-confirm]");
      if (button && !window.confirm(button.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }

  function megabytes(bytes) {
    var lang = document.documentElement.lang || "en";
    return new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(bytes / 1048576) + " MB";
  }

  function extensionOf(name) {
    var dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot).toLowerCase();
  }

  function accepted(file, accept) {
    var allowed = accept.split(",").filter(function (a) { return a.charAt(0) === "."; });
    return allowed.length === 0 || allowed.indexOf(extensionOf(file.name)) >= 0;
  }

  // Load `url`; when only its #fragment differs from this page, reload to show the change.
  function goTo(url) {
    var target = new URL(url, window.location.href);
    var here = window.location;
    if (target.pathname === here.pathname && target.search === here.search) {
      if (target.hash) {
        here.hash = target.hash;
      }
      here.reload();
    } else {
      here.assign(target.href);
    }
  }

  function setUpUpload(form) {
    var message = form.querySelector(".upload__message");
    var progress = form.querySelector(".upload__progress");
    var fileInput = form.querySelector("input[type=file]");
    var submit = form.querySelector("button[type=submit]");
    var narrativeError = form.querySelector("#field-narrative-error");

    function say(text, isError) {
      message.textContent = text;
      message.classList.toggle("field-error", Boolean(isError));
    }

    function problemWithFiles() {
      var files = Array.prototype.slice.call(fileInput.files);
      var maxFiles = parseInt(form.getAttribute("data-max-files") || "1", 10);
      var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
      if (!fileInput.multiple && files.length === 0) {
        return form.getAttribute("data-msg-no-file");
      }
      if (files.length > maxFiles) {
        return form.getAttribute("data-msg-too-many");
      }
      for (var i = 0; i < files.length; i++) {
        if (files[i].size > maxBytes) {
          return form.getAttribute("data-msg-too-large").replace("{size}", megabytes(files[i].size));
        }
        if (!accepted(files[i], form.getAttribute("data-accept") || "")) {
          return form.getAttribute("data-msg-wrong-type");
        }
      }
      return null;
    }

    fileInput.addEventListener("change", function () {
      var problem = problemWithFiles();
      say(problem || "", Boolean(problem));
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (narrativeError) {
        narrativeError.hidden = true;
      }
      var problem = problemWithFiles();
      if (problem) {
        say(problem, true);
        fileInput.focus();
        return;
      }
      var data = new FormData(form);
      if (fileInput.files.length === 0) {
        data.delete(fileInput.name);
      }
      var token = form.querySelector("input[name=csrf_token]").value;
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("X-CSRF-Token", token);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          var percent = Math.round((e.loaded / e.total) * 100);
          progress.value = percent;
          say(form.getAttribute("data-msg-uploading").replace("{percent}", percent), false);
        }
      });
      request.addEventListener("load", function () {
        var body = {};
        try {
          body = JSON.parse(request.responseText);
        } catch (e) {
          body = {};
        }
        if (request.status >= 200 && request.status < 300 && body.redirect) {
          progress.value = 100;
          goTo(body.redirect);
          return;
        }
        progress.hidden = true;
        submit.disabled = false;
        var text = body.detail || form.getAttribute("data-msg-failed");
        if (body.code === "narrative" && narrativeError) {
          narrativeError.textContent = text;
          narrativeError.hidden = false;
          say("", false);
          form.querySelector("#field-narrative").focus();
        } else {
          say(text, true);
        }
      });
      request.addEventListener("error", function () {
        progress.hidden = true;
        submit.disabled = false;
        say(form.getAttribute("data-msg-failed"), true);
      });
      progress.value = 0;
      progress.hidden = false;
      submit.disabled = true;
      say(form.getAttribute("data-msg-uploading").replace("{percent}", "0"), false);
      request.send(data);
    });
  }

  rememberTimeZone();
  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    confirmations();
    Array.prototype.forEach.call(document.querySelectorAll("form[data-upload]"), setUpUpload);
  });
})();
