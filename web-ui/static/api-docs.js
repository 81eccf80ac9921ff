// The API reference page (/api/docs): reads /api/openapi.json from this
// server and renders it, operations grouped by tag, then the schemas. No
// framework and nothing from elsewhere; every text goes in as text (never as
// HTML), so nothing in the document can run.
"use strict";

(function () {
  var METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

  // An element with attributes and children (strings become text nodes).
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (attrs[name] !== undefined && attrs[name] !== null) {
        node.setAttribute(name, attrs[name]);
      }
    });
    (children || []).forEach(function (child) {
      if (child === undefined || child === null || child === "") {
        return;
      }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Markdown-ish text: `code` spans become <code>, the rest stays text.
  function prose(text, tag) {
    var node = el(tag || "p", { class: "api-prose" });
    String(text || "").split(/(`[^`]*`)/).forEach(function (part) {
      if (part.length > 1 && part.charAt(0) === "`" && part.charAt(part.length - 1) === "`") {
        node.appendChild(el("code", {}, [part.slice(1, -1)]));
      } else if (part) {
        node.appendChild(document.createTextNode(part));
      }
    });
    return node;
  }

  function refName(ref) {
    return String(ref).split("/").pop();
  }

  function anchor(kind, name) {
    return kind + "-" + String(name).replace(/[^A-Za-z0-9_-]/g, "-");
  }

  // A schema's type as a short phrase with links to named schemas.
  function typeOf(schema) {
    var span = el("span", { class: "api-type" });
    if (!schema || typeof schema !== "object" || Object.keys(schema).length === 0) {
      span.appendChild(document.createTextNode("any"));
      return span;
    }
    if (schema.$ref) {
      var name = refName(schema.$ref);
      span.appendChild(el("a", { href: "#" + anchor("schema", name) }, [name]));
      return span;
    }
    var variants = schema.oneOf || schema.anyOf;
    if (variants) {
      variants.forEach(function (variant, i) {
        if (i > 0) {
          span.appendChild(document.createTextNode(" | "));
        }
        span.appendChild(typeOf(variant));
      });
      return span;
    }
    if (schema.allOf) {
      schema.allOf.forEach(function (part, i) {
        if (i > 0) {
          span.appendChild(document.createTextNode(" & "));
        }
        span.appendChild(typeOf(part));
      });
      return span;
    }
    var types = [].concat(schema.type || "object");
    types.forEach(function (type, i) {
      if (i > 0) {
        span.appendChild(document.createTextNode(" | "));
      }
      if (type === "array") {
        span.appendChild(document.createTextNode("array of "));
        span.appendChild(typeOf(schema.items));
      } else if (type === "object" && schema.additionalProperties && !schema.properties) {
        span.appendChild(document.createTextNode("map of "));
        span.appendChild(typeOf(schema.additionalProperties === true ? {} : schema.additionalProperties));
      } else {
        span.appendChild(document.createTextNode(type));
      }
    });
    if (schema.format) {
      span.appendChild(document.createTextNode(" (" + schema.format + ")"));
    }
    if (schema.contentSchema) {
      span.appendChild(document.createTextNode(" holding " + (schema.contentMediaType || "") + " "));
      span.appendChild(typeOf(schema.contentSchema));
    }
    if (schema.enum) {
      span.appendChild(document.createTextNode(": " + schema.enum.map(function (v) {
        return JSON.stringify(v);
      }).join(", ")));
    }
    return span;
  }

  // An object schema's properties as a table (allOf parts merged).
  function properties(schema) {
    var rows = [];
    var required = {};
    (function collect(s) {
      if (!s) {
        return;
      }
      (s.allOf || []).forEach(collect);
      (s.required || []).forEach(function (name) {
        required[name] = true;
      });
      Object.keys(s.properties || {}).forEach(function (name) {
        rows.push([name, s.properties[name]]);
      });
    })(schema);
    if (rows.length === 0) {
      return null;
    }
    var body = el("tbody", {}, rows.map(function (row) {
      var prop = row[1];
      return el("tr", {}, [
        el("td", { class: "mono" }, [row[0] + (required[row[0]] ? "" : "?")]),
        el("td", {}, [typeOf(prop)]),
        el("td", {}, [prop.description ? prose(prop.description, "span") : ""]),
      ]);
    }));
    return el("div", { class: "table-wrap" }, [
      el("table", { class: "api-table" }, [
        el("thead", {}, [el("tr", {}, [el("th", {}, ["field"]), el("th", {}, ["type"]), el("th", {}, ["meaning"])])]),
        body,
      ]),
    ]);
  }

  // A content map (media type -> schema) as a list.
  function contents(content) {
    return el("ul", { class: "api-contents" }, Object.keys(content || {}).map(function (type) {
      var schema = content[type].schema;
      return el("li", {}, [el("code", {}, [type]), schema ? " " : "", schema ? typeOf(schema) : ""]);
    }));
  }

  function parameters(params) {
    return el("div", { class: "table-wrap" }, [
      el("table", { class: "api-table" }, [
        el("thead", {}, [el("tr", {}, [
          el("th", {}, ["parameter"]), el("th", {}, ["in"]), el("th", {}, ["type"]), el("th", {}, ["meaning"]),
        ])]),
        el("tbody", {}, params.map(function (p) {
          return el("tr", {}, [
            el("td", { class: "mono" }, [p.name + (p.required ? "" : "?")]),
            el("td", {}, [p.in]),
            el("td", {}, [typeOf(p.schema)]),
            el("td", {}, [p.description ? prose(p.description, "span") : ""]),
          ]);
        })),
      ]),
    ]);
  }

  function security(requirements) {
    if (!requirements || requirements.length === 0) {
      return el("p", { class: "muted" }, ["Open: no credentials needed."]);
    }
    var ways = requirements.map(function (requirement) {
      var names = Object.keys(requirement);
      return names.length === 0 ? "none" : names.join(" + ");
    });
    return el("p", {}, ["Needs: ", el("span", { class: "mono" }, [ways.join(" or ")])]);
  }

  function operation(path, method, op) {
    var head = el("summary", {}, [
      el("span", { class: "api-method api-method-" + method }, [method.toUpperCase()]),
      " ",
      el("span", { class: "mono api-path" }, [path]),
      " ",
      el("span", { class: "muted" }, [op.summary || ""]),
    ]);
    var body = [head];
    if (op.description) {
      body.push(prose(op.description));
    }
    body.push(security(op.security));
    if (op.parameters && op.parameters.length) {
      body.push(el("h4", {}, ["Parameters"]), parameters(op.parameters));
    }
    if (op.requestBody) {
      body.push(el("h4", {}, ["Request body"]));
      if (op.requestBody.description) {
        body.push(prose(op.requestBody.description));
      }
      body.push(contents(op.requestBody.content));
    }
    body.push(el("h4", {}, ["Responses"]));
    body.push(el("ul", { class: "api-responses" }, Object.keys(op.responses || {}).map(function (status) {
      var response = op.responses[status];
      return el("li", {}, [
        el("span", { class: "badge api-status api-status-" + status.charAt(0) }, [status]),
        " ",
        prose(response.description, "span"),
        response.content ? contents(response.content) : "",
      ]);
    })));
    var text = [path, method, op.summary, op.description, (op.tags || []).join(" ")].join(" ").toLowerCase();
    return el("details", { class: "card api-op", id: anchor("op", op.operationId || method + path), "data-text": text }, body);
  }

  function render(doc) {
    document.getElementById("api-title").textContent = (doc.info && doc.info.title) || "API reference";
    document.getElementById("api-version").textContent = "v" + ((doc.info && doc.info.version) || "?") + " · OpenAPI " + doc.openapi;
    document.getElementById("api-description").appendChild(prose(doc.info && doc.info.description, "span"));
    var tags = (doc.tags || []).map(function (t) {
      return t.name;
    });
    var byTag = {};
    Object.keys(doc.paths || {}).sort().forEach(function (path) {
      METHODS.forEach(function (method) {
        var op = doc.paths[path][method];
        if (!op) {
          return;
        }
        var tag = (op.tags && op.tags[0]) || "other";
        if (tags.indexOf(tag) < 0) {
          tags.push(tag);
        }
        (byTag[tag] = byTag[tag] || []).push(operation(path, method, op));
      });
    });
    var body = document.getElementById("api-body");
    var toc = document.getElementById("api-toc");
    body.textContent = "";
    var list = el("ul", {});
    tags.forEach(function (tag) {
      if (!byTag[tag]) {
        return;
      }
      var meta = (doc.tags || []).filter(function (t) {
        return t.name === tag;
      })[0];
      list.appendChild(el("li", {}, [el("a", { href: "#" + anchor("tag", tag) }, [tag + " (" + byTag[tag].length + ")"])]));
      body.appendChild(el("section", { class: "api-tag", id: anchor("tag", tag) }, [
        el("h2", {}, [tag]),
        meta && meta.description ? prose(meta.description) : "",
      ].concat(byTag[tag])));
    });
    var schemes = (doc.components && doc.components.securitySchemes) || {};
    list.appendChild(el("li", {}, [el("a", { href: "#api-security" }, ["credentials"])]));
    body.appendChild(el("section", { class: "api-tag", id: "api-security" }, [el("h2", {}, ["Credentials"])].concat(
      Object.keys(schemes).map(function (name) {
        var s = schemes[name];
        var how = s.type === "http" ? "HTTP " + s.scheme : s.type + " in " + s.in + " " + JSON.stringify(s.name);
        return el("div", { class: "card" }, [el("h3", { class: "mono" }, [name]), el("p", {}, [how]), prose(s.description)]);
      })
    )));
    var named = (doc.components && doc.components.schemas) || {};
    list.appendChild(el("li", {}, [el("a", { href: "#api-schemas" }, ["schemas (" + Object.keys(named).length + ")"])]));
    body.appendChild(el("section", { class: "api-tag", id: "api-schemas" }, [el("h2", {}, ["Schemas"])].concat(
      Object.keys(named).sort().map(function (name) {
        var schema = named[name];
        var variants = schema.oneOf || schema.anyOf;
        var shape = variants
          ? el("div", {}, [el("p", { class: "muted" }, ["One of:"])].concat(variants.map(function (variant) {
            return properties(variant) || el("p", {}, [typeOf(variant)]);
          })))
          : properties(schema) || el("p", {}, [typeOf(schema)]);
        return el("div", { class: "card api-schema", id: anchor("schema", name), "data-text": name.toLowerCase() }, [
          el("h3", { class: "mono" }, [name]),
          schema.description ? prose(schema.description) : "",
          shape,
        ]);
      })
    )));
    toc.appendChild(list);
    if (location.hash) {
      var target = document.getElementById(location.hash.slice(1));
      if (target) {
        target.open = true;
        target.scrollIntoView();
      }
    }
  }

  function filter(word) {
    word = word.trim().toLowerCase();
    var nodes = document.querySelectorAll("[data-text]");
    Array.prototype.forEach.call(nodes, function (node) {
      node.hidden = word !== "" && node.getAttribute("data-text").indexOf(word) < 0;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("api-filter");
    input.addEventListener("input", function () {
      filter(input.value);
    });
    fetch("/api/openapi.json", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(render)
      .catch(function (error) {
        document.getElementById("api-status").textContent = "The document could not be read: " + error.message + ".";
      });
  });
})();
