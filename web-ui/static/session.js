// Claude Ops: the session page's live activity log.
//
// Reads the server-sent events at the log's data-stream URL:
//   event: line    data: {"seq", "ts_ms", "raw", "malformed", "events": [{kind, ...}]}
//   event: status  data: {"status", "cost_usd", "turns", "ended_at_ms", "error", "exit_code", "summary"}
//   event: reload  (this page fell behind: reload it)
// The server replays every line from the start, then live ones; EventSource reconnects
// by itself with Last-Event-ID. Lines are de-duplicated by seq.
//
// Safety rule: model text, tool input and tool output are untrusted. Every node is
// built with createElement and filled with textContent; nothing is parsed as markup.
(function () {
  "use strict";

  const log = document.getElementById("activity");
  if (!log || typeof window.EventSource !== "function") return;

  const rowsEl = log.querySelector("[data-rows]");
  const emptyEl = log.querySelector("[data-empty]");
  const liveEl = document.querySelector("[data-live]");
  const liveText = document.querySelector("[data-live-text]");
  const connEl = document.querySelector("[data-conn]");
  const followBtn = document.querySelector("[data-follow]");
  const stopForm = document.querySelector("[data-stop-form]");

  const KNOWN_STATUSES = ["running", "completed", "failed", "timed_out", "stopped"];
  const LONG_LINES = 6;
  const LONG_CHARS = 480;

  let running = log.dataset.status === "running";
  let lastSeq = -Infinity;
  const seen = new Set();
  const calls = new Map(); // tool_use_id -> { wrap, pending, ts }

  // ---- small helpers ----

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  // Mirrors the server's `duration` filter: "850ms", "17s", "2m 05s", "1h 02m".
  function duration(ms) {
    ms = Math.max(0, Math.floor(Number(ms) || 0));
    if (ms < 1000) return ms + "ms";
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + pad(s % 60) + "s";
    return Math.floor(s / 3600) + "h " + pad(Math.floor((s % 3600) / 60)) + "m";
  }

  function usd(x) {
    return typeof x === "number" && isFinite(x) ? "$" + x.toFixed(4) : "$?";
  }

  // Log rows show UTC, as the card does ("times in UTC" heads the log); the
  // row's title gives the viewer's local time.
  function clock(ms) {
    const d = new Date(ms);
    if (isNaN(d.getTime())) return "";
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }

  function str(v) {
    return typeof v === "string" ? v : "";
  }

  function statusClass(status) {
    return KNOWN_STATUSES.indexOf(status) >= 0 ? status : "other";
  }

  // ---- tools ----

  // "Bash" -> "bash"; "mcp__grafana__query" -> "grafana · query".
  function toolLabel(name) {
    name = str(name) || "tool";
    if (name.indexOf("mcp__") === 0) {
      const parts = name.slice(5).split("__");
      if (parts.length >= 2 && parts[0]) {
        return { label: parts[0] + " · " + parts.slice(1).join("__"), mcp: true };
      }
    }
    return { label: name.toLowerCase(), mcp: false };
  }

  const KEY_ARGS = {
    Bash: "command",
    Read: "file_path",
    Write: "file_path",
    Edit: "file_path",
    MultiEdit: "file_path",
    NotebookEdit: "notebook_path",
    Grep: "pattern",
    Glob: "pattern",
    WebFetch: "url",
    WebSearch: "query",
  };

  // The argument worth showing beside the badge, and its key.
  function keyArgument(name, input) {
    if (typeof input === "string") return { key: null, value: input };
    if (!input || typeof input !== "object") return { key: null, value: "" };
    const key = KEY_ARGS[name];
    if (key && typeof input[key] === "string") return { key: key, value: input[key] };
    for (const k of Object.keys(input)) {
      if (typeof input[k] === "string" && input[k]) return { key: k, value: input[k] };
    }
    return { key: null, value: "" };
  }

  function renderCall(ev, line) {
    const wrap = el("div", "call-wrap");
    const tool = toolLabel(ev.name);
    const head = el("div", "call-head");
    const badge = el("span", "tool" + (tool.mcp ? " mcp" : ""), tool.label);
    badge.title = str(ev.name);
    head.append(badge);

    const input = ev.input;
    const arg = keyArgument(str(ev.name), input);
    const argEl = el("span", "arg", arg.value);
    const note = ev.name === "Bash" && input && str(input.description);
    if (note) argEl.append(el("span", "arg-note", note));
    head.append(argEl);

    const pending = el("span", "pending", "running");
    if (running) head.append(pending);

    // Fold the full input beneath when it says more than the key argument.
    const shown = [arg.key, "description"];
    const extra = input && typeof input === "object"
      ? Object.keys(input).filter(function (k) { return shown.indexOf(k) < 0; })
      : [];
    if (extra.length > 0) {
      const details = el("details", "call");
      const summary = el("summary");
      summary.title = "Show the full input";
      summary.append(head);
      details.append(summary, el("pre", "input-json", JSON.stringify(input, null, 2)));
      wrap.append(details);
    } else {
      wrap.append(head);
    }
    if (str(ev.id)) calls.set(ev.id, { wrap: wrap, pending: pending, ts: line.ts_ms });
    return wrap;
  }

  function looksDenied(text) {
    return /permission|denied|haven't granted|not allowed|needs approval/i.test(text);
  }

  function renderToolResult(ev, line, call) {
    const content = typeof ev.content === "string" ? ev.content : JSON.stringify(ev.content);
    const lines = content.split("\n");
    const long = lines.length > LONG_LINES || content.length > LONG_CHARS;
    const details = el("details", "fold" + (ev.is_error ? " error" : ""));
    details.open = !long;

    const summary = el("summary");
    const firstLine = lines.find(function (l) { return l.trim() !== ""; }) || "(empty)";
    summary.append(el("span", "preview", firstLine.trim().slice(0, 200)));
    const meta = [];
    if (ev.is_error) meta.push(looksDenied(content) ? "denied" : "error");
    else meta.push("result");
    meta.push(lines.length + (lines.length === 1 ? " line" : " lines"));
    if (call && typeof call.ts === "number" && typeof line.ts_ms === "number") {
      meta.push(duration(line.ts_ms - call.ts));
    }
    if (call) meta.push("#" + line.seq);
    summary.append(el("span", "meta", meta.join(" · ")));
    details.append(summary, el("pre", null, content));
    return details;
  }

  // A browser screenshot the worker took for the operator, secrets masked.
  function renderScreenshot(ev) {
    const figure = el("figure", "screenshot");
    const type = str(ev.media_type);
    const data = str(ev.data);
    const n = Number(ev.n) || 0;
    if ((type === "image/png" || type === "image/jpeg") && /^[A-Za-z0-9+/=]+$/.test(data)) {
      const img = el("img", "tool-image");
      img.src = "data:" + type + ";base64," + data;
      img.alt = "Browser screenshot " + n + ", secrets masked";
      img.loading = "lazy";
      figure.append(img);
    }
    figure.append(el("figcaption", "meta", "browser screenshot " + n + " · secrets masked before capture · not shown to the model"));
    return figure;
  }

  function attachResult(call, ev, line) {
    call.pending.remove();
    call.wrap.append(renderToolResult(ev, line, call));
  }

  // ---- init and final result ----

  function renderInit(ev) {
    const box = el("div", "init-line");
    box.append(el("span", "title", "session started"));
    const parts = [];
    if (str(ev.model)) parts.push(el("span", null, ev.model));
    const tools = Array.isArray(ev.tools) ? ev.tools : [];
    const toolsEl = el("span", null, tools.length + (tools.length === 1 ? " tool" : " tools"));
    toolsEl.title = tools.join(", ");
    parts.push(toolsEl);
    const servers = Array.isArray(ev.mcp_servers) ? ev.mcp_servers : [];
    if (servers.length > 0) {
      const mcp = el("span", null, "MCP: ");
      servers.forEach(function (s, i) {
        const ok = str(s && s.status) === "connected";
        const name = el("span", ok ? null : "mcp-failed", str(s && s.name) || "?");
        name.title = str(s && s.status);
        if (i > 0) mcp.append(", ");
        mcp.append(name);
        if (!ok) mcp.append(" (" + (str(s && s.status) || "unknown") + ")");
      });
      parts.push(mcp);
    } else {
      parts.push(el("span", null, "no MCP servers"));
    }
    parts.forEach(function (p) {
      box.append(el("span", "sep", "·"), p);
    });
    return box;
  }

  const LEVELS = ["critical", "warning", "info"];

  function renderStructured(block, out) {
    if (str(out.summary)) block.append(el("p", "summary", out.summary));

    const events = Array.isArray(out.events) ? out.events.filter(function (e) { return e && typeof e === "object"; }) : [];
    if (events.length > 0) {
      block.append(el("h3", null, "Events"));
      const list = el("ul");
      const rank = function (e) {
        const i = LEVELS.indexOf(str(e.level));
        return i < 0 ? LEVELS.length : i;
      };
      events.slice().sort(function (a, b) { return rank(a) - rank(b); }).forEach(function (e) {
        const level = str(e.level) || "info";
        const li = el("li");
        li.append(el("span", "lvl lvl-" + (LEVELS.indexOf(level) >= 0 ? level : "info"), level));
        const msg = el("span");
        if (str(e.service)) msg.append(el("span", "svc", e.service), " ");
        msg.append(str(e.message));
        li.append(msg);
        list.append(li);
      });
      block.append(list);
    }

    const services = Array.isArray(out.services_checked) ? out.services_checked : [];
    if (services.length > 0) {
      block.append(el("h3", null, "Services checked"));
      const list = el("ul");
      services.forEach(function (s) {
        const li = el("li");
        if (typeof s === "string") {
          li.append(el("span", "svc", s));
        } else if (s && typeof s === "object") {
          li.append(el("span", "svc", str(s.service) || str(s.name) || "?"));
          const status = str(s.status);
          if (status) li.append(el("span", null, status));
          const detail = str(s.details) || str(s.detail) || str(s.message);
          if (detail) li.append(el("span", "muted", detail));
        }
        list.append(li);
      });
      block.append(list);
    }

    const esc = out.escalation;
    if (esc && typeof esc === "object") {
      block.append(el("h3", null, "Escalation"));
      if (esc.needed === true) {
        const p = el("p", "escalation needed", "Escalation needed" + (str(esc.reason) ? ": " + esc.reason : ""));
        block.append(p);
        const failed = Array.isArray(esc.failed_checks) ? esc.failed_checks : [];
        if (failed.length > 0) {
          const list = el("ul");
          failed.forEach(function (f) {
            const li = el("li", "failed-check");
            li.append(el("span", null, typeof f === "string" ? f : JSON.stringify(f)));
            list.append(li);
          });
          block.append(list);
        }
      } else {
        block.append(el("p", "escalation none", "No escalation needed"));
      }
    }

    const memories = Array.isArray(out.memories) ? out.memories : [];
    if (memories.length > 0) {
      block.append(el("h3", null, "Memories recorded"));
      const list = el("ul");
      memories.forEach(function (m) {
        const li = el("li");
        li.append(el("span", "svc", str(m && m.key)), str(m && m.value));
        list.append(li);
      });
      block.append(list);
    }
  }

  function renderFinal(ev) {
    const block = el("div", "result-block" + (ev.is_error ? " error" : ""));
    const head = el("div");
    let title = ev.is_error ? "run failed" : "run finished";
    if (str(ev.subtype) && ev.subtype !== "success") title += " · " + ev.subtype;
    head.append(el("span", "title", title));
    const stats = [usd(ev.total_cost_usd)];
    if (typeof ev.num_turns === "number") stats.push(ev.num_turns + (ev.num_turns === 1 ? " turn" : " turns"));
    if (typeof ev.duration_ms === "number") stats.push(duration(ev.duration_ms));
    head.append(el("span", "stats", stats.join(" · ")));
    block.append(head);

    const out = ev.structured_output;
    if (out && typeof out === "object" && !Array.isArray(out)) {
      renderStructured(block, out);
    } else if (str(ev.result)) {
      block.append(el("p", "summary", ev.result));
    }
    return block;
  }

  // ---- rows ----

  function makeRow(seq, tsMs, extraClass) {
    const li = el("li", "row" + (extraClass ? " " + extraClass : ""));
    li.dataset.seq = String(seq);
    li.append(el("span", "ln", seq));
    const ts = el("span", "ts", clock(tsMs));
    if (typeof tsMs === "number") ts.title = "local time: " + new Date(tsMs).toLocaleString();
    li.append(ts);
    const body = el("div", "body");
    li.append(body);
    return { li: li, body: body };
  }

  // Rows stay in seq order even if a line arrives late.
  function insertRow(li, seq) {
    if (seq > lastSeq) {
      rowsEl.append(li);
      lastSeq = seq;
      return;
    }
    for (const child of rowsEl.children) {
      if (Number(child.dataset.seq) > seq) {
        rowsEl.insertBefore(li, child);
        return;
      }
    }
    rowsEl.append(li);
  }

  function rawFold(label, raw) {
    const details = el("details", "fold");
    const summary = el("summary");
    summary.append(el("span", "meta", label));
    details.append(summary, el("pre", null, raw));
    return details;
  }

  function renderLine(line) {
    if (line.malformed) {
      const r = makeRow(line.seq, line.ts_ms, "malformed");
      r.body.append(el("span", "tag tag-bad", "malformed"), " ", el("code", "raw", str(line.raw)));
      return r;
    }
    let row = null;
    let quiet = true;
    const body = function () {
      if (!row) row = makeRow(line.seq, line.ts_ms);
      return row.body;
    };
    const events = Array.isArray(line.events) ? line.events : [];
    const others = [];
    events.forEach(function (ev) {
      switch (ev && ev.kind) {
        case "init":
          body().append(renderInit(ev));
          quiet = false;
          break;
        case "text":
          if (str(ev.text).trim() !== "") {
            body().append(el("div", "text", ev.text));
            quiet = false;
          }
          break;
        case "tool_use":
          body().append(renderCall(ev, line));
          quiet = false;
          break;
        case "tool_result": {
          const call = calls.get(ev.tool_use_id);
          if (call) {
            attachResult(call, ev, line);
          } else {
            body().append(renderToolResult(ev, line, null));
            quiet = false;
          }
          break;
        }
        case "result":
          body().append(renderFinal(ev));
          quiet = false;
          break;
        case "screenshot":
          body().append(renderScreenshot(ev));
          quiet = false;
          break;
        default:
          others.push(str(ev && ev.line_type) || str(ev && ev.kind) || "event");
      }
    });
    if (others.length > 0 || (events.length === 0 && !row)) {
      const onlySystem = !row;
      body().append(rawFold((others.join(", ") || "nothing to show") + " · raw", str(line.raw)));
      if (onlySystem) row.system = true;
    }
    if (row && quiet) row.li.classList.add("quiet");
    return row;
  }

  // Lines with nothing but system events (hooks, init noise, rate-limit
  // notices) fold into one group per run of them: "3 system lines".
  let systemGroup = null;

  function groupSystemRow(row, seq) {
    if (!systemGroup || seq < systemGroup.lastSeq || seq !== lastSeq + 1 || rowsEl.lastElementChild !== systemGroup.li) {
      const li = el("li", "row quiet system-group");
      li.dataset.seq = String(seq);
      li.append(el("span", "ln", seq), el("span", "ts", row.li.querySelector(".ts").textContent));
      const details = el("details", "fold");
      const summary = el("summary");
      const label = el("span", "meta");
      summary.append(label);
      const inner = el("ol", "log-rows system-rows");
      details.append(summary, inner);
      const body = el("div", "body");
      body.append(details);
      li.append(body);
      systemGroup = { li: li, inner: inner, label: label, count: 0, lastSeq: seq };
      insertRow(li, seq);
    }
    systemGroup.inner.append(row.li);
    systemGroup.count += 1;
    systemGroup.lastSeq = seq;
    lastSeq = Math.max(lastSeq, seq);
    systemGroup.label.textContent = systemGroup.count + (systemGroup.count === 1 ? " system line" : " system lines");
  }

  // Turns so far, while the session runs: one per assistant message seen.
  let liveTurns = 0;

  function onLine(e) {
    let line;
    try {
      line = JSON.parse(e.data);
    } catch (_) {
      return;
    }
    if (!line || typeof line.seq !== "number" || seen.has(line.seq)) return;
    seen.add(line.seq);
    let row;
    try {
      row = renderLine(line);
    } catch (err) {
      row = makeRow(line.seq, line.ts_ms, "malformed");
      row.body.append(el("span", "tag tag-bad", "could not render"), " ", el("code", "raw", str(line.raw)));
    }
    if (!row) return;
    if (running && Array.isArray(line.events) && line.events.some(function (ev) {
      return ev && (ev.kind === "text" || ev.kind === "tool_use") && ev.line_type !== "user";
    })) {
      liveTurns += 1;
      setText("turns", liveTurns + " so far");
    }
    if (row.system && line.seq > lastSeq) {
      groupSystemRow(row, line.seq);
    } else {
      systemGroup = null;
      insertRow(row.li, line.seq);
    }
    if (emptyEl) emptyEl.hidden = true;
    scheduleFollow();
  }

  // ---- status, card, live indicator ----

  function setText(field, text) {
    document.querySelectorAll('[data-field="' + field + '"]').forEach(function (node) {
      node.textContent = text;
    });
  }

  function setConn(text) {
    if (connEl) connEl.textContent = text;
  }

  let ticker = null;
  const baseDuration = Number(log.dataset.durationMs) || 0;
  const loadedAt = performance.now();

  function tick() {
    setText("duration", duration(baseDuration + performance.now() - loadedAt) + " (running)");
  }

  function onStatus(e) {
    let st;
    try {
      st = JSON.parse(e.data);
    } catch (_) {
      return;
    }
    if (!st || typeof st.status !== "string") return;
    document.querySelectorAll('[data-field="status"]').forEach(function (node) {
      node.className = "badge status-" + statusClass(st.status);
      node.textContent = st.status.replace(/_/g, " ");
    });
    if (st.status === "running") return;
    if (typeof st.cost_usd === "number") setText("cost", usd(st.cost_usd));
    if (typeof st.turns === "number") setText("turns", String(st.turns));
    setText("exit_code", typeof st.exit_code === "number" ? String(st.exit_code) : "none (no exit code)");
    const summaryBox = document.querySelector("[data-summary]");
    if (summaryBox && str(st.summary)) {
      summaryBox.querySelector("p").textContent = st.summary;
      summaryBox.hidden = false;
    }

    running = false;
    if (ticker !== null) clearInterval(ticker);
    const started = Number(log.dataset.startedMs);
    if (typeof st.ended_at_ms === "number" && started > 0) {
      setText("duration", duration(st.ended_at_ms - started));
    }
    const errorBox = document.querySelector('[data-field="error"]');
    if (errorBox && str(st.error)) {
      errorBox.textContent = st.error;
      errorBox.hidden = false;
    }
    if (stopForm) stopForm.remove();
    if (liveEl) liveEl.hidden = true;
    calls.forEach(function (call) {
      call.pending.remove();
    });
    const bad = st.status !== "completed";
    const end = el("li", "row quiet");
    end.append(el("span", "ln"), el("span", "ts", typeof st.ended_at_ms === "number" ? clock(st.ended_at_ms) : ""));
    end.append(el("div", "body status-line" + (bad ? " bad" : ""), "session " + st.status.replace(/_/g, " ") + (str(st.error) ? ": " + st.error : "")));
    rowsEl.append(end);
    if (emptyEl) emptyEl.hidden = true;
    setConn(seen.size + (seen.size === 1 ? " line" : " lines"));
    source.close();
    // Other parts of the page (the approvals card) learn it ended.
    document.dispatchEvent(new CustomEvent("claudeops:session-ended"));
    scheduleFollow();
  }

  function onReload() {
    source.close();
    setConn("catching up…");
    window.setTimeout(function () {
      window.location.reload();
    }, 200);
  }

  // ---- following (auto-scroll) ----

  let following = running;
  let autoScrolling = false;
  let followQueued = false;

  function atBottom() {
    const doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 48;
  }

  function showFollowing() {
    if (!followBtn) return;
    followBtn.setAttribute("aria-pressed", following ? "true" : "false");
    followBtn.title = following ? "Scrolling with new lines; click to stop" : "Click to follow new lines";
  }

  function scrollToEnd() {
    autoScrolling = true;
    window.scrollTo(0, document.documentElement.scrollHeight);
    window.requestAnimationFrame(function () {
      autoScrolling = false;
    });
  }

  function scheduleFollow() {
    if (!following || followQueued) return;
    followQueued = true;
    window.requestAnimationFrame(function () {
      followQueued = false;
      if (following) scrollToEnd();
    });
  }

  if (followBtn) {
    followBtn.hidden = false;
    followBtn.addEventListener("click", function () {
      following = !following;
      showFollowing();
      if (following) scrollToEnd();
    });
  }
  window.addEventListener("scroll", function () {
    if (autoScrolling) return;
    const bottom = atBottom();
    if (following && !bottom) {
      following = false;
      showFollowing();
    } else if (!following && bottom && running) {
      following = true;
      showFollowing();
    }
  }, { passive: true });
  showFollowing();

  if (stopForm) {
    stopForm.addEventListener("submit", function (e) {
      if (!window.confirm("Stop session #" + log.dataset.session + "?")) {
        e.preventDefault();
        return;
      }
      // Feedback while the stop travels to the worker: the page comes back
      // with the answer, and the status event ends the log.
      const button = stopForm.querySelector("button");
      if (button) {
        button.disabled = true;
        button.textContent = "Stopping…";
      }
      stopForm.setAttribute("aria-busy", "true");
      setConn("stopping…");
    });
  }

  // ---- connect ----

  if (running) ticker = window.setInterval(tick, 1000);

  const source = new EventSource(log.dataset.stream);
  source.addEventListener("line", onLine);
  source.addEventListener("status", onStatus);
  source.addEventListener("reload", onReload);
  source.addEventListener("open", function () {
    if (liveEl) liveEl.classList.remove("reconnecting");
    if (liveText) liveText.textContent = "live";
    setConn(running ? "connected" : "");
  });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) {
      setConn("disconnected: reload the page to retry");
      if (liveEl) liveEl.classList.add("reconnecting");
      if (liveText) liveText.textContent = "offline";
    } else {
      setConn("reconnecting…");
      if (liveEl) liveEl.classList.add("reconnecting");
      if (liveText) liveText.textContent = "reconnecting";
    }
  });
})();
