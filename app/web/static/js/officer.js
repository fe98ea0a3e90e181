/*
 * The programme officer's pages (no inline scripts: the Content-Security-Policy forbids them).
 * - Repeated rows (`[data-row-set]`: milestones, objectives, criteria…): "Add" clones the
 *   row `<template>`, numbering its fields after the last row; "Remove" takes a row out.
 *   Without this script the page offers spare blank rows instead, and the server ignores
 *   the blank ones, so the form works either way.
 * - The award form (`[data-milestone-total]`) says as you type what the milestone amounts
 *   add up to (the server checks the sum again).
 * Every text shown comes from the page (data-* attributes), already translated.
 */
(function () {
  "use strict";

  var INDEX = /__index__/g;
  var NUMBERED = ["id", "name", "for", "aria-describedby"];

  function renumberLabels(set) {
    var rows = set.querySelectorAll("[data-rows] > [data-row]");
    Array.prototype.forEach.call(rows, function (row, position) {
      Array.prototype.forEach.call(row.querySelectorAll("[data-row-label]"), function (label) {
        var text = label.getAttribute("data-row-label").replace("__number__", position + 1);
        label.textContent = label.tagName === "SPAN" ? " " + text : text;
      });
      var remove = row.querySelector("[data-remove-row]");
      if (remove) {
        remove.hidden = rows.length < 2;
      }
    });
  }

  function addRow(set) {
    var counter = set.querySelector("[data-row-count]");
    var template = set.querySelector("template[data-row-template]");
    var index = parseInt(counter.value, 10) || 0;
    var row = template.content.firstElementChild.cloneNode(true);
    [row].concat(Array.prototype.slice.call(row.querySelectorAll("*"))).forEach(function (el) {
      NUMBERED.forEach(function (attribute) {
        var value = el.getAttribute(attribute);
        if (value && value.indexOf("__index__") >= 0) {
          el.setAttribute(attribute, value.replace(INDEX, String(index)));
        }
      });
    });
    set.querySelector("[data-rows]").appendChild(row);
    counter.value = String(index + 1);
    renumberLabels(set);
    var first = row.querySelector("input, textarea, select");
    if (first) {
      first.focus();
    }
  }

  function removeRow(set, button) {
    var row = button.closest("[data-row]");
    var rows = set.querySelectorAll("[data-rows] > [data-row]");
    if (!row || rows.length < 2) {
      return;
    }
    row.parentNode.removeChild(row);
    renumberLabels(set);
    set.querySelector("[data-add-row]").focus();
  }

  function setUpRowSet(set) {
    var add = set.querySelector("[data-add-row]");
    add.hidden = false;
    add.addEventListener("click", function () {
      addRow(set);
    });
    set.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-row]");
      if (button) {
        removeRow(set, button);
      }
    });
    renumberLabels(set);
  }

  // Amounts as the page asks for them (250000.00): digits and at most two decimals.
  function cents(text) {
    var match = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text.trim());
    if (!match) {
      return null;
    }
    return parseInt(match[1], 10) * 100 + parseInt(((match[2] || "") + "00").slice(0, 2), 10);
  }

  function formatCents(value) {
    var lang = document.documentElement.lang || "en";
    return new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
      .format(value / 100);
  }

  function setUpMilestoneTotal(form) {
    var output = form.querySelector(".milestone-total");
    var amount = form.querySelector("input[name=amount]");
    if (!output || !amount) {
      return;
    }
    function update() {
      var sum = 0;
      var any = false;
      Array.prototype.forEach.call(form.querySelectorAll(".milestone-amount"), function (input) {
        var value = cents(input.value);
        if (value !== null) {
          sum += value;
          any = true;
        }
      });
      var award = cents(amount.value);
      if (!any || award === null) {
        output.hidden = true;
        return;
      }
      output.hidden = false;
      output.textContent = form.getAttribute("data-msg-total")
        .replace("{sum}", formatCents(sum))
        .replace("{amount}", formatCents(award));
      output.classList.toggle("field-error", sum !== award);
    }
    form.addEventListener("input", update);
    form.addEventListener("click", function (event) {
      // The row set's own listener sits on an inner element, so during bubbling it has
      // already removed the row when this one runs: the total is right at once.
      if (event.target.closest("[data-remove-row]")) {
        update();
      }
    });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-row-set]"), setUpRowSet);
    Array.prototype.forEach.call(
      document.querySelectorAll("form[data-milestone-total]"),
      setUpMilestoneTotal
    );
  });
})();
