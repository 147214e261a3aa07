/* The recipe builder, part 1 of 9: small DOM and network helpers shared by the other parts.
 *
 * The builder's scripts share one namespace, window.CartlyBuilder (B), and load in order:
 * dom, pills, picker, fields, filters, steptest, flow, steps, main
 * (templates/automations/builder/edit.html).
 *
 * Every part of the draft is addressed by its document path, as the server's problems are:
 * "steps[2]", "steps[2].steps[0].fields.quantity", "steps[1].paths.branches[0].steps[0]".
 */
(function (B) {
  "use strict";

  // el("input", {id: "x", on: {input: fn}}, child, "text"...): attributes false/null are left out.
  B.el = function (tag, attrs) {
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
  };

  // A document path ("steps[1].fields.code") as an element id ("f-steps-1-fields-code").
  B.idFor = function (path) { return "f-" + path.replace(/[\[\].]+/g, "-").replace(/-+$/, ""); };

  // A step's path as the id of its card: "steps[3]" → "step-3", "steps[1].steps[0]" →
  // "step-1-steps-0" (top-level ids stay as they always were).
  B.stepId = function (path) { return "step-" + B.listId(path.replace(/^steps\[/, "")); };
  // A list's path as an id part: "steps[1].paths.otherwise" → "steps-1-paths-otherwise".
  B.listId = function (path) { return path.replace(/[\[\].]+/g, "-").replace(/-+$/, ""); };

  // A dotted path ("trigger.line_items.0.sku") as the reference a template writes
  // ("trigger.line_items[0].sku"), which is how the pills' labels are keyed.
  B.refOfPath = function (path) {
    return String(path || "").split(".").map(function (part, i) {
      return i && /^\d+$/.test(part) ? "[" + part + "]" : (i ? "." : "") + part;
    }).join("");
  };

  B.parentPath = function (path) {
    var m = path.match(/^(.*)(\.[^.\[\]]+|\[\d+\])$/);
    return m ? m[1] : "";
  };

  B.errorList = function (path, id) {
    return B.el("ul", { class: "errorlist", id: id || null, "data-problems-for": path });
  };

  B.post = function (url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": B.csrf },
      body: JSON.stringify(body)
    }).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  };

  // Like post, but hands back {ok, status, body} so a refusal's JSON message can be shown.
  B.postJson = function (url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": B.csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        return { ok: r.ok, status: r.status, body: json };
      });
    });
  };

  // A small on/off switch button (role=switch) that says what a click will do.
  B.switchButton = function (attrs, on, onLabel, offLabel) {
    var button = B.el("button", Object.assign({ type: "button", class: "switch" + (on ? " on" : ""), role: "switch",
      "aria-checked": on ? "true" : "false" }, attrs),
      B.el("span", { class: "switch-track", "aria-hidden": "true" }, B.el("span", { class: "switch-knob" })),
      B.el("span", { class: "switch-text", text: on ? onLabel : offLabel }));
    return button;
  };
})(window.CartlyBuilder = window.CartlyBuilder || {});
