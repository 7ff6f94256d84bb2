/* Small behaviours htmx does not cover: select-all, the confirmation <dialog>, tab keys,
   folder expand/collapse. No framework; everything else is server-rendered htmx. */
(function () {
  "use strict";

  // capture phase: the boxes are ticked before htmx sends the form's change (the estimate)
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-select-all]")) return;
    var form = box.closest("form") || document;
    form.querySelectorAll(box.getAttribute("data-select-all")).forEach(function (item) {
      item.checked = box.checked;
    });
  }, true);

  // "Delete the selected links…" is usable only with links ticked, and says how many
  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches(".sl-pick")) return;
    var results = event.target.closest("#sl-results");
    var button = results && results.querySelector("#sl-delete-selected");
    if (!button) return;
    var count = results.querySelectorAll(".sl-pick:checked").length;
    button.disabled = count === 0;
    var label = results.querySelector("#sl-picked-count");
    if (label) label.textContent = count === 0 ? label.getAttribute("data-none") :
      label.getAttribute(count === 1 ? "data-one" : "data-many").replace("{n}", count);
  });

  // autosave: say which field changed, so "Saved ✓" also shows beside it (a long page)
  document.addEventListener("htmx:configRequest", function (event) {
    var trigger = event.detail.triggeringEvent;
    if (trigger && trigger.type === "change" && trigger.target && trigger.target.name &&
        event.detail.elt.matches && event.detail.elt.matches("#sl-settings")) {
      event.detail.parameters["_changed"] = trigger.target.name;
    }
  });

  // schedule form: the fields shown follow the chosen frequency (CSS reads data-frequency)
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("[data-frequency-select]")) return;
    select.form.setAttribute("data-frequency", select.value);
  });

  document.addEventListener("click", function (event) {
    var closer = event.target.closest && event.target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = document.querySelector(closer.getAttribute("data-close-dialog"));
      if (dialog && dialog.open) dialog.close();
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var button = event.detail.elt;
    if (button.classList && button.classList.contains("sl-expand") &&
        button.getAttribute("aria-expanded") === "true") {
      event.preventDefault();  // second click folds the folder instead of reloading it
      button.parentElement.querySelector(".sl-children").innerHTML = "";
      button.setAttribute("aria-expanded", "false");
      button.textContent = "▸";
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (elt && elt.classList && elt.classList.contains("sl-expand")) {
      elt.setAttribute("aria-expanded", "true");
      elt.textContent = "▾";
    }
    if (event.target.id === "sl-dialog-body") {
      var dialog = document.getElementById("sl-dialog");
      if (dialog && !dialog.open) dialog.showModal();
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form.matches && form.matches("[data-close-dialog-after]")) {
      var dialog = document.querySelector(form.getAttribute("data-close-dialog-after"));
      if (dialog && dialog.open) dialog.close();
    }
  });

  // A request that failed (server error, network down) must not fail silently.
  function toast(message) {
    var box = document.getElementById("sl-toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.hidden = true; }, 8000);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr, message = "";
    try { message = JSON.parse(xhr.responseText).error.message; } catch (e) { /* not JSON */ }
    var box = document.getElementById("sl-toast");  // its data-* hold the page's language
    toast(box.getAttribute("data-error") + " " + xhr.status + ": " + (message || box.getAttribute("data-server")));
  });
  document.addEventListener("htmx:sendError", function () {
    toast(document.getElementById("sl-toast").getAttribute("data-offline"));
  });

  // On a phone the table cells stack (toolkit.css): each cell says its column's name.
  function labelCells() {
    document.querySelectorAll(".tk-table").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          var head = heads[i];
          if (head && !head.querySelector(".sl-visually-hidden") && head.textContent.trim()) {
            cell.setAttribute("data-label", head.textContent.trim());
          }
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", labelCells);
  document.addEventListener("htmx:afterSettle", labelCells);

  // Tabs: arrow keys move between tabs (WAI-ARIA tabs pattern); Enter follows the link.
  document.addEventListener("keydown", function (event) {
    var tab = event.target;
    if (!tab.matches || !tab.matches('[role="tab"]')) return;
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    var tabs = Array.prototype.slice.call(tab.parentElement.querySelectorAll('[role="tab"]'));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    event.preventDefault();
  });
})();
