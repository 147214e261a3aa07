/* The recipe builder, part 2 of 9: value pills. A field's template shown as typed text mixed
 * with chips ("Order › Number", its sample value on hover) for each {{ … }}, {% … %} or {# … #}.
 *
 * The editor is a contenteditable box whose chips are atomic (contenteditable=false): arrows
 * step over a chip, Backspace removes it whole. Every chip keeps its exact source text, so
 * reading the box back gives the template exactly as written ("Edit as template" round-trips).
 */
(function (B) {
  "use strict";
  var el = B.el;
  var EXPRESSION = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g;
  // A plain reference: trigger.customer.email, steps.customer.id, trigger.line_items[0].sku …
  var REFERENCE = /^(trigger|steps|event|now|item|loop|error)(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\['[^'\]]*'\]|\["[^"\]]*"\])*$/;
  var OPENERS = /\{\{|\{%|\{#/;
  B.pillInfo = {}; // reference → {label, example}; refreshed with each preview
  B.scopedPills = {}; // step path → labels of the item, loop or error values it brings
  var SCOPED = { item: 1, loop: 1, error: 1 };

  // A value's label where it is used: `item.sku` means the item of the loop around `path`.
  B.pillInfoFor = function (ref, path) {
    var root = String(ref).split(/[.[]/)[0];
    if (!SCOPED[root]) return B.pillInfo[ref] || null;
    var best = null;
    Object.keys(B.scopedPills).forEach(function (owner) {
      if (String(path || "").indexOf(owner + ".") === 0 && B.scopedPills[owner][ref] &&
          (best === null || owner.length > best.length)) best = owner;
    });
    return best === null ? null : B.scopedPills[best][ref];
  };
  var ranges = new WeakMap(); // editor → the caret's last place, kept while the picker has focus

  B.isTemplate = function (text) { return typeof text === "string" && OPENERS.test(text); };

  function referenceOf(raw) {
    var m = raw.match(/^\{\{\s*([\s\S]*?)\s*\}\}$/);
    return m && REFERENCE.test(m[1]) ? m[1] : null;
  }
  B.referenceOf = referenceOf;

  // [{text}] and [{raw}] pieces in order; together they are exactly `text`.
  function pieces(text) {
    var out = [], last = 0, m;
    EXPRESSION.lastIndex = 0;
    while ((m = EXPRESSION.exec(text)) !== null) {
      if (m.index > last) out.push({ text: text.slice(last, m.index) });
      out.push({ raw: m[0] });
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push({ text: text.slice(last) });
    return out;
  }

  function chip(raw, path) {
    var ref = referenceOf(raw), info = ref ? B.pillInfoFor(ref, path) : null;
    var kind = ref ? (info ? "pill" : "pill pill-unknown") : "pill pill-code";
    var label = info ? info.label : ref ? ref : raw;
    var hint = info ? "Sample: " + (info.example === "" ? "(empty)" : info.example) + " · " + raw
      : ref ? "Not in the sample data: " + raw : "Template code: " + raw;
    return el("span", { class: kind, contenteditable: "false", "data-raw": raw, title: hint },
      el("span", { class: "sr-only", text: ref ? "value " : "template code " }), label,
      info ? el("span", { class: "sr-only", text: ", sample " + info.example }) : null);
  }

  function fill(editor, text) {
    var path = editor.getAttribute("data-path");
    editor.textContent = "";
    pieces(text || "").forEach(function (p) {
      editor.appendChild(p.raw !== undefined ? chip(p.raw, path) : document.createTextNode(p.text));
    });
    // A trailing newline only shows with a node after it; reading back skips a last <br>.
    if (/\n$/.test(text || "")) editor.appendChild(document.createElement("br"));
  }

  function serialize(node) {
    var out = "", kids = node.childNodes;
    for (var i = 0; i < kids.length; i++) {
      var child = kids[i];
      if (child.nodeType === Node.TEXT_NODE) out += child.nodeValue;
      else if (child.nodeType !== Node.ELEMENT_NODE) continue;
      else if (child.hasAttribute("data-raw")) out += child.getAttribute("data-raw");
      else if (child.tagName === "BR") { if (i !== kids.length - 1) out += "\n"; }
      else { if (out && out.slice(-1) !== "\n") out += "\n"; out += serialize(child); } // a pasted or typed block
    }
    return out;
  }

  function remember(editor) {
    var sel = document.getSelection();
    if (sel.rangeCount && editor.contains(sel.getRangeAt(0).startContainer)) ranges.set(editor, sel.getRangeAt(0).cloneRange());
  }
  document.addEventListener("selectionchange", function () {
    var active = document.activeElement;
    if (active && active.classList && active.classList.contains("pill-editor")) remember(active);
  });

  function placeCaretAfter(editor, node) {
    var range = document.createRange();
    range.setStartAfter(node); range.collapse(true);
    var sel = document.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    ranges.set(editor, range.cloneRange());
  }

  // {node, get(), set(text), insert(ref), relabel()}; onChange(text) after every edit.
  B.pillEditor = function (options) {
    var editor = el("div", { id: options.id, class: "pill-editor" + (options.multiline ? " multiline" : ""),
      contenteditable: "true", role: "textbox", "aria-multiline": options.multiline ? "true" : "false",
      "aria-labelledby": options.labelledby, "aria-describedby": options.describedby,
      "aria-required": options.required ? "true" : null, "data-path": options.path, spellcheck: "false" });
    fill(editor, options.value);
    function changed() { remember(editor); options.onChange(serialize(editor)); }
    editor.addEventListener("input", changed);
    // selectionchange may arrive after focus has moved on: keep the caret on these too.
    ["keyup", "mouseup", "focusout"].forEach(function (ev) {
      editor.addEventListener(ev, function () { remember(editor); });
    });
    editor.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") return;
      e.preventDefault();
      if (options.multiline) document.execCommand("insertText", false, "\n");
    });
    editor.addEventListener("paste", function (e) {
      e.preventDefault();
      var text = (e.clipboardData || window.clipboardData).getData("text/plain");
      if (!options.multiline) text = text.replace(/\r?\n/g, " ");
      document.execCommand("insertText", false, text);
      if (B.isTemplate(text)) { fill(editor, serialize(editor)); changed(); }
    });
    // Typed {{ … }} becomes a chip once the person leaves the box (redrawing moves the caret).
    editor.addEventListener("blur", function () {
      var text = serialize(editor);
      if (B.isTemplate(text) && Array.prototype.some.call(editor.childNodes, function (n) {
        return n.nodeType === Node.TEXT_NODE && OPENERS.test(n.nodeValue);
      })) fill(editor, text);
    });
    return {
      node: editor,
      get: function () { return serialize(editor); },
      set: function (text) { fill(editor, text); },
      insert: function (ref) {
        var node = chip("{{ " + ref + " }}", options.path), range = ranges.get(editor);
        if (range && editor.contains(range.startContainer)) {
          range.deleteContents(); range.insertNode(node);
        } else {
          if (editor.lastChild && editor.lastChild.tagName === "BR") editor.insertBefore(node, editor.lastChild);
          else editor.appendChild(node);
        }
        editor.focus();
        placeCaretAfter(editor, node);
        changed();
      }
    };
  };

  // After a preview brings fresh labels, swap each chip for a relabelled one. Text is left
  // alone, so a caret remembered in it (for the picker) stays where it was.
  B.relabelPills = function (info, scoped) {
    if (JSON.stringify([info || {}, scoped || {}]) === JSON.stringify([B.pillInfo, B.scopedPills])) return;
    B.pillInfo = info || {};
    B.scopedPills = scoped || {};
    document.querySelectorAll(".pill-editor [data-raw]").forEach(function (old) {
      var path = old.closest(".pill-editor").getAttribute("data-path");
      old.parentNode.replaceChild(chip(old.getAttribute("data-raw"), path), old);
    });
  };
  B.pillPieces = pieces;
  B.pillText = serialize;
})(window.CartlyBuilder = window.CartlyBuilder || {});
