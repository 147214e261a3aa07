/* The recipe builder, part 6 of 9: "Test this step" under each action or search. The server
 * (/recipes/test-step/, automations/builder/steptest.py) renders the step as a run would, with
 * the trigger's sample or the shop's latest real data, and answers with the input and the
 * answer as JSON. A search really runs (it only reads); an action, or a request to another
 * system, is only sent after a warning and an explicit "Send it".
 */
(function (B) {
  "use strict";
  var el = B.el;

  function json(value) { return JSON.stringify(value, null, 2); }

  function block(id, title, value) {
    return el("div", { class: "test-block" }, el("h4", { text: title }), el("pre", { id: id, class: "test-json", text: json(value) }));
  }

  function shopName() {
    var select = document.getElementById("id_connection");
    return select && select.selectedOptions[0] ? select.selectedOptions[0].textContent : "your shop";
  }

  function warning(sid, operation, onSend) {
    var http = operation.key.indexOf("http.") === 0;
    return el("div", { class: "test-warning", id: sid + "-test-warning", role: "alert" },
      el("p", null, el("strong", { text: "Sending does it for real. " }),
        http ? "Your address is called with the input above, as a run would call it."
          : operation.label + " is done in " + shopName() + " with the input above, as a run would do it.",
        " The builder cannot undo it."),
      el("button", { type: "button", class: "danger", id: sid + "-test-send", on: { click: onSend } }, "Send it"));
  }

  function show(out, sid, operation, answer, onSend) {
    out.textContent = "";
    if (answer.error) { out.appendChild(el("p", { class: "test-error", id: sid + "-test-error", text: answer.error })); return; }
    out.appendChild(el("p", { class: "test-status", id: sid + "-test-status", "data-status": answer.status },
      el("strong", { text: answer.status === "failed" ? "Failed: " : "" }), answer.message || ""));
    out.appendChild(el("p", { class: "muted", text: "Trigger data: " + answer.source }));
    if (answer.notes.length) {
      var notes = el("ul", { class: "muted test-notes" });
      answer.notes.forEach(function (n) { notes.appendChild(el("li", { text: n })); });
      out.appendChild(notes);
    }
    if (answer.sent || answer.input) out.appendChild(block(sid + "-test-input", answer.status === "sent" ? "Sent" :
      operation.kind === "search" ? "Searched with" : "Would send", answer.sent || answer.input));
    if (answer.answer !== null && answer.answer !== undefined) {
      out.appendChild(block(sid + "-test-answer", operation.key.indexOf("http.") === 0 ? "The answer" : "Cartly's answer", answer.answer));
    }
    if (answer.status === "would_send") out.appendChild(warning(sid, operation, onSend));
  }

  // The "Test this step" panel of the operation step at `path`.
  B.stepTest = function (step, path) {
    var operation = B.cat.operations[step.operation];
    if (!operation) return null;
    var sid = B.stepId(path), out = el("div", { class: "test-result", id: sid + "-test-result", "aria-live": "polite" });
    function source() {
      var picked = document.querySelector('input[name="' + sid + '-test-source"]:checked');
      return picked ? picked.value : "sample";
    }
    function run(send) {
      out.textContent = send ? "Sending…" : "Testing…";
      var connection = document.getElementById("id_connection");
      B.postJson(B.urls.test_step, { document: B.doc, path: path, source: source(), send: send,
        recipe: B.recipeId, connection: connection ? connection.value : null })
        .then(function (r) { show(out, sid, operation, r.body || {}, function () { run(true); }); })
        .catch(function () { out.textContent = "Could not test the step just now."; });
    }
    function choice(value, text) {
      return el("label", { class: "choice" }, el("input", { type: "radio", name: sid + "-test-source", value: value,
        id: sid + "-test-" + value, checked: value === "sample" }), " " + text);
    }
    return el("details", { class: "step-test", id: sid + "-test" },
      el("summary", { text: "Test this step" }),
      el("fieldset", null, el("legend", { text: "With" }),
        choice("sample", "the trigger's sample data"), choice("latest", "the shop's latest real data")),
      el("p", { class: "help muted", text: operation.kind === "search"
        ? "The search really asks the shop; it changes nothing."
        : "First you see what would be sent; nothing is sent until you click “Send it”." }),
      el("button", { type: "button", class: "secondary", id: sid + "-test-run", on: { click: function () { run(false); } } },
        operation.kind === "search" ? "Run this search" : "Show what it would send"),
      out);
  };
})(window.CartlyBuilder = window.CartlyBuilder || {});
