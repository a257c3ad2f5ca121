/* tunery API reference (/docs): renders the OpenAPI document this server publishes at
 * /openapi.json (operations by tag, parameters, bodies, answers, schemas) with a "Try it" form
 * per operation.  Everything comes from this server: no CDN, nothing fetched from elsewhere,
 * so it works offline and under the page's Content-Security-Policy.  Text reaches the page
 * only through textContent (no innerHTML).
 */
"use strict";

(function () {
  const TOKEN_KEY = "tunery-token"; // the key the UI (app.js) keeps the tab's token under
  const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];
  /** The answer bodies Try it shows at most (characters). */
  const SHOWN = 200_000;
  const root = document.getElementById("docs");
  let doc = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  function showTokenState() {
    document.getElementById("token-state").textContent = token() ? "token set" : "";
  }

  function anchor(text) { return String(text).replace(/[^A-Za-z0-9_-]+/g, "-"); }

  function operationId(method, path) { return "op-" + method + anchor(path); }

  /** A `$ref` ("#/components/schemas/X") resolved in the document. */
  function resolve(ref) {
    let node = doc;
    for (const part of ref.replace(/^#\//, "").split("/")) node = node && node[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    return node || {};
  }

  function refName(ref) { return ref.split("/").pop(); }

  /** A schema as a short line: links to named schemas, "array of X", "X or null", enums. */
  function schemaText(schema) {
    if (!schema) return ["any"];
    if (schema.$ref) return [el("a", { href: "#schema-" + anchor(refName(schema.$ref)) }, refName(schema.$ref))];
    const variants = schema.anyOf || schema.oneOf;
    if (variants) return joined(variants.map(schemaText), " or ");
    if (schema.allOf && schema.allOf.length === 1) return schemaText(schema.allOf[0]);
    if (schema.enum) return ["one of " + schema.enum.map((v) => JSON.stringify(v)).join(", ")];
    if (schema.const !== undefined) return [JSON.stringify(schema.const)];
    if (schema.type === "array") return ["array of ", ...schemaText(schema.items)];
    if (schema.type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object" && !schema.properties) {
      return ["object of ", ...schemaText(schema.additionalProperties)];
    }
    const type = Array.isArray(schema.type) ? schema.type.join(" or ") : schema.type || (schema.properties ? "object" : "any");
    return [type + (schema.format ? ` (${schema.format})` : "")];
  }

  function joined(parts, separator) {
    const out = [];
    parts.forEach((p, i) => { if (i) out.push(separator); out.push(...p); });
    return out;
  }

  /** Limits of a schema, as text: minimum, maximum, lengths, pattern, default. */
  function constraints(schema) {
    if (!schema) return "";
    const s = schema.anyOf ? Object.assign({}, ...schema.anyOf.filter((v) => v.type !== "null")) : schema;
    const out = [];
    if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
    if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
    if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
    if (s.exclusiveMaximum !== undefined) out.push(`< ${s.exclusiveMaximum}`);
    if (s.minLength !== undefined) out.push(`length ≥ ${s.minLength}`);
    if (s.maxLength !== undefined) out.push(`length ≤ ${s.maxLength}`);
    if (s.pattern !== undefined) out.push(`pattern ${s.pattern}`);
    if (schema.default !== undefined) out.push(`default ${JSON.stringify(schema.default)}`);
    return out.join("; ");
  }

  function paragraphs(text, attrs) {
    if (!text) return null;
    return el("div", Object.assign({ class: "doc-text" }, attrs || {}), String(text).split(/\n\s*\n/).map((p) => el("p", {}, p.trim())));
  }

  // ---------------------------------------------------------------- operations

  function operations() {
    const out = [];
    for (const [path, item] of Object.entries(doc.paths || {})) {
      const shared = item.parameters || [];
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const parameters = shared.concat(op.parameters || []).map((p) => (p.$ref ? resolve(p.$ref) : p));
        out.push({ path, method, op, parameters, tag: (op.tags && op.tags[0]) || "other" });
      }
    }
    return out;
  }

  function secured(op) {
    const security = op.security || doc.security || [];
    return security.length > 0;
  }

  function parameterTable(parameters) {
    if (!parameters.length) return null;
    return el("table", { class: "doc-table params" },
      el("thead", {}, el("tr", {}, ["parameter", "in", "type", "", "description"].map((h) => el("th", {}, h)))),
      el("tbody", {}, parameters.map((p) => el("tr", {},
        el("td", {}, el("code", {}, p.name)),
        el("td", {}, p.in),
        el("td", {}, schemaText(p.schema)),
        el("td", {}, p.required ? "required" : ""),
        el("td", {}, [p.description || (p.schema && p.schema.description) || "", constraints(p.schema)].filter(Boolean).join(" "))))));
  }

  function bodySection(body) {
    if (!body) return null;
    const b = body.$ref ? resolve(body.$ref) : body;
    return el("div", { class: "doc-body" },
      el("h4", {}, "Request body" + (b.required ? " (required)" : "")),
      paragraphs(b.description),
      el("ul", {}, Object.entries(b.content || {}).map(([type, media]) => el("li", {}, el("code", {}, type), ": ", schemaText(media.schema)))));
  }

  function responsesTable(responses) {
    return el("table", { class: "doc-table responses" },
      el("thead", {}, el("tr", {}, ["answer", "description", "body"].map((h) => el("th", {}, h)))),
      el("tbody", {}, Object.entries(responses || {}).map(([code, r]) => {
        const resp = r.$ref ? resolve(r.$ref) : r;
        const content = Object.entries(resp.content || {});
        return el("tr", { class: "code-" + code.charAt(0) },
          el("td", {}, el("code", {}, code)),
          el("td", {}, resp.description || ""),
          el("td", {}, content.length ? joined(content.map(([type, media]) => [el("code", {}, type), media.schema ? " " : "", ...(media.schema ? schemaText(media.schema) : [])]), "; ") : "–"));
      })));
  }

  /** A form sending the operation to this server (with the tab's token), and its answer. */
  function tryIt(entry) {
    const { path, method, op, parameters } = entry;
    const inputs = parameters.filter((p) => p.in === "path" || p.in === "query").map((p) => {
      const schema = p.schema || {};
      const choices = schema.enum || (schema.anyOf || []).flatMap((v) => v.enum || []);
      const isBool = schema.type === "boolean" || (schema.anyOf || []).some((v) => v.type === "boolean");
      let input;
      if (choices.length || isBool) {
        input = el("select", { name: p.name }, el("option", { value: "" }, p.required ? "choose…" : "(not sent)"),
          (choices.length ? choices : [true, false]).map((v) => el("option", { value: String(v) }, String(v))));
      } else {
        input = el("input", { name: p.name, size: 28, placeholder: p.required ? "required" : "(not sent)" });
      }
      input.dataset.in = p.in;
      input.dataset.required = p.required ? "1" : "";
      return el("label", { class: "try-field" }, el("code", {}, p.name), " ", input);
    });
    const body = op.requestBody ? (op.requestBody.$ref ? resolve(op.requestBody.$ref) : op.requestBody) : null;
    const types = body ? Object.keys(body.content || {}) : [];
    const typeSelect = types.length ? el("select", { name: "content-type", class: "try-type" }, types.map((t) => el("option", { value: t }, t))) : null;
    const bodyArea = body ? el("textarea", { class: "try-body", rows: 8, spellcheck: "false", placeholder: "request body" }) : null;
    const status = el("p", { class: "try-status" });
    const answer = el("pre", { class: "try-answer", hidden: true });
    const send = el("button", { type: "submit", class: "try-send" }, "Send");
    const form = el("form", { class: "try-form" },
      inputs.length ? el("div", { class: "try-fields" }, inputs) : null,
      typeSelect ? el("label", {}, "Content-Type ", typeSelect) : null,
      bodyArea,
      el("div", { class: "toolbar" }, send, el("span", { class: "muted" }, secured(op) ? "sends the token set above" : "no token needed"), status),
      answer);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      let url = path;
      const query = new URLSearchParams();
      for (const input of form.querySelectorAll("[data-in]")) {
        const value = input.value;
        if (input.dataset.in === "path") {
          if (!value) { status.textContent = `${input.name}: required (a path parameter)`; return; }
          url = url.replace("{" + input.name + "}", encodeURIComponent(value));
        } else if (value !== "") {
          query.set(input.name, value);
        } else if (input.dataset.required) {
          status.textContent = `${input.name}: required`; return;
        }
      }
      if (query.toString()) url += "?" + query.toString();
      const headers = {};
      if (token()) headers.Authorization = "Bearer " + token();
      const init = { method: method.toUpperCase(), headers };
      if (bodyArea && bodyArea.value) {
        init.body = bodyArea.value;
        headers["Content-Type"] = typeSelect.value;
      }
      send.disabled = true;
      status.textContent = `${init.method} ${url} …`;
      try {
        const response = await fetch(url, init);
        const text = await response.text();
        let shown = text;
        if ((response.headers.get("content-type") || "").includes("json")) {
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* as sent */ }
        }
        status.textContent = `${init.method} ${url} → ${response.status} ${response.statusText} (${response.headers.get("content-type") || "no body"}, ${text.length} characters)`;
        status.dataset.status = String(response.status);
        answer.textContent = shown.length > SHOWN ? shown.slice(0, SHOWN) + `\n… (${shown.length - SHOWN} more characters)` : shown;
        answer.hidden = false;
      } catch (err) {
        status.textContent = "not sent: " + err.message;
      } finally {
        send.disabled = false;
      }
    });
    return el("details", { class: "try" }, el("summary", {}, "Try it"), form);
  }

  function operationCard(entry) {
    const { path, method, op, parameters } = entry;
    return el("section", { class: "card operation", id: operationId(method, path), dataset: { operation: method.toUpperCase() + " " + path } },
      el("h3", {}, el("span", { class: "method method-" + method }, method.toUpperCase()), " ", el("code", { class: "path" }, path),
        secured(op) ? el("span", { class: "lock", title: "needs Authorization: Bearer <token>" }, "token") : null),
      op.summary ? el("p", { class: "summary" }, el("b", {}, op.summary)) : null,
      paragraphs(op.description),
      parameterTable(parameters),
      bodySection(op.requestBody),
      el("h4", {}, "Answers"),
      responsesTable(op.responses),
      tryIt(entry));
  }

  // ---------------------------------------------------------------- schemas

  function schemaCard(name, schema) {
    const required = new Set(schema.required || []);
    const props = Object.entries(schema.properties || {});
    return el("section", { class: "card schema", id: "schema-" + anchor(name), dataset: { schema: name } },
      el("h3", {}, el("code", {}, name), " ", el("span", { class: "muted" }, schemaText(Object.assign({}, schema, { $ref: undefined, properties: undefined, type: schema.type || (props.length ? "object" : undefined) })))),
      paragraphs(schema.description),
      props.length ? el("table", { class: "doc-table fields" },
        el("thead", {}, el("tr", {}, ["field", "type", "", "description"].map((h) => el("th", {}, h)))),
        el("tbody", {}, props.map(([field, s]) => el("tr", {},
          el("td", {}, el("code", {}, field)),
          el("td", {}, schemaText(s)),
          el("td", {}, required.has(field) ? "required" : ""),
          el("td", {}, [s.description || s.title && s.title !== field && s.title || "", constraints(s)].filter(Boolean).join(" ")))))) : null);
  }

  // ---------------------------------------------------------------- page

  function render() {
    const info = doc.info || {};
    const entries = operations();
    const tags = [];
    for (const e of entries) if (!tags.includes(e.tag)) tags.push(e.tag);
    const schemas = Object.entries((doc.components && doc.components.schemas) || {});
    document.title = `${info.title || "API"} ${info.version || ""} API reference`;
    root.replaceChildren(
      el("div", { class: "card" },
        el("h1", {}, `${info.title || "API"} API `, el("span", { class: "muted" }, "version " + (info.version || "?"))),
        info.summary ? el("p", {}, info.summary) : null,
        paragraphs(info.description),
        el("p", { class: "muted" }, `OpenAPI ${doc.openapi}: `, el("a", { href: "/openapi.json" }, "/openapi.json"),
          ` (${entries.length} operations, ${schemas.length} schemas).`),
        el("nav", { class: "doc-toc" }, tags.map((tag) => el("div", {},
          el("b", {}, tag), " ",
          joined(entries.filter((e) => e.tag === tag).map((e) => [el("a", { href: "#" + operationId(e.method, e.path) }, e.method.toUpperCase() + " " + e.path)]), " · "))),
          schemas.length ? el("div", {}, el("b", {}, "schemas"), " ", joined(schemas.map(([name]) => [el("a", { href: "#schema-" + anchor(name) }, name)]), " · ")) : null)),
      ...tags.map((tag) => el("div", { class: "doc-tag", dataset: { tag } }, el("h2", { id: "tag-" + anchor(tag) }, tag),
        entries.filter((e) => e.tag === tag).map(operationCard))),
      schemas.length ? el("div", { class: "doc-schemas" }, el("h2", { id: "schemas" }, "Schemas"), schemas.map(([name, s]) => schemaCard(name, s))) : null);
    document.body.dataset.ready = "docs";
    if (location.hash) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  async function load() {
    try {
      const response = await fetch("/openapi.json");
      if (!response.ok) throw new Error(`/openapi.json answered ${response.status}`);
      doc = await response.json();
    } catch (err) {
      root.replaceChildren(el("div", { class: "card" }, el("h1", {}, "Cannot load the API document"), el("p", { class: "error" }, err.message)));
      document.body.dataset.ready = "error";
      return;
    }
    render();
  }

  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("token-input");
    if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value);
    else sessionStorage.removeItem(TOKEN_KEY);
    input.value = "";
    showTokenState();
  });
  showTokenState();
  load();
})();
