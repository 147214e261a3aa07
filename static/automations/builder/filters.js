/* The recipe builder, part 5 of 9: filters (the recipe's own, filter steps, and each branch of
 * a Paths step): conditions of a field path, an operator and, for most operators, a value.
 */
(function (B) {
  "use strict";
  var el = B.el;

  function operator(key) {
    for (var i = 0; i < B.cat.operators.length; i++) if (B.cat.operators[i].key === key) return B.cat.operators[i];
    return null;
  }

  function conditionRow(spec, path, j, scope) {
    var cond = spec.conditions[j], cpath = path + ".conditions[" + j + "]", id = B.idFor(cpath);
    var field = el("input", { id: id + "-field", class: "path-box", "data-path": cpath + ".field", value: cond.field || "",
      placeholder: "e.g. trigger.total_price", "aria-describedby": id + "-errors", autocomplete: "off",
      on: { input: function (e) { cond.field = e.target.value; B.changed(); } } });
    var select = el("select", { id: id + "-operator", "data-path": cpath + ".operator",
      on: { change: function (e) {
        cond.operator = e.target.value;
        var takes = (operator(cond.operator) || {}).takes_value;
        value.hidden = valueLabel.hidden = !takes;
        if (!takes) delete cond.value;
        B.changed();
      } } });
    B.cat.operators.forEach(function (o) {
      select.appendChild(el("option", { value: o.key, selected: o.key === cond.operator, text: o.label }));
    });
    var takes = (operator(cond.operator) || { takes_value: true }).takes_value;
    var valueLabel = el("label", { for: id + "-value", hidden: !takes, text: "Value" });
    var value = el("input", { id: id + "-value", "data-path": cpath + ".value", value: cond.value === undefined ? "" : cond.value,
      hidden: !takes, autocomplete: "off", on: { input: function (e) { cond.value = e.target.value; B.changed(); } } });
    var named = el("span", { class: "path-label muted", id: id + "-field-label" });
    function name() {
      var info = B.pillInfoFor(B.refOfPath(field.value.trim()), scope + ".");
      named.textContent = info ? info.label : "";
    }
    field.addEventListener("input", name);
    name();
    var picker = B.picker(field.id, scope, "condition " + (j + 1), function (node) {
      field.value = node.path;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.focus();
    });
    return el("fieldset", { class: "condition", id: id, "data-path": cpath },
      el("legend", { text: "Condition " + (j + 1) }),
      el("div", { class: "condition-grid" },
        el("div", null, el("label", { for: id + "-field", text: "Field" }), field, named, picker),
        el("div", null, el("label", { for: id + "-operator", text: "Operator" }), select),
        el("div", null, valueLabel, value)),
      B.errorList(cpath + ".field"), B.errorList(cpath, id + "-errors"),
      el("button", { type: "button", class: "secondary", id: id + "-remove", "aria-label": "Remove condition " + (j + 1),
        on: { click: function () { spec.conditions.splice(j, 1); B.render(); B.changed(); } } }, "Remove condition"));
  }

  // `lead` says what passing means: "Go on when" (filters), "Take this path when" (paths).
  B.filterEditor = function (spec, path, scope, lead) {
    var id = B.idFor(path);
    if (!Array.isArray(spec.conditions)) spec.conditions = [];
    var match = el("select", { id: id + "-match", "data-path": path + ".match",
      on: { change: function (e) { spec.match = e.target.value; B.changed(); } } },
      el("option", { value: "all", selected: spec.match !== "any", text: "all conditions pass" }),
      el("option", { value: "any", selected: spec.match === "any", text: "any condition passes" }));
    var box = el("div", { class: "filter", id: id },
      el("label", { for: id + "-match", text: lead || "Go on when" }), match,
      B.errorList(path), B.errorList(path + ".match"), B.errorList(path + ".conditions"));
    spec.conditions.forEach(function (_, j) { box.appendChild(conditionRow(spec, path, j, scope)); });
    box.appendChild(el("button", { type: "button", class: "secondary", id: id + "-add-condition",
      on: { click: function () {
        spec.conditions.push({ field: "", operator: "equals", value: "" }); B.render(); B.changed();
        document.getElementById(B.idFor(path + ".conditions[" + (spec.conditions.length - 1) + "]") + "-field").focus();
      } } }, "Add condition"));
    box.appendChild(el("output", { class: "preview", id: id + "-preview", "data-preview-for": path, "aria-live": "polite" }));
    return box;
  };
})(window.CartlyBuilder = window.CartlyBuilder || {});
