/* The pharmacy desk (templates/pharmacy/desk_rx.html): Ctrl+Enter dispenses once every pack is
   scanned, without leaving the scan field. The rest of the scan behaviour is stock.js. */
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var button = document.getElementById("dispense");
    if (button && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });
})();
