/* The recipe builder: edits a draft recipe document kept in the hidden #id_document field.
 *
 * The server does the real work: /recipes/preview/ renders every field against sample data
 * (and returns the picker's trees), /recipes/validate/ lists the document's problems by path.
 * This script only draws the steps, keeps the draft in step with the boxes, and shows answers.
 */
(function () {
  "use strict";
  var dataEl = document.getElementById("builder-data");
  var form = document.getElementById("builder-form");
  if (!dataEl || !form) return;
  var data = JSON.parse(dataEl.textContent);
  var cat = data.catalogue;
  var doc = data.document;
  var preview = data.preview;
  var hidden = document.getElementById("id_document");
  var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var cursors = new WeakMap(); // box -> last caret position, kept while a picker has focus
  var DEBOUNCE_MS = 350;
  var timer = null;
  var sequence = 0;

  // --- small helpers -----------------------------------------------------------------------
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "on") Object.keys(value).forEach(function (ev) { node.addEventListener(ev, value[ev]); });
      else node.setAttribute(key, value === true ? "" : value);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function idFor(path) { return "f-" + path.replace(/[\[\].]+/g, "-").replace(/-+$/, ""); }
  function parentPath(path) {
    var m = path.match(/^(.*)(\.[^.\[\]]+|\[\d+\])$/);
    return m ? m[1] : "";
  }
  function op(key) { return cat.operations[key] || null; }
  function operator(key) {
    for (var i = 0; i < cat.operators.length; i++) if (cat.operators[i].key === key) return cat.operators[i];
    return null;
  }
  function steps() { if (!Array.isArray(doc.steps)) doc.steps = []; return doc.steps; }
  function errorList(path, id) {
    return el("ul", { class: "errorlist", id: id || null, "data-problems-for": path });
  }

  // --- talking to the server ---------------------------------------------------------------
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }
  function changed() {
    hidden.value = JSON.stringify(doc);
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  }
  function refresh() {
    var mine = ++sequence;
    var status = document.getElementById("check-status");
    status.textContent = "Checking…";
    Promise.all([post(data.urls.preview, { document: doc }), post(data.urls.validate, { document: doc })])
      .then(function (answers) {
        if (mine !== sequence) return; // a newer edit is on its way
        preview = answers[0];
        applyPreview();
        showProblems(answers[1].problems);
        var n = answers[1].problems.length;
        status.textContent = n ? n + " problem" + (n === 1 ? "" : "s") + " to fix before saving." : "No problems found.";
      })
      .catch(function () { if (mine === sequence) status.textContent = "Could not check the recipe just now."; });
  }

  // --- problems, previews ------------------------------------------------------------------
  function showProblems(problems) {
    document.querySelectorAll("[data-problems-for]").forEach(function (list) {
      if (list.id !== "problems-general") list.textContent = "";
    });
    document.querySelectorAll("[aria-invalid]").forEach(function (box) { box.removeAttribute("aria-invalid"); });
    var general = document.getElementById("problems-general");
    general.textContent = "";
    problems.forEach(function (p) {
      var path = p.path, target = null;
      while (true) {
        target = document.querySelector('ul[data-problems-for="' + CSS.escape(path) + '"]');
        if (target || path === "") break;
        path = parentPath(path);
      }
      if (!target) {
        if (!general.firstChild) general.appendChild(el("ul", { class: "errorlist", id: "problem-list" }));
        target = general.firstChild;
      }
      var where = path === p.path ? "" : p.path + ": ";
      target.appendChild(el("li", { "data-path": p.path }, where + p.message));
      var box = document.querySelector('[data-path="' + CSS.escape(p.path) + '"]');
      if (box && box.matches("input, textarea, select")) box.setAttribute("aria-invalid", "true");
    });
  }
  function applyPreview() {
    document.querySelectorAll("[data-preview-for]").forEach(function (out) {
      var path = out.getAttribute("data-preview-for");
      var answer = preview.fields[path] || preview.filters[path];
      out.classList.remove("bad", "ok");
      if (!answer) { out.textContent = ""; return; }
      if (answer.error) { out.classList.add("bad"); out.textContent = answer.error; return; }
      if ("passed" in answer) {
        out.classList.add(answer.passed ? "ok" : "bad");
        out.textContent = (answer.passed ? "With the sample: passes. " : "With the sample: stops. ") + answer.reason;
        return;
      }
      out.textContent = answer.note || ("Preview: " + (answer.value === "" ? "(empty)" : answer.value));
    });
    var sample = document.getElementById("trigger-sample-tree");
    sample.textContent = "";
    if (preview.sources.trigger) sample.appendChild(sampleTree(preview.sources.trigger));
    document.querySelectorAll("details.picker[open]").forEach(fillPicker);
  }

  // --- trees: the trigger's sample, and the picker ------------------------------------------
  function sampleTree(node) {
    if (!node.children) {
      return el("li", null, el("span", { class: "tree-label", text: node.label + ": " }),
        el("code", { text: node.example }), " ", el("span", { class: "muted", text: node.path }));
    }
    var list = el("ul", { class: "tree" });
    node.children.forEach(function (c) { list.appendChild(sampleTree(c)); });
    var branch = el("details", { open: node.path === "trigger" }, el("summary", { text: node.label }), list);
    return node.path === "trigger" ? branch : el("li", null, branch);
  }
  function pickButton(node, box, whole) {
    var text = whole ? "All of " + node.label : node.label;
    return el("button", {
      type: "button", class: "pick", "data-ref": node.ref, "data-path": node.path,
      title: box.classList.contains("path-box") ? node.path : "{{ " + node.ref + " }}",
      on: { click: function () { insert(box, node); } }
    }, text, whole ? null : el("span", { class: "example", text: node.example }));
  }
  function pickerTree(node, box) {
    var list = el("ul", { class: "tree" });
    if (!node.children) return el("li", null, pickButton(node, box, false));
    list.appendChild(el("li", null, pickButton(node, box, true)));
    node.children.forEach(function (c) { list.appendChild(pickerTree(c, box)); });
    return el("li", null, el("details", null, el("summary", { text: node.label }), list));
  }
  function fillPicker(details) {
    var box = document.getElementById(details.getAttribute("data-box"));
    var ids = preview.pickers[details.getAttribute("data-scope")] || [];
    var body = details.querySelector(".picker-tree");
    body.textContent = "";
    var list = el("ul", { class: "tree", role: "group" });
    ids.forEach(function (id) {
      var li = pickerTree(preview.sources[id], box);
      li.querySelector("details").open = true;
      list.appendChild(li);
    });
    body.appendChild(ids.length ? list : el("p", { class: "muted", text: "Choose a trigger first." }));
  }
  function picker(box, scope, label) {
    var details = el("details", { class: "picker", id: box.id + "-picker", "data-box": box.id, "data-scope": scope },
      el("summary", { text: "Insert a value" }),
      el("div", { class: "picker-tree", role: "region", "aria-label": "Values to insert into " + label }));
    details.addEventListener("toggle", function () { if (details.open) fillPicker(details); });
    return details;
  }
  function remember(box) {
    var save = function () { cursors.set(box, { start: box.selectionStart, end: box.selectionEnd }); };
    ["keyup", "click", "select", "blur", "input"].forEach(function (ev) { box.addEventListener(ev, save); });
  }
  function insert(box, node) {
    if (box.classList.contains("path-box")) {
      box.value = node.path;
    } else {
      var text = "{{ " + node.ref + " }}";
      var at = cursors.get(box) || { start: box.value.length, end: box.value.length };
      box.value = box.value.slice(0, at.start) + text + box.value.slice(at.end);
      var caret = at.start + text.length;
      cursors.set(box, { start: caret, end: caret });
    }
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
    var end = cursors.get(box);
    if (end && !box.classList.contains("path-box")) box.setSelectionRange(end.start, end.end);
  }

  // --- filters (the recipe's own and filter steps) -----------------------------------------
  function conditionRow(spec, path, j, scope) {
    var cond = spec.conditions[j], cpath = path + ".conditions[" + j + "]", id = idFor(cpath);
    var field = el("input", { id: id + "-field", class: "path-box", "data-path": cpath + ".field", value: cond.field || "",
      placeholder: "e.g. trigger.total_price", "aria-describedby": id + "-errors", autocomplete: "off",
      on: { input: function (e) { cond.field = e.target.value; changed(); } } });
    var select = el("select", { id: id + "-operator", "data-path": cpath + ".operator",
      on: { change: function (e) {
        cond.operator = e.target.value;
        var takes = (operator(cond.operator) || {}).takes_value;
        value.hidden = valueLabel.hidden = !takes;
        if (!takes) delete cond.value;
        changed();
      } } });
    cat.operators.forEach(function (o) {
      select.appendChild(el("option", { value: o.key, selected: o.key === cond.operator, text: o.label }));
    });
    var takes = (operator(cond.operator) || { takes_value: true }).takes_value;
    var valueLabel = el("label", { for: id + "-value", hidden: !takes, text: "Value" });
    var value = el("input", { id: id + "-value", "data-path": cpath + ".value", value: cond.value === undefined ? "" : cond.value,
      hidden: !takes, autocomplete: "off", on: { input: function (e) { cond.value = e.target.value; changed(); } } });
    remember(field);
    return el("fieldset", { class: "condition", id: id, "data-path": cpath },
      el("legend", { text: "Condition " + (j + 1) }),
      el("div", { class: "condition-grid" },
        el("div", null, el("label", { for: id + "-field", text: "Field" }), field, picker(field, scope, "condition " + (j + 1))),
        el("div", null, el("label", { for: id + "-operator", text: "Operator" }), select),
        el("div", null, valueLabel, value)),
      errorList(cpath + ".field"), errorList(cpath, id + "-errors"),
      el("button", { type: "button", class: "secondary", id: id + "-remove", "aria-label": "Remove condition " + (j + 1),
        on: { click: function () { spec.conditions.splice(j, 1); render(); changed(); } } }, "Remove condition"));
  }
  function filterEditor(spec, path, scope) {
    var id = idFor(path);
    if (!Array.isArray(spec.conditions)) spec.conditions = [];
    var match = el("select", { id: id + "-match", "data-path": path + ".match",
      on: { change: function (e) { spec.match = e.target.value; changed(); } } },
      el("option", { value: "all", selected: spec.match !== "any", text: "all conditions pass" }),
      el("option", { value: "any", selected: spec.match === "any", text: "any condition passes" }));
    var box = el("div", { class: "filter", id: id },
      el("label", { for: id + "-match", text: "Go on when" }), match,
      errorList(path), errorList(path + ".match"), errorList(path + ".conditions"));
    spec.conditions.forEach(function (_, j) { box.appendChild(conditionRow(spec, path, j, scope)); });
    box.appendChild(el("button", { type: "button", class: "secondary", id: id + "-add-condition",
      on: { click: function () {
        spec.conditions.push({ field: "", operator: "equals", value: "" }); render(); changed();
        document.getElementById(idFor(path + ".conditions[" + (spec.conditions.length - 1) + "]") + "-field").focus();
      } } }, "Add condition"));
    box.appendChild(el("output", { class: "preview", id: id + "-preview", "data-preview-for": path, "aria-live": "polite" }));
    return box;
  }

  // --- steps -------------------------------------------------------------------------------
  function fieldRow(step, i, f) {
    var path = "steps[" + i + "].fields." + f.key, id = idFor(path);
    if (!step.fields || typeof step.fields !== "object") step.fields = {};
    var hints = [f.help, f.choices.length ? "One of: " + f.choices.join(", ") + "." : "",
      f.default ? "Default: " + f.default + "." : ""].filter(Boolean).join(" ");
    var box = el(f.multiline ? "textarea" : "input", { id: id, class: "template-box", "data-path": path,
      rows: f.multiline ? 3 : null, autocomplete: "off", "aria-required": f.required ? "true" : null,
      "aria-describedby": (hints ? id + "-help " : "") + id + "-errors " + id + "-preview",
      on: { input: function (e) {
        if (e.target.value === "") delete step.fields[f.key]; else step.fields[f.key] = e.target.value;
        changed();
      } } });
    box.value = step.fields[f.key] || "";
    remember(box);
    return el("div", { class: "field-row" },
      el("div", { class: "field-box" },
        el("label", { for: id }, f.label, f.required ? el("span", { class: "required", title: "required" }, " *") : null,
          f.required ? el("span", { class: "sr-only", text: " (required)" }) : null),
        box,
        hints ? el("p", { class: "help muted", id: id + "-help", text: hints }) : null,
        errorList(path, id + "-errors"),
        el("output", { class: "preview", id: id + "-preview", for: id, "data-preview-for": path, "aria-live": "polite" })),
      picker(box, "steps[" + i + "]", f.label));
  }
  function stepButtons(i, count) {
    function move(delta) {
      return function () {
        var list = steps(), s = list.splice(i, 1)[0];
        list.splice(i + delta, 0, s); render(); changed();
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
        on: { click: function () { steps().splice(i, 1); render(); changed(); document.getElementById("add-step-operation").focus(); } } }, "Remove"));
  }
  function stepCard(step, i, count) {
    var path = "steps[" + i + "]", operation = op(step.operation), isFilter = "filter" in step;
    var title = "Step " + (i + 1) + ": " + (isFilter ? "Filter" : operation ? operation.label : "Unknown (" + step.operation + ")");
    var key = el("input", { id: "step-" + i + "-key", "data-path": path + ".key", value: step.key || "", autocomplete: "off",
      "aria-describedby": "step-" + i + "-key-help", on: { input: function (e) { step.key = e.target.value; changed(); } } });
    var card = el("section", { class: "card step", id: "step-" + i, role: "listitem", "data-path": path,
        "data-kind": isFilter ? "filter" : operation ? operation.kind : "unknown", "aria-labelledby": "step-" + i + "-title" },
      el("div", { class: "step-head" }, el("h2", { id: "step-" + i + "-title", tabindex: "-1", text: title }), stepButtons(i, count)),
      operation ? el("p", { class: "muted", text: operation.description }) : null,
      errorList(path), errorList(path + ".operation"),
      el("label", { for: "step-" + i + "-key", text: "Step key" }), key,
      el("p", { class: "help muted", id: "step-" + i + "-key-help", text: "Later steps read this step's result as steps." + (step.key || "key") + "." }),
      errorList(path + ".key"));
    if (isFilter) {
      card.appendChild(filterEditor(step.filter, path + ".filter", path));
    } else if (operation) {
      if (operation.kind === "search") card.appendChild(ifNotFound(step, i, operation));
      card.appendChild(errorList(path + ".fields"));
      operation.fields.forEach(function (f) { card.appendChild(fieldRow(step, i, f)); });
    }
    return card;
  }
  function ifNotFound(step, i, operation) {
    var id = "step-" + i + "-if-not-found";
    if (!step.if_not_found) step.if_not_found = "halt";
    return el("div", null, el("label", { for: id, text: "If nothing is found" }),
      el("select", { id: id, "data-path": "steps[" + i + "].if_not_found",
        on: { change: function (e) { step.if_not_found = e.target.value; changed(); } } },
        el("option", { value: "halt", selected: step.if_not_found === "halt", text: "Stop the run" }),
        el("option", { value: "continue", selected: step.if_not_found === "continue", text: "Go on with an empty result" })),
      el("p", { class: "help muted", text: operation.nothing_found }),
      errorList("steps[" + i + "].if_not_found"));
  }
  function newKey(base) {
    var taken = steps().map(function (s) { return s.key; }), key = base, n = 2;
    while (taken.indexOf(key) >= 0) key = base + "_" + n++;
    return key;
  }
  function addStep() {
    var choice = document.getElementById("add-step-operation").value;
    if (choice === "filter") {
      steps().push({ key: newKey("only_if"), filter: { match: "all", conditions: [{ field: "", operator: "equals", value: "" }] } });
    } else {
      var operation = op(choice);
      var step = { key: newKey(operation.noun.toLowerCase().replace(/[^a-z0-9]+/g, "_")), operation: choice, fields: {} };
      if (operation.kind === "search") step.if_not_found = "halt";
      steps().push(step);
    }
    render(); changed();
    document.getElementById("step-" + (steps().length - 1) + "-title").focus();
  }

  // --- the page ----------------------------------------------------------------------------
  function render() {
    if (!doc.filter || typeof doc.filter !== "object") doc.filter = { match: "all", conditions: [] };
    var filter = document.getElementById("filter-editor");
    filter.textContent = "";
    filter.appendChild(filterEditor(doc.filter, "filter", "filter"));
    var list = document.getElementById("steps");
    list.textContent = "";
    steps().forEach(function (s, i) { list.appendChild(stepCard(s, i, steps().length)); });
    applyPreview();
  }
  function fillAddStep() {
    var select = document.getElementById("add-step-operation");
    ["action", "search"].forEach(function (kind) {
      var group = el("optgroup", { label: kind === "action" ? "Actions: do something" : "Searches: look something up" });
      Object.keys(cat.operations).forEach(function (k) {
        var o = cat.operations[k];
        if (o.kind === kind) group.appendChild(el("option", { value: o.key, text: o.label }));
      });
      select.appendChild(group);
    });
    select.appendChild(el("optgroup", { label: "Filters" }, el("option", { value: "filter", text: "Filter: only go on if…" })));
  }
  // What a person typed before this script ran (or a browser restored) must not be lost.
  function syncBasics() {
    doc.name = document.getElementById("id_name").value;
    doc.mode = document.getElementById("id_mode").value;
    doc.trigger = document.getElementById("id_trigger").value;
  }
  function bindBasics() {
    document.getElementById("id_name").addEventListener("input", function (e) { doc.name = e.target.value; changed(); });
    document.getElementById("id_mode").addEventListener("change", function (e) { doc.mode = e.target.value; changed(); });
    document.getElementById("id_trigger").addEventListener("change", function (e) {
      doc.trigger = e.target.value;
      var t = cat.triggers.filter(function (x) { return x.key === doc.trigger; })[0];
      document.getElementById("trigger-description").textContent = t ? t.description : "";
      changed();
    });
    document.getElementById("add-step").addEventListener("click", addStep);
    var check = document.getElementById("check-recipe");
    check.hidden = false;
    check.addEventListener("click", refresh);
    form.addEventListener("submit", function () { syncBasics(); hidden.value = JSON.stringify(doc); });
  }

  document.getElementById("builder-editor").hidden = false;
  document.getElementById("recipe-summary").hidden = true;
  fillAddStep();
  syncBasics();
  bindBasics();
  render();
  showProblems(data.problems);
  if (data.problems.length) {
    document.getElementById("check-status").textContent = "Not saved: " + data.problems.length +
      " problem" + (data.problems.length === 1 ? "" : "s") + " to fix, shown next to each part.";
  }
  hidden.value = JSON.stringify(doc);
})();
