/* The recipe builder, part 4 of 9: one input field of a step, typed by its declaration.
 *
 * Choices are selects, yes/no a switch, times a date-time picker (in the merchant's time zone),
 * numbers and amounts number boxes. Any of them can instead "use a value from the trigger or an
 * earlier step": then, like text fields, the value is typed text mixed with value pills, and
 * "Edit as template" shows the raw template. The field's mode is remembered per path.
 */
(function (B) {
  "use strict";
  var el = B.el;
  var TYPED = { choice: 1, boolean: 1, datetime: 1, integer: 1, decimal: 1 };
  var TRUE_WORDS = ["yes", "y", "true", "t", "1", "on"], FALSE_WORDS = ["no", "n", "false", "f", "0", "off"];
  B.modes = {}; // path → "typed" | "pills" | "raw", once the merchant has switched

  function words(key) { var t = key.replace(/_/g, " "); return t.charAt(0).toUpperCase() + t.slice(1); }
  function asBoolean(text) {
    var w = String(text).trim().toLowerCase();
    return TRUE_WORDS.indexOf(w) >= 0 ? true : FALSE_WORDS.indexOf(w) >= 0 ? false : null;
  }

  // --- times in the merchant's zone (B.timeZone) ---------------------------------------------
  function offsetMinutes(instant, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(instant).forEach(function (p) { parts[p.type] = p.value; });
    var wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
    return Math.round((wall - instant.getTime()) / 60000);
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // "2026-11-28T10:00" picked in the zone → "2026-11-28T10:00:00+01:00".
  B.wallToIso = function (wall, zone) {
    var m = wall.match(/^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?$/);
    if (!m) return "";
    var asUtc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    var offset = offsetMinutes(new Date(asUtc - offsetMinutes(new Date(asUtc), zone) * 60000), zone);
    var sign = offset < 0 ? "-" : "+", abs = Math.abs(offset);
    return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":" + (m[6] || "00") +
      sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
  };
  // Any ISO time → the zone's wall clock for the picker, or null if it is not a time.
  B.isoToWall = function (iso, zone) {
    var t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) || !/T/.test(iso) ? iso : iso + "Z");
    if (isNaN(t)) return null;
    var local = new Date(t + offsetMinutes(new Date(t), zone) * 60000);
    return local.toISOString().slice(0, 19);
  };

  function fits(f, value) {
    if (f.type === "choice") return f.choices.indexOf(value) >= 0;
    if (f.type === "boolean") return asBoolean(value) !== null;
    if (f.type === "integer") return /^\s*[+-]?\d+\s*$/.test(value);
    if (f.type === "decimal") return /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(value);
    return B.isoToWall(value, B.timeZone) !== null; // datetime
  }
  function modeOf(f, path, value) {
    if (B.modes[path]) return B.modes[path];
    if (!TYPED[f.type]) return "pills";
    return value === "" || (!B.isTemplate(value) && fits(f, value)) ? "typed" : "pills";
  }

  // --- the typed controls ---------------------------------------------------------------------
  function choiceControl(f, attrs, value, set) {
    var empty = f.default ? "Default: " + words(f.default) : f.required ? "Choose…" : "(leave empty)";
    var select = el("select", Object.assign({ on: { change: function (e) { set(e.target.value); } } }, attrs),
      el("option", { value: "", text: empty }));
    f.choices.forEach(function (c) { select.appendChild(el("option", { value: c, selected: c === value, text: words(c) })); });
    return select;
  }
  function booleanControl(f, attrs, value, set) {
    var state = value === "" ? null : asBoolean(value);
    var text = state === null ? (f.default ? "Default (" + f.default + ")" : "Not set") : state ? "Yes" : "No";
    var toggle = B.switchButton(Object.assign({ on: { click: function () { set(state ? "false" : "true"); } } }, attrs),
      state === true, text, text);
    if (state === null || f.required) return toggle;
    return el("span", { class: "bool-control" }, toggle, " ", el("button", { type: "button", class: "link",
      id: attrs.id + "-clear", on: { click: function () { set(""); } } }, "Leave unchanged"));
  }
  function dateControl(f, attrs, value, set) {
    var input = el("input", Object.assign({ type: "datetime-local", step: "1", value: value ? B.isoToWall(value, B.timeZone) : "",
      on: { change: function (e) { set(e.target.value ? B.wallToIso(e.target.value, B.timeZone) : ""); } } }, attrs));
    return el("span", { class: "date-control" }, input, " ", el("span", { class: "muted", text: B.timeZone }));
  }
  function numberControl(f, attrs, value, set) {
    return el("input", Object.assign({ type: "number", step: f.type === "decimal" ? "0.01" : "1",
      inputmode: f.type === "decimal" ? "decimal" : "numeric", value: value.trim(),
      on: { input: function (e) { set(e.target.value); } } }, attrs));
  }
  var CONTROLS = { choice: choiceControl, boolean: booleanControl, datetime: dateControl, integer: numberControl,
    decimal: numberControl };

  // --- one field ------------------------------------------------------------------------------
  // One field of the step at `stepPath` ("steps[2]", "steps[1].steps[0]").
  B.fieldRow = function (step, stepPath, f) {
    if (!step.fields || typeof step.fields !== "object") step.fields = {};
    return B.valueRow(step.fields, stepPath + ".fields." + f.key, stepPath, f, false);
  };

  // Any value of the draft typed by a field declaration: `holder[f.key]`, at `path`, with the
  // values the step at `scope` may use. An emptied value is left out, or kept as "" (`keepEmpty`).
  B.valueRow = function (holder, path, scope, f, keepEmpty) {
    var id = B.idFor(path);
    var row = el("div", { class: "field-row", "data-field-path": path });
    function value() { return holder[f.key] || ""; }
    function set(v) { if (v === "" && !keepEmpty) delete holder[f.key]; else holder[f.key] = v; B.changed(); }
    function redraw(focusId) {
      draw();
      B.applyPreview();
      B.showProblems(B.problems);
      var target = document.getElementById(focusId);
      if (target) target.focus();
    }
    function switchTo(mode) {
      B.modes[path] = mode;
      if (mode === "typed" && value() && !fits(f, value())) set("");
      redraw(id);
    }
    function draw() {
      var mode = modeOf(f, path, value());
      var hints = [f.help, f.type === "choice" && mode !== "typed" ? "One of: " + f.choices.join(", ") + "." : "",
        f.default ? "Default: " + f.default + "." : ""].filter(Boolean).join(" ");
      var described = (hints ? id + "-help " : "") + id + "-errors " + id + "-preview";
      var control, picker = null, switches = el("div", { class: "mode-switches" });
      if (mode === "typed") {
        control = CONTROLS[f.type](f, { id: id, "data-path": path, "aria-describedby": described,
          "aria-required": f.required ? "true" : null }, value(), function (v) {
          set(v);
          if (f.type === "boolean") redraw(id); // the switch shows its new state
        });
        switches.appendChild(el("button", { type: "button", class: "link", id: id + "-use-value",
          on: { click: function () { switchTo("pills"); } } }, "Use a value from the trigger or an earlier step"));
      } else if (mode === "pills") {
        var editor = B.pillEditor({ id: id, path: path, value: value(), multiline: f.multiline, required: f.required,
          labelledby: id + "-label", describedby: described, onChange: set });
        control = editor.node;
        picker = B.picker(id, scope, f.label, function (node) { editor.insert(node.ref); });
      } else {
        control = el(f.multiline ? "textarea" : "input", { id: id, class: "template-box", "data-path": path,
          rows: f.multiline ? 3 : null, autocomplete: "off", spellcheck: "false", "aria-describedby": described,
          "aria-required": f.required ? "true" : null, on: { input: function (e) { set(e.target.value); } } });
        control.value = value();
        B.remember(control);
        picker = B.picker(id, scope, f.label, function (node) { B.insertText(control, "{{ " + node.ref + " }}"); });
      }
      if (mode !== "typed") {
        switches.appendChild(B.switchButton({ id: id + "-raw", title: "Show the template as text",
          on: { click: function () { switchTo(mode === "raw" ? "pills" : "raw"); } } },
          mode === "raw", "Edit as template", "Edit as template"));
        if (TYPED[f.type]) switches.appendChild(el("button", { type: "button", class: "link", id: id + "-fixed",
          on: { click: function () { switchTo("typed"); } } }, "Use a fixed value"));
      }
      row.textContent = "";
      row.setAttribute("data-mode", mode);
      row.appendChild(el("div", { class: "field-box" },
        el("label", { id: id + "-label", for: mode === "pills" ? null : id,
          on: { click: function () { if (mode === "pills") control.focus(); } } },
          f.label, f.required ? el("span", { class: "required", title: "required" }, " *") : null,
          f.required ? el("span", { class: "sr-only", text: " (required)" }) : null),
        control, switches,
        hints ? el("p", { class: "help muted", id: id + "-help", text: hints }) : null,
        B.errorList(path, id + "-errors"),
        el("output", { class: "preview", id: id + "-preview", for: id, "data-preview-for": path, "aria-live": "polite" })));
      if (picker) row.appendChild(picker);
    }
    draw();
    return row;
  };
})(window.CartlyBuilder = window.CartlyBuilder || {});
