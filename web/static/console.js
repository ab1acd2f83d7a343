// aftercare console: two small enhancements; every page works without them.
(function () {
  "use strict";
  // Ask before destructive actions (forms marked data-confirm).
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
    }
  });
  // Move focus to what changed (an error summary, a previewed plan, a
  // confirmation) so keyboard and screen-reader users land on it.
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.querySelector("[data-focus]");
    if (el) {
      el.focus();
    }
  });
})();
