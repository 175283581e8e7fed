/* Stock pages (templates/warehouse): a scanner is a keyboard, so the scan field (#scan) keeps the
   focus. Loaded from the pages themselves: the CSP allows only our own scripts, no inline ones. */
(function () {
  "use strict";

  function scanField() {
    return document.getElementById("scan");
  }

  function inStockPage(elt) {
    return elt && elt.closest && elt.closest("[data-stock]");
  }

  // A refused scan (409/422) is an answer to show at once, in red, like a good one in green.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ((status === 409 || status === 422) && inStockPage(event.detail.requestConfig.elt)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function formOf(event) {
    var elt = event.detail.elt;
    var form = elt && elt.closest ? elt.closest("form") : null;
    return inStockPage(form) ? form : null;
  }

  // The scan is on its way (its values are taken): the field is emptied at once, so the next scan
  // may start before the answer comes (the form queues its requests: hx-sync="this:queue all").
  document.addEventListener("htmx:beforeSend", function (event) {
    var form = formOf(event);
    if (form && form.hasAttribute("data-scan-form")) {
      form.reset();
      var field = scanField();
      if (field) field.focus();
    }
  });

  // After every answer: a line form is emptied when it was accepted, and the focus goes back to the
  // scan field, ready for the next pack.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = formOf(event);
    if (!form) return;
    if (form.hasAttribute("data-reset") && event.detail.xhr.status < 300) form.reset();
    var field = scanField();
    if (field) field.focus();
  });

  // Put-away: Enter in the pack field goes on to the cell field.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target.dataset && target.dataset.next) {
      var next = document.getElementById(target.dataset.next);
      if (next && target.value.trim()) {
        event.preventDefault();
        next.focus();
      }
      return;
    }
    // A scan that starts while nothing is focused (a click on the page) still lands in the field.
    var field = scanField();
    if (field && (target === document.body || target === document.documentElement) && event.key.length === 1 &&
        !event.ctrlKey && !event.metaKey && !event.altKey) {
      field.focus();
    }
  });
})();
