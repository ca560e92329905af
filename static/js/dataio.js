// Import pages: no inline scripts (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // Forms marked data-dataio-once submit once: a second click would upload or import twice.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-dataio-once]")) { return; }
    if (form.dataset.submitted === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "1";
    form.setAttribute("aria-busy", "true");
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });

  // Coming back with the browser's back button shows the page as it was left: usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-dataio-once]").forEach(function (form) {
      delete form.dataset.submitted;
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = false;
      });
    });
  });

  // Mapping page: warn as soon as one field is chosen for two columns.
  function checkDuplicates(form) {
    var selects = form.querySelectorAll("select[name^='col_']");
    var counts = {};
    selects.forEach(function (select) {
      if (select.value) { counts[select.value] = (counts[select.value] || 0) + 1; }
    });
    var any = false;
    selects.forEach(function (select) {
      var duplicate = select.value && counts[select.value] > 1;
      select.classList.toggle("is-invalid", Boolean(duplicate));
      if (duplicate) {
        select.setAttribute("aria-invalid", "true");
        any = true;
      } else {
        select.removeAttribute("aria-invalid");
      }
    });
    var warning = form.querySelector("[data-dataio-duplicate-warning]");
    if (warning) { warning.classList.toggle("d-none", !any); }
  }

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.matches("[data-dataio-mapping]")) { checkDuplicates(form); }
  });

  document.querySelectorAll("form[data-dataio-mapping]").forEach(checkDuplicates);
})();
