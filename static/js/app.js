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
    // Picked from a duplicate warning: the half-typed new record is not needed any more.
    if (list.dataset.clear) {
      document.querySelectorAll(list.dataset.clear).forEach(function (el) { el.value = ""; });
      var details = list.closest("details");
      if (details) { details.open = false; }
    }
    // Let dependent parts (the visit form's people picker) react to the choice.
    hidden.dispatchEvent(new Event("change", { bubbles: true }));
    input.focus();
  });

  // Typeahead by keyboard: Enter picks the first suggestion instead of submitting the
  // form around it, the down arrow moves into the suggestions.
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-typeahead-target]")) { return; }
    var list = document.querySelector('[data-typeahead-for="' + input.id + '"]');
    var first = list && list.querySelector("[data-pick-id]");
    if (event.key === "Enter") {
      event.preventDefault();
      if (first) { first.click(); }
    } else if (event.key === "ArrowDown" && first) {
      event.preventDefault();
      first.focus();
    }
  });
  document.addEventListener("keydown", function (event) {
    var option = event.target;
    if (!option.matches || !option.matches("[data-pick-id]")) { return; }
    var step = { ArrowDown: "nextElementSibling", ArrowUp: "previousElementSibling" }[event.key];
    if (step && option[step]) {
      event.preventDefault();
      option[step].focus();
    }
  });

  // Long forms (the visit form) are saved with their buttons only: Enter in a text
  // field, or the tablet keyboard's "Go" key, must not send a half-filled form.
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key === "Enter" && el.form && el.form.matches("[data-no-enter-submit]") &&
        el.tagName === "INPUT" && el.type !== "submit" && el.type !== "button") {
      event.preventDefault();
    }
  });

  // Once the form is being sent, a pending autosave must not race it (the later of
  // the two would find the visit's version moved on).
  document.addEventListener("submit", function (event) {
    if (event.target.matches("[data-autosave]")) { event.target.dataset.submitting = "1"; }
  });
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.dataset && elt.dataset.submitting) { event.preventDefault(); }
  });

  // Pipeline board: dragging a card to another column asks for the move in a dialog
  // (the stage may require a closing reason or an outcome); cancelling puts it back.
  window.addEventListener("load", function () {
    var lists = document.querySelectorAll("[data-sortable-board]");
    var dialog = document.getElementById("move-dialog");
    if (!lists.length || !window.Sortable || !window.htmx || !dialog) { return; }
    lists.forEach(function (list) {
      window.Sortable.create(list, {
        group: "board",
        animation: 150,
        sort: false,
        onAdd: function (event) {
          var url = event.item.dataset.moveUrl + "?to=" + event.to.dataset.stage +
            "&next=" + encodeURIComponent(window.location.pathname + window.location.search);
          window.htmx.ajax("GET", url, { target: "#move-dialog-body" }).then(function () {
            dialog.showModal();
            var first = dialog.querySelector("select, input:not([type=hidden]), textarea");
            if (first) { first.focus(); }
          });
        }
      });
    });
    dialog.addEventListener("close", function () { window.location.reload(); });
    dialog.addEventListener("click", function (event) {
      if (event.target.closest("[data-dialog-cancel]")) {
        event.preventDefault();
        dialog.close();
      }
    });
  });

  // Auto-submit filter forms when a select changes (the submit button remains for keyboards).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.form && el.form.matches("[data-autosubmit]") && el.tagName === "SELECT") {
      el.form.requestSubmit();
    }
  });
})();
