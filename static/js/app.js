// Small behaviours without inline scripts (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // Select-all checkbox for bulk actions: <input data-select-all="name-of-checkboxes">
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-select-all]")) {
      document.querySelectorAll('input[name="' + box.dataset.selectAll + '"]').forEach(function (cb) {
        cb.checked = box.checked;
      });
    }
  });

  // Typeahead: <input data-typeahead-url="..." data-typeahead-target="id-of-hidden-input">
  // The server answers with a fragment of <button data-pick-id data-pick-label> items.
  document.addEventListener("click", function (event) {
    var pick = event.target.closest && event.target.closest("[data-pick-id]");
    if (!pick) { return; }
    var list = pick.closest("[data-typeahead-for]");
    var input = document.getElementById(list.dataset.typeaheadFor);
    var hidden = document.getElementById(input.dataset.typeaheadTarget);
    hidden.value = pick.dataset.pickId;
    input.value = pick.dataset.pickLabel;
    list.innerHTML = "";
    // Let dependent parts (the visit form's people picker) react to the choice.
    hidden.dispatchEvent(new Event("change", { bubbles: true }));
    input.focus();
  });

  // Auto-submit filter forms when a select changes (the submit button remains for keyboards).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.form && el.form.matches("[data-autosubmit]") && el.tagName === "SELECT") {
      el.form.requestSubmit();
    }
  });
})();
