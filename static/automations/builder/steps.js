/* The recipe builder, part 8 of 9: lists of steps and their cards, at any depth (the recipe's
 * steps, a loop's, a path's, a fallback's): move, remove, the step's key, an operation's fields
 * and "If this step fails", a filter's conditions; flow.js draws loops, paths and delays. Each
 * list has its own "Add a step".
 */
(function (B) {
  "use strict";
  var el = B.el;
  var MAX_DEPTH = 3; // lists inside lists, as automations/document_checks.py allows
  var KIND_LABELS = { filter: "Filter", loop: "For each", paths: "Paths", delay: "Delay" };

  function steps() { if (!Array.isArray(B.doc.steps)) B.doc.steps = []; return B.doc.steps; }
  B.steps = steps;

  B.kindOf = function (step) {
    var kinds = ["filter", "loop", "paths", "delay"];
    for (var i = 0; i < kinds.length; i++) if (kinds[i] in step) return kinds[i];
    return "operation";
  };

  // The lists of steps a step holds, each with its path.
  B.innerLists = function (step, path) {
    var kind = B.kindOf(step), found = [];
    if (kind === "loop") found.push({ list: step.steps, path: path + ".steps" });
    if (kind === "paths" && step.paths && typeof step.paths === "object") {
      (Array.isArray(step.paths.branches) ? step.paths.branches : []).forEach(function (b, j) {
        if (b && typeof b === "object") found.push({ list: b.steps, path: path + ".paths.branches[" + j + "].steps" });
      });
      if (Array.isArray(step.paths.otherwise)) found.push({ list: step.paths.otherwise, path: path + ".paths.otherwise" });
    }
    if (kind === "operation" && step.on_error === "fallback") found.push({ list: step.fallback, path: path + ".fallback" });
    return found;
  };

  // fn(step, path) for every step of the tree, in reading order.
  B.eachStep = function (list, listPath, fn) {
    (Array.isArray(list) ? list : []).forEach(function (step, i) {
      if (!step || typeof step !== "object") return;
      var path = listPath + "[" + i + "]";
      fn(step, path);
      B.innerLists(step, path).forEach(function (inner) { B.eachStep(inner.list, inner.path, fn); });
    });
  };

  // "steps[2].steps[0]" → "3.1", as the run page numbers steps.
  B.stepNumber = function (path) {
    var numbers = [], m, re = /(?:steps|fallback|otherwise)\[(\d+)\]/g;
    while ((m = re.exec(path)) !== null) numbers.push(+m[1] + 1);
    return numbers.join(".");
  };

  function newKey(base) {
    var taken = {}, key = base, n = 2;
    B.eachStep(steps(), "steps", function (s) { taken[s.key] = true; });
    while (taken[key]) key = base + "_" + n++;
    return key;
  }

  function focusTitle(path) {
    var title = document.getElementById(B.stepId(path) + "-title");
    if (title) title.focus();
  }

  function stepButtons(list, i, listPath) {
    var path = listPath + "[" + i + "]", sid = B.stepId(path), n = B.stepNumber(path);
    function move(delta) {
      return function () {
        var s = list.splice(i, 1)[0];
        list.splice(i + delta, 0, s);
        B.modes = {}; // remembered by path, and the paths just moved
        B.render(); B.changed();
        var moved = B.stepId(listPath + "[" + (i + delta) + "]");
        var again = document.getElementById(moved + (delta < 0 ? "-up" : "-down"));
        (again && !again.disabled ? again : document.getElementById(moved + "-title")).focus();
      };
    }
    return el("div", { class: "step-buttons" },
      el("button", { type: "button", class: "secondary", id: sid + "-up", disabled: i === 0,
        "aria-label": "Move step " + n + " up", on: { click: move(-1) } }, "↑ Up"),
      el("button", { type: "button", class: "secondary", id: sid + "-down", disabled: i === list.length - 1,
        "aria-label": "Move step " + n + " down", on: { click: move(1) } }, "↓ Down"),
      el("button", { type: "button", class: "danger", id: sid + "-remove", "aria-label": "Remove step " + n,
        on: { click: function () {
          list.splice(i, 1); B.modes = {}; B.render(); B.changed();
          var add = document.getElementById(addIds(listPath).select);
          if (add) add.focus();
        } } }, "Remove"));
  }

  function ifNotFound(step, path, operation) {
    var id = B.stepId(path) + "-if-not-found";
    if (!step.if_not_found) step.if_not_found = "halt";
    return el("div", null, el("label", { for: id, text: "If nothing is found" }),
      el("select", { id: id, "data-path": path + ".if_not_found",
        on: { change: function (e) { step.if_not_found = e.target.value; B.changed(); } } },
        el("option", { value: "halt", selected: step.if_not_found === "halt", text: "Stop the run" }),
        el("option", { value: "continue", selected: step.if_not_found === "continue", text: "Go on with an empty result" })),
      el("p", { class: "help muted", text: operation.nothing_found }),
      B.errorList(path + ".if_not_found"));
  }

  // "If this step fails": stop (the default), go on, or run other steps first.
  function onError(step, path, ctx) {
    var id = B.stepId(path) + "-on-error", value = step.on_error || "stop";
    var choices = [["stop", "Stop the run (it fails)"],
      ["continue", "Go on with the next step (the error is kept for later steps)"]];
    if (ctx.depth < MAX_DEPTH || value === "fallback") choices.push(["fallback", "Run other steps instead, then go on"]);
    var select = el("select", { id: id, "data-path": path + ".on_error", "aria-describedby": id + "-help",
      on: { change: function (e) {
        if (e.target.value === "stop") delete step.on_error; else step.on_error = e.target.value;
        if (e.target.value === "fallback") { if (!Array.isArray(step.fallback)) step.fallback = []; } else delete step.fallback;
        B.render(); B.changed();
        document.getElementById(id).focus();
      } } });
    choices.forEach(function (c) { select.appendChild(el("option", { value: c[0], selected: c[0] === value, text: c[1] })); });
    var box = el("div", { class: "on-error" }, el("label", { for: id, text: "If this step fails" }), select,
      el("p", { class: "help muted", id: id + "-help", text: value === "continue"
        ? "Later steps can read the failure as steps." + (step.key || "key") + ".error."
        : value === "fallback" ? "The steps below run with the failure as Error values (Insert a value), then the run goes on."
        : "The run fails here and you are told." }),
      B.errorList(path + ".on_error"), B.errorList(path + ".fallback"));
    if (value === "fallback") {
      if (!Array.isArray(step.fallback)) step.fallback = [];
      box.appendChild(B.stepList(step.fallback, path + ".fallback", { depth: ctx.depth + 1, inLoop: ctx.inLoop },
        "Instead, run these steps"));
    }
    return box;
  }

  function stepTitle(step, path) {
    var kind = B.kindOf(step), operation = B.cat.operations[step.operation] || null;
    var label = kind !== "operation" ? KIND_LABELS[kind] : operation ? operation.label : "Unknown (" + step.operation + ")";
    return "Step " + B.stepNumber(path) + ": " + label;
  }

  B.stepCard = function (list, i, listPath, ctx) {
    var step = list[i], path = listPath + "[" + i + "]", sid = B.stepId(path), kind = B.kindOf(step);
    var operation = kind === "operation" ? B.cat.operations[step.operation] || null : null;
    var key = el("input", { id: sid + "-key", "data-path": path + ".key", value: step.key || "", autocomplete: "off",
      "aria-describedby": sid + "-key-help", on: { input: function (e) { step.key = e.target.value; B.changed(); } } });
    var card = el("section", { class: "card step step-" + kind, id: sid, role: "listitem", "data-path": path,
        "data-kind": operation ? operation.kind : kind, "aria-labelledby": sid + "-title" },
      el("div", { class: "step-head" }, el("h2", { id: sid + "-title", tabindex: "-1", text: stepTitle(step, path) }),
        stepButtons(list, i, listPath)),
      operation ? el("p", { class: "muted", text: operation.description }) : null,
      B.errorList(path), B.errorList(path + ".operation"),
      el("label", { for: sid + "-key", text: "Step key" }), key,
      el("p", { class: "help muted", id: sid + "-key-help", text: "Later steps read this step's result as steps." + (step.key || "key") + "." }),
      B.errorList(path + ".key"));
    if (kind === "filter") card.appendChild(B.filterEditor(step.filter, path + ".filter", path));
    else if (kind !== "operation") card.appendChild(B.flowEditor(kind, step, path, ctx));
    else if (operation) {
      if (operation.kind === "search") card.appendChild(ifNotFound(step, path, operation));
      card.appendChild(B.errorList(path + ".fields"));
      operation.fields.forEach(function (f) { card.appendChild(B.fieldRow(step, path, f)); });
      card.appendChild(onError(step, path, ctx));
      card.appendChild(B.stepTest(step, path));
    }
    return card;
  };

  // --- lists and "Add a step" -------------------------------------------------------------------
  function addIds(listPath) {
    if (listPath === "steps") return { select: "add-step-operation", button: "add-step" };
    var suffix = B.listId(listPath);
    return { select: "add-step-operation-" + suffix, button: "add-step-" + suffix };
  }

  function newStep(choice) {
    if (choice === "filter") return { key: newKey("only_if"), filter: { match: "all", conditions: [{ field: "", operator: "equals", value: "" }] } };
    if (choice === "loop") return { key: newKey("for_each"), loop: { over: "" }, steps: [] };
    if (choice === "delay") return { key: newKey("wait"), delay: { for: { amount: 1, unit: "hours" } } };
    if (choice === "paths") {
      var branch = function (n) { return { label: "Path " + n, match: "all", conditions: [{ field: "", operator: "equals", value: "" }], steps: [] }; };
      return { key: newKey("paths"), paths: { run: "first", branches: [branch(1), branch(2)] } };
    }
    var operation = B.cat.operations[choice];
    var step = { key: newKey(operation.noun.toLowerCase().replace(/[^a-z0-9]+/g, "_")), operation: choice, fields: {} };
    if (operation.kind === "search") step.if_not_found = "halt";
    return step;
  }

  function addControls(list, listPath, ctx) {
    var ids = addIds(listPath);
    var select = el("select", { id: ids.select });
    ["action", "search"].forEach(function (kind) {
      var group = el("optgroup", { label: kind === "action" ? "Actions: do something" : "Searches: look something up" });
      Object.keys(B.cat.operations).forEach(function (k) {
        var o = B.cat.operations[k];
        if (o.kind === kind) group.appendChild(el("option", { value: o.key, text: o.label }));
      });
      select.appendChild(group);
    });
    var flow = el("optgroup", { label: "Decide, repeat, wait" },
      el("option", { value: "filter", text: "Filter: only go on if…" }));
    if (!ctx.inLoop && ctx.depth < MAX_DEPTH) flow.appendChild(el("option", { value: "loop", text: "For each: repeat steps for every item of a list" }));
    if (ctx.depth < MAX_DEPTH) flow.appendChild(el("option", { value: "paths", text: "Paths: take a different way depending on the data" }));
    flow.appendChild(el("option", { value: "delay", text: "Delay: wait before going on" }));
    select.appendChild(flow);
    return el("div", { class: "add-step" },
      el("label", { for: ids.select, text: listPath === "steps" ? "Add a step" : "Add a step here" }), select,
      el("button", { type: "button", class: "secondary", id: ids.button, on: { click: function () {
        list.push(newStep(select.value));
        B.render(); B.changed();
        focusTitle(listPath + "[" + (list.length - 1) + "]");
      } } }, "Add step"));
  }

  // A list of steps at `listPath` with its own "Add a step"; ctx: {depth, inLoop}.
  B.stepList = function (list, listPath, ctx, heading) {
    var items = el("div", { class: "step-items", role: "list", "aria-label": heading || "Steps" });
    list.forEach(function (s, i) { if (s && typeof s === "object") items.appendChild(B.stepCard(list, i, listPath, ctx)); });
    return el("div", { class: "step-list" + (ctx.depth > 1 ? " nested" : ""), "data-list-path": listPath },
      heading ? el("h3", { class: "list-heading", text: heading }) : null,
      items, B.errorList(listPath), addControls(list, listPath, ctx));
  };
})(window.CartlyBuilder = window.CartlyBuilder || {});
