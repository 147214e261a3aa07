/* The recipe builder, part 7 of 9: the steps that decide, repeat or wait: For each (the list
 * comes from the trigger's or a search's lists, offered by the server's preview), Paths
 * (branches side by side, each with conditions like a filter, plus "Otherwise") and Delay
 * (a while, or until a date and time picked or taken from the data).
 */
(function (B) {
  "use strict";
  var el = B.el;
  var UNITS = [["minutes", "minutes"], ["hours", "hours"], ["days", "days"]];
  var OTHER = "__other__";

  function number(text) { return /^\s*\d+(\.\d+)?\s*$/.test(text) ? parseFloat(text) : text; }
  function whole(text) { return /^\s*\d+\s*$/.test(text) ? parseInt(text, 10) : text; }

  // --- For each -------------------------------------------------------------------------------
  // The lists the loop at `path` may go over, as the last preview found them.
  B.fillLists = function (select) {
    var path = select.getAttribute("data-lists-for"), spec = select.loopSpec;
    var choices = (B.preview.lists || {})[path] || [], over = spec.over || "";
    var known = choices.some(function (c) { return c.path === over; });
    select.textContent = "";
    select.appendChild(el("option", { value: "", text: choices.length ? "Choose a list…" : "No list in the data yet", selected: !over }));
    choices.forEach(function (c) {
      select.appendChild(el("option", { value: c.path, selected: c.path === over,
        text: c.label + " (" + c.count + " in the sample)" }));
    });
    select.appendChild(el("option", { value: OTHER, selected: !!over && !known, text: "Another list: type its path" }));
    select.otherBox.hidden = !(over && !known) && select.value !== OTHER;
  };
  B.refreshLists = function () { document.querySelectorAll("select[data-lists-for]").forEach(B.fillLists); };

  function loopEditor(step, path, ctx) {
    if (!step.loop || typeof step.loop !== "object") step.loop = { over: "" };
    if (!Array.isArray(step.steps)) step.steps = [];
    var spec = step.loop, id = B.idFor(path + ".loop");
    var other = el("input", { id: id + "-over-path", class: "path-box", "data-path": path + ".loop.over", value: spec.over || "",
      placeholder: "e.g. trigger.line_items", autocomplete: "off", "aria-label": "Path of the list",
      on: { input: function (e) { spec.over = e.target.value.trim(); B.changed(); } } });
    var select = el("select", { id: id + "-over", "data-lists-for": path, "data-path": path + ".loop.over",
      "aria-describedby": id + "-over-help " + id + "-over-preview",
      on: { change: function (e) {
        if (e.target.value === OTHER) { other.hidden = false; other.focus(); return; }
        spec.over = e.target.value; other.value = spec.over; other.hidden = true; B.changed();
      } } });
    select.loopSpec = spec;
    select.otherBox = other;
    B.fillLists(select);
    var max = el("input", { id: id + "-max", type: "number", min: "1", step: "1", inputmode: "numeric",
      "data-path": path + ".loop.max_items", value: spec.max_items === undefined ? "" : spec.max_items, placeholder: "100",
      on: { input: function (e) {
        if (e.target.value === "") delete spec.max_items; else spec.max_items = whole(e.target.value);
        B.changed();
      } } });
    return el("div", { class: "flow loop" },
      el("label", { for: id + "-over", text: "For each item of" }), select, other,
      el("p", { class: "help muted", id: id + "-over-help", text: "The steps below run once per item; they use its values as Item (Insert a value)." }),
      B.errorList(path + ".loop"), B.errorList(path + ".loop.over"),
      el("output", { class: "preview", id: id + "-over-preview", "data-preview-for": path + ".loop.over", "aria-live": "polite" }),
      el("label", { for: id + "-max", text: "At most this many items" }), max,
      B.errorList(path + ".loop.max_items"), B.errorList(path + ".steps"),
      B.stepList(step.steps, path + ".steps", { depth: ctx.depth + 1, inLoop: true }, "For each item, do"));
  }

  // --- Paths ----------------------------------------------------------------------------------
  function branchCard(spec, j, path, ctx) {
    var branch = spec.branches[j], bpath = path + ".paths.branches[" + j + "]", id = B.idFor(bpath);
    if (!Array.isArray(branch.steps)) branch.steps = [];
    var title = el("h3", { id: id + "-title", text: branch.label || "Path " + (j + 1) });
    return el("section", { class: "branch", id: id, "data-path": bpath, "aria-labelledby": id + "-title" },
      el("div", { class: "step-head" }, title,
        el("button", { type: "button", class: "danger", id: id + "-remove", "aria-label": "Remove path " + (j + 1),
          on: { click: function () { spec.branches.splice(j, 1); B.modes = {}; B.render(); B.changed(); } } }, "Remove path")),
      el("label", { for: id + "-label", text: "Name of this path" }),
      el("input", { id: id + "-label", "data-path": bpath + ".label", value: branch.label || "", autocomplete: "off",
        on: { input: function (e) {
          branch.label = e.target.value; title.textContent = branch.label || "Path " + (j + 1); B.changed();
        } } }),
      B.errorList(bpath + ".label"), B.errorList(bpath + ".steps"),
      B.filterEditor(branch, bpath, path, "Take this path when"),
      B.stepList(branch.steps, bpath + ".steps", { depth: ctx.depth + 1, inLoop: ctx.inLoop }, "Then do"));
  }

  function otherwiseCard(spec, path, ctx) {
    var opath = path + ".paths.otherwise", id = B.idFor(opath), on = Array.isArray(spec.otherwise);
    var toggle = B.switchButton({ id: id + "-switch", on: { click: function () {
      if (on) delete spec.otherwise; else spec.otherwise = [];
      B.render(); B.changed();
      document.getElementById(id + "-switch").focus();
    } } }, on, "Otherwise: on", "Otherwise: off");
    var box = el("section", { class: "branch otherwise", id: id, "aria-labelledby": id + "-title" },
      el("h3", { id: id + "-title", text: "Otherwise" }),
      el("p", { class: "help muted", text: "When no path matches." }), toggle, B.errorList(opath));
    if (on) box.appendChild(B.stepList(spec.otherwise, opath, { depth: ctx.depth + 1, inLoop: ctx.inLoop }, "Then do"));
    return box;
  }

  function pathsEditor(step, path, ctx) {
    if (!step.paths || typeof step.paths !== "object") step.paths = { run: "first", branches: [] };
    var spec = step.paths, id = B.idFor(path + ".paths");
    if (!Array.isArray(spec.branches)) spec.branches = [];
    var run = el("select", { id: id + "-run", "data-path": path + ".paths.run",
      on: { change: function (e) { spec.run = e.target.value; B.changed(); } } },
      el("option", { value: "first", selected: spec.run !== "all", text: "only the first path that matches" }),
      el("option", { value: "all", selected: spec.run === "all", text: "every path that matches" }));
    var branches = el("div", { class: "branches", role: "group", "aria-label": "Paths" });
    spec.branches.forEach(function (b, j) { if (b && typeof b === "object") branches.appendChild(branchCard(spec, j, path, ctx)); });
    branches.appendChild(otherwiseCard(spec, path, ctx));
    return el("div", { class: "flow paths" },
      el("label", { for: id + "-run", text: "Run" }), run,
      B.errorList(path + ".paths"), B.errorList(path + ".paths.run"), B.errorList(path + ".paths.branches"),
      branches,
      el("button", { type: "button", class: "secondary", id: id + "-add-branch", on: { click: function () {
        var n = spec.branches.length + 1;
        spec.branches.push({ label: "Path " + n, match: "all", conditions: [{ field: "", operator: "equals", value: "" }], steps: [] });
        B.render(); B.changed();
        document.getElementById(B.idFor(path + ".paths.branches[" + (n - 1) + "]") + "-label").focus();
      } } }, "Add a path"));
  }

  // --- Delay ----------------------------------------------------------------------------------
  var UNTIL = { key: "until", label: "Wait until", type: "datetime", required: true, choices: [], default: "",
    help: "Pick a date and time, or use one from the data (e.g. a date in the trigger).", multiline: false };

  function delayEditor(step, path) {
    if (!step.delay || typeof step.delay !== "object") step.delay = { for: { amount: 1, unit: "hours" } };
    var spec = step.delay, id = B.idFor(path + ".delay"), until = "until" in spec;
    function mode(value, text) {
      return el("label", { class: "choice" }, el("input", { type: "radio", name: id + "-mode", id: id + "-mode-" + value,
        value: value, checked: (value === "until") === until, on: { change: function () {
          step.delay = value === "until" ? { until: "" } : { for: { amount: 1, unit: "hours" } };
          B.modes = {}; B.render(); B.changed();
          document.getElementById(id + "-mode-" + value).focus();
        } } }), " " + text);
    }
    var box = el("div", { class: "flow delay" },
      el("fieldset", null, el("legend", { text: "Wait" }), mode("for", "for a while"), mode("until", "until a date and time")),
      B.errorList(path + ".delay"));
    if (until) {
      box.appendChild(B.valueRow(spec, path + ".delay.until", path, UNTIL, true));
    } else {
      if (!spec.for || typeof spec.for !== "object") spec.for = { amount: 1, unit: "hours" };
      var wait = spec.for;
      var unit = el("select", { id: id + "-unit", "data-path": path + ".delay.for.unit",
        on: { change: function (e) { wait.unit = e.target.value; B.changed(); } } });
      UNITS.forEach(function (u) { unit.appendChild(el("option", { value: u[0], selected: (wait.unit || "minutes") === u[0], text: u[1] })); });
      box.appendChild(el("div", { class: "delay-for" },
        el("div", null, el("label", { for: id + "-amount", text: "How long" }),
          el("input", { id: id + "-amount", type: "number", min: "0", step: "any", inputmode: "decimal",
            "data-path": path + ".delay.for.amount", value: wait.amount === undefined ? "" : wait.amount,
            on: { input: function (e) { wait.amount = number(e.target.value); B.changed(); } } })),
        el("div", null, el("label", { for: id + "-unit", text: "Unit" }), unit)));
      box.appendChild(B.errorList(path + ".delay.for"));
      box.appendChild(B.errorList(path + ".delay.for.amount"));
      box.appendChild(B.errorList(path + ".delay.for.unit"));
    }
    box.appendChild(el("p", { class: "help muted", text: "The run waits in the database and goes on by itself (at most 30 days); you can cancel it on its run page." }));
    return box;
  }

  B.flowEditor = function (kind, step, path, ctx) {
    if (kind === "loop") return loopEditor(step, path, ctx);
    if (kind === "paths") return pathsEditor(step, path, ctx);
    return delayEditor(step, path);
  };
})(window.CartlyBuilder = window.CartlyBuilder || {});
