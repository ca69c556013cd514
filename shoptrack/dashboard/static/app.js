// shoptrack dashboard: small progressive enhancements (every page works without them).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // A <select data-autosubmit> submits its form when changed (the app switcher, filters).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // Forms with data-confirm ask first (erase a visitor, rotate the secret, remove a key).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });

  // <button data-copy="ID"> copies the text of element ID.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var text = document.getElementById(btn.getAttribute("data-copy")).textContent;
      var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
      } else { fallback(text); done(); }
    });
  });
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }

  // The range picker: "custom" shows the date fields; a preset submits at once.
  var preset = document.getElementById("range-preset");
  if (preset) {
    var custom = document.querySelectorAll(".custom-range");
    var sync = function () {
      custom.forEach(function (el) { el.hidden = preset.value !== "custom"; });
    };
    sync();
    preset.addEventListener("change", function () {
      sync();
      if (preset.value !== "custom") preset.form.submit();
    });
  }
})();
