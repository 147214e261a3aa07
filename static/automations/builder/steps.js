/* The recipe builder, part 6 of 7: step cards (move, remove, key, fields or filter) and the
 * "Add a step" control.
 */
(function (B) {
  "use strict";
  var el = B.el;
  function steps() { if (!Array.isArray(B.doc.steps)) B.doc.steps = []; return B.doc.steps; }
  B.steps = steps;

  function stepButtons(i, count) {
    function move(delta) {
      return function () {
        var list = steps(), s = list.splice(i, 1)[0];
        list.splice(i + delta, 0, s);
        B.modes = {}; // remembered by path, and the paths just moved
        B.render(); B.changed();
        var again = document.getElementById("step-" + (i + delta) + (delta < 0 ? "-up" : "-down"));
        (again && !again.disabled ? again : document.getElementById("step-" + (i + delta) + "-title")).focus();
      };
    }
    var n = i + 1;
    return el("div", { class: "step-buttons" },
      el("button", { type: "button", class: "secondary", id: "step-" + i + "-up", disabled: i === 0,
        "aria-label": "Move step " + n + " up", on: { click: move(-1) } }, "↑ Up"),
      el("button", { type: "button", class: "secondary", id: "step-" + i + "-down", disabled: i === count - 1,
        "aria-label": "Move step " + n + " down", on: { click: move(1) } }, "↓ Down"),
      el("button", { type: "button", class: "danger", id: "step-" + i + "-remove", "aria-label": "Remove step " + n,
        on: { click: function () {
          steps().splice(i, 1); B.modes = {}; B.render(); B.changed();
          document.getElementById("add-step-operation").focus();
        } } }, "Remove"));
  }

  function ifNotFound(step, i, operation) {
    var id = "step-" + i + "-if-not-found";
    if (!step.if_not_found) step.if_not_found = "halt";
    return el("div", null, el("label", { for: id, text: "If nothing is found" }),
      el("select", { id: id, "data-path": "steps[" + i + "].if_not_found",
        on: { change: function (e) { step.if_not_found = e.target.value; B.changed(); } } },
        el("option", { value: "halt", selected: step.if_not_found === "halt", text: "Stop the run" }),
        el("option", { value: "continue", selected: step.if_not_found === "continue", text: "Go on with an empty result" })),
      el("p", { class: "help muted", text: operation.nothing_found }),
      B.errorList("steps[" + i + "].if_not_found"));
  }

  B.stepCard = function (step, i, count) {
    var path = "steps[" + i + "]", operation = B.cat.operations[step.operation] || null, isFilter = "filter" in step;
    var title = "Step " + (i + 1) + ": " + (isFilter ? "Filter" : operation ? operation.label : "Unknown (" + step.operation + ")");
    var key = el("input", { id: "step-" + i + "-key", "data-path": path + ".key", value: step.key || "", autocomplete: "off",
      "aria-describedby": "step-" + i + "-key-help", on: { input: function (e) { step.key = e.target.value; B.changed(); } } });
    var card = el("section", { class: "card step", id: "step-" + i, role: "listitem", "data-path": path,
        "data-kind": isFilter ? "filter" : operation ? operation.kind : "unknown", "aria-labelledby": "step-" + i + "-title" },
      el("div", { class: "step-head" }, el("h2", { id: "step-" + i + "-title", tabindex: "-1", text: title }), stepButtons(i, count)),
      operation ? el("p", { class: "muted", text: operation.description }) : null,
      B.errorList(path), B.errorList(path + ".operation"),
      el("label", { for: "step-" + i + "-key", text: "Step key" }), key,
      el("p", { class: "help muted", id: "step-" + i + "-key-help", text: "Later steps read this step's result as steps." + (step.key || "key") + "." }),
      B.errorList(path + ".key"));
    if (isFilter) {
      card.appendChild(B.filterEditor(step.filter, path + ".filter", path));
    } else if (operation) {
      if (operation.kind === "search") card.appendChild(ifNotFound(step, i, operation));
      card.appendChild(B.errorList(path + ".fields"));
      operation.fields.forEach(function (f) { card.appendChild(B.fieldRow(step, i, f)); });
    }
    return card;
  };

  function newKey(base) {
    var taken = steps().map(function (s) { return s.key; }), key = base, n = 2;
    while (taken.indexOf(key) >= 0) key = base + "_" + n++;
    return key;
  }

  B.addStep = function () {
    var choice = document.getElementById("add-step-operation").value;
    if (choice === "filter") {
      steps().push({ key: newKey("only_if"), filter: { match: "all", conditions: [{ field: "", operator: "equals", value: "" }] } });
    } else {
      var operation = B.cat.operations[choice];
      var step = { key: newKey(operation.noun.toLowerCase().replace(/[^a-z0-9]+/g, "_")), operation: choice, fields: {} };
      if (operation.kind === "search") step.if_not_found = "halt";
      steps().push(step);
    }
    B.render(); B.changed();
    document.getElementById("step-" + (steps().length - 1) + "-title").focus();
  };

  B.fillAddStep = function () {
    var select = document.getElementById("add-step-operation");
    ["action", "search"].forEach(function (kind) {
      var group = el("optgroup", { label: kind === "action" ? "Actions: do something" : "Searches: look something up" });
      Object.keys(B.cat.operations).forEach(function (k) {
        var o = B.cat.operations[k];
        if (o.kind === kind) group.appendChild(el("option", { value: o.key, text: o.label }));
      });
      select.appendChild(group);
    });
    select.appendChild(el("optgroup", { label: "Filters" }, el("option", { value: "filter", text: "Filter: only go on if…" })));
  };
})(window.CartlyBuilder = window.CartlyBuilder || {});
