/* The recipe builder, part 9 of 9: the page. Edits a draft recipe document kept in the hidden
 * #id_document field; the server does the real work: /recipes/preview/ renders every field
 * against sample data (with the picker's trees and the pills' labels), /recipes/validate/ lists
 * the document's problems by path. Problems block saving and show under their field once;
 * what only fails with the sample data is a labelled warning.
 */
(function (B) {
  "use strict";
  var el = B.el;
  var dataEl = document.getElementById("builder-data");
  var form = document.getElementById("builder-form");
  if (!dataEl || !form) return;
  var data = JSON.parse(dataEl.textContent);
  var hidden = document.getElementById("id_document");
  var DEBOUNCE_MS = 350;
  var timer = null, sequence = 0, submitting = false;
  B.cat = data.catalogue;
  B.doc = data.document;
  B.preview = data.preview;
  B.problems = data.problems;
  B.timeZone = data.time_zone || "UTC";
  B.csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  B.pillInfo = data.preview.pills || {};
  B.scopedPills = data.preview.scoped_pills || {};
  B.urls = data.urls;
  B.recipeId = data.recipe;

  B.changed = function () {
    hidden.value = JSON.stringify(B.doc);
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  };

  function describe(problems, warnings) {
    var w = warnings ? warnings + " warning" + (warnings === 1 ? "" : "s") + " to check (sample data)." : "";
    if (problems) return problems + " problem" + (problems === 1 ? "" : "s") + " to fix before saving." + (w ? " " + w : "");
    return w ? "Nothing blocks saving. " + w : "No problems found.";
  }

  function refresh() {
    var mine = ++sequence;
    var status = document.getElementById("check-status");
    status.textContent = "Checking…";
    Promise.all([B.post(data.urls.preview, { document: B.doc }), B.post(data.urls.validate, { document: B.doc })])
      .then(function (answers) {
        if (mine !== sequence) return; // a newer edit is on its way
        B.preview = answers[0];
        B.relabelPills(B.preview.pills, B.preview.scoped_pills);
        B.showProblems(answers[1].problems);
        status.textContent = describe(answers[1].problems.length, B.applyPreview());
      })
      .catch(function () { if (mine === sequence) status.textContent = "Could not check the recipe just now."; });
  }

  // Each problem once: in the list of its own path, else of the nearest part that has one.
  B.showProblems = function (problems) {
    B.problems = problems;
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
        path = B.parentPath(path);
      }
      if (!target) {
        if (!general.firstChild) general.appendChild(el("ul", { class: "errorlist", id: "problem-list" }));
        target = general.firstChild;
      }
      var where = path === p.path ? "" : p.path + ": ";
      target.appendChild(el("li", { "data-path": p.path }, where + p.message));
      var box = document.querySelector('[data-path="' + CSS.escape(p.path) + '"]');
      if (box && box.matches("input, textarea, select, [contenteditable]")) box.setAttribute("aria-invalid", "true");
    });
  };

  // Previews under each box; returns how many are warnings (fail with the sample data only).
  B.applyPreview = function () {
    var warnings = 0, problems = B.problems || [];
    // A preview error the problems already say (at its path or inside it) is not said again.
    function blocked(path) {
      return problems.some(function (p) {
        return p.path === path || p.path.indexOf(path + ".") === 0 || p.path.indexOf(path + "[") === 0;
      });
    }
    document.querySelectorAll("[data-preview-for]").forEach(function (out) {
      var path = out.getAttribute("data-preview-for");
      var answer = B.preview.fields[path] || B.preview.filters[path];
      out.classList.remove("bad", "ok", "warn");
      out.textContent = "";
      if (!answer) return;
      if (answer.error) {
        if (blocked(path)) return; // the problem under the box says it already
        warnings++;
        out.classList.add("warn");
        out.appendChild(el("strong", { text: "Warning (sample data): " }));
        out.appendChild(document.createTextNode(answer.error + " Real data may have it; check before turning the recipe on."));
        return;
      }
      if ("passed" in answer && /\.paths\.branches\[\d+\]$/.test(path)) { // a path is taken or not: neither is wrong
        out.textContent = answer.passed ? "With the sample: this path is taken." :
          "With the sample: this path is not taken (" + answer.reason.replace(/^Stopped by filter: /, "") + ").";
        return;
      }
      if ("passed" in answer) {
        out.classList.add(answer.passed ? "ok" : "bad");
        out.textContent = (answer.passed ? "With the sample: passes. " : "With the sample: stops. ") + answer.reason;
        return;
      }
      out.textContent = answer.note || ("Preview: " + (answer.value === "" ? "(empty)" : answer.value));
    });
    B.refreshLists();
    var sample = document.getElementById("trigger-sample-tree");
    sample.textContent = "";
    if (B.preview.sources.trigger) sample.appendChild(B.sampleTree(B.preview.sources.trigger));
    document.querySelectorAll("details.picker[open]").forEach(B.fillPicker);
    return warnings;
  };

  B.render = function () {
    if (!B.doc.filter || typeof B.doc.filter !== "object") B.doc.filter = { match: "all", conditions: [] };
    var filter = document.getElementById("filter-editor");
    filter.textContent = "";
    filter.appendChild(B.filterEditor(B.doc.filter, "filter", "filter"));
    var list = document.getElementById("steps");
    list.textContent = "";
    list.appendChild(B.stepList(B.steps(), "steps", { depth: 1, inLoop: false }));
    B.applyPreview();
  };

  // Required fields left empty (without a default), at any depth: shown under each, and
  // saving waits.
  function missingRequired() {
    var missing = [];
    B.eachStep(B.steps(), "steps", function (step, path) {
      var op = B.cat.operations[step.operation];
      if (!op || B.kindOf(step) !== "operation") return;
      op.fields.forEach(function (f) {
        var value = (step.fields || {})[f.key];
        if (f.required && !f.default && (value === undefined || value === "")) {
          missing.push({ path: path + ".fields." + f.key, message: "Required: fill in " + f.label + "." });
        }
      });
    });
    return missing;
  }

  // What a person typed before this script ran (or a browser restored) must not be lost.
  function syncBasics() {
    B.doc.name = document.getElementById("id_name").value;
    B.doc.mode = document.getElementById("id_mode").value;
    B.doc.trigger = document.getElementById("id_trigger").value;
    B.doc.turn_off_after_failures = turnOffAfter(document.getElementById("id_turn_off_after_failures").value);
  }
  // Empty: never; a whole number: that many failed runs in a row; anything else is kept as
  // typed, so the check says what is wrong with it under the box.
  function turnOffAfter(text) {
    text = text.trim();
    return text === "" ? null : /^\d+$/.test(text) ? parseInt(text, 10) : text;
  }
  function bindBasics() {
    document.getElementById("id_name").addEventListener("input", function (e) { B.doc.name = e.target.value; B.changed(); });
    document.getElementById("id_mode").addEventListener("change", function (e) { B.doc.mode = e.target.value; B.changed(); });
    document.getElementById("id_trigger").addEventListener("change", function (e) {
      B.doc.trigger = e.target.value;
      var t = B.cat.triggers.filter(function (x) { return x.key === B.doc.trigger; })[0];
      document.getElementById("trigger-description").textContent = t ? t.description : "";
      B.changed();
    });
    document.getElementById("id_turn_off_after_failures").addEventListener("input", function (e) {
      B.doc.turn_off_after_failures = turnOffAfter(e.target.value); B.changed();
    });
    var check = document.getElementById("check-recipe");
    check.hidden = false;
    check.addEventListener("click", refresh);
    form.addEventListener("submit", function (e) {
      syncBasics();
      hidden.value = JSON.stringify(B.doc);
      var missing = missingRequired();
      if (missing.length) {
        e.preventDefault();
        B.showProblems(missing);
        B.applyPreview();
        document.getElementById("check-status").textContent = "Not saved: " + missing.length +
          " required field" + (missing.length === 1 ? " is" : "s are") + " empty.";
        var first = document.querySelector('[data-path="' + CSS.escape(missing[0].path) + '"]');
        if (first) first.focus();
        return;
      }
      submitting = true;
    });
  }

  // Leaving with unsaved changes asks first (the browser's own "Leave site?" dialog).
  function watchUnsaved() {
    var saved = data.problems.length ? null : JSON.stringify(B.doc); // a refused save is unsaved
    window.addEventListener("beforeunload", function (e) {
      if (submitting || JSON.stringify(B.doc) === saved) return;
      e.preventDefault();
      e.returnValue = "";
    });
  }

  document.getElementById("builder-editor").hidden = false;
  document.getElementById("recipe-summary").hidden = true;
  syncBasics();
  bindBasics();
  B.render();
  B.showProblems(data.problems);
  var warnings = B.applyPreview();
  document.getElementById("check-status").textContent = data.problems.length
    ? "Not saved: " + data.problems.length + " problem" + (data.problems.length === 1 ? "" : "s") +
      " to fix, shown next to each part."
    : warnings ? describe(0, warnings) : "";
  hidden.value = JSON.stringify(B.doc);
  watchUnsaved();
})(window.CartlyBuilder = window.CartlyBuilder || {});
