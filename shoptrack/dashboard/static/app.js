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

  // A table wider than its card scrolls inside it: make that scroll area reachable by
  // keyboard (arrow keys scroll it), name it after its section, and say "swipe".
  function markScrolling() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
      var hint = wrap.nextElementSibling;
      if (!hint || !hint.classList.contains("scroll-hint")) {
        hint = document.createElement("p");
        hint.className = "scroll-hint muted";
        hint.textContent = "Swipe the table sideways to see every column.";
        wrap.parentNode.insertBefore(hint, wrap.nextSibling);
      }
      wrap.classList.toggle("scrolls", scrolls);
      if (scrolls) {
        var section = wrap.closest("section");
        var heading = section && section.querySelector("h2, h1");
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", (heading ? heading.textContent.trim() + ": " : "") + "table, scrolls sideways");
      } else {
        wrap.removeAttribute("tabindex"); wrap.removeAttribute("role"); wrap.removeAttribute("aria-label");
      }
    });
  }
  markScrolling();
  var resizing = null;
  window.addEventListener("resize", function () { clearTimeout(resizing); resizing = setTimeout(markScrolling, 150); });

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
