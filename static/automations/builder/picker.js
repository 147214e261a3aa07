/* The recipe builder, part 3 of 9: the trigger's sample as a tree, and the "Insert a value"
 * picker: the trigger's data, earlier steps' outputs and, inside a loop or a fallback, the
 * item or the error, as the server's preview answer lists them for each step (its `pickers`).
 */
(function (B) {
  "use strict";
  var el = B.el;

  B.sampleTree = function (node) {
    if (!node.children) {
      return el("li", null, el("span", { class: "tree-label", text: node.label + ": " }),
        el("code", { text: node.example }), " ", el("span", { class: "muted", text: node.path }));
    }
    var list = el("ul", { class: "tree" });
    node.children.forEach(function (c) { list.appendChild(B.sampleTree(c)); });
    var branch = el("details", { open: node.path === "trigger" }, el("summary", { text: node.label }), list);
    return node.path === "trigger" ? branch : el("li", null, branch);
  };

  function pickButton(node, details, whole) {
    var info = B.pillInfoFor(node.ref, details.getAttribute("data-scope") + ".");
    return el("button", {
      type: "button", class: "pick", "data-ref": node.ref, "data-path": node.path,
      title: info ? info.label : node.path,
      on: { click: function () { details.onPick(node); } }
    }, whole ? "All of " + node.label : node.label, whole ? null : el("span", { class: "example", text: node.example }));
  }

  function pickerTree(node, details) {
    var list = el("ul", { class: "tree" });
    if (!node.children) return el("li", null, pickButton(node, details, false));
    list.appendChild(el("li", null, pickButton(node, details, true)));
    node.children.forEach(function (c) { list.appendChild(pickerTree(c, details)); });
    return el("li", null, el("details", null, el("summary", { text: node.label }), list));
  }

  B.fillPicker = function (details) {
    var ids = B.preview.pickers[details.getAttribute("data-scope")] || [];
    var body = details.querySelector(".picker-tree");
    body.textContent = "";
    var list = el("ul", { class: "tree", role: "group" });
    ids.forEach(function (id) {
      var li = pickerTree(B.preview.sources[id], details);
      li.querySelector("details").open = true;
      list.appendChild(li);
    });
    body.appendChild(ids.length ? list : el("p", { class: "muted", text: "Choose a trigger first." }));
  };

  // A picker for the box with this id; onPick(node) puts the chosen value in.
  B.picker = function (boxId, scope, label, onPick) {
    var details = el("details", { class: "picker", id: boxId + "-picker", "data-box": boxId, "data-scope": scope },
      el("summary", { text: "Insert a value" }),
      el("div", { class: "picker-tree", role: "region", "aria-label": "Values to insert into " + label }));
    details.onPick = onPick;
    details.addEventListener("toggle", function () { if (details.open) B.fillPicker(details); });
    return details;
  };

  // Caret tracking for plain text boxes (raw templates, condition paths).
  var cursors = new WeakMap();
  B.remember = function (box) {
    var save = function () { cursors.set(box, { start: box.selectionStart, end: box.selectionEnd }); };
    ["keyup", "click", "select", "blur", "input"].forEach(function (ev) { box.addEventListener(ev, save); });
  };
  B.insertText = function (box, text) {
    var at = cursors.get(box) || { start: box.value.length, end: box.value.length };
    box.value = box.value.slice(0, at.start) + text + box.value.slice(at.end);
    var caret = at.start + text.length;
    cursors.set(box, { start: caret, end: caret });
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
    box.setSelectionRange(caret, caret);
  };
})(window.CartlyBuilder = window.CartlyBuilder || {});
