// Small conveniences only: the page works without them.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var hook = document.getElementById("hook");
  var example = document.getElementById("example");
  var drafts = document.getElementById("drafts");
  function currentHook() {
    if (hook.value !== "auto") { return hook.value; }
    var option = example.options[example.selectedIndex];
    return (option && option.dataset.hook) || "patient-view";
  }
  function showDrafts() {
    var h = currentHook();
    drafts.hidden = !(h === "order-select" || h === "order-sign");
  }
  if (hook && example && drafts) {
    hook.addEventListener("change", showDrafts);
    example.addEventListener("change", showDrafts);
    showDrafts();
  }
  // a suggestion button shows or hides the orders it would create or delete
  document.querySelectorAll(".suggestion-button").forEach(function (button) {
    button.addEventListener("click", function () {
      var list = document.getElementById(button.getAttribute("aria-controls"));
      var open = button.getAttribute("aria-expanded") === "true";
      button.setAttribute("aria-expanded", open ? "false" : "true");
      if (list) { list.hidden = open; }
    });
  });
});
