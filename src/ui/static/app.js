// The logward web UI: one page, routes in the URL's fragment, data from the JSON API
// (docs/UI.md). Log content is attacker-controlled: it is only ever put into the page as text
// nodes (el() below never parses HTML), links are built only from our own routes with
// encoded names, and nothing here uses innerHTML, eval or inline handlers (the CSP forbids
// them anyway).

const PAYLOAD_SHOWN = 2000; // characters of one record shown before "show all"
const PAGE = 200;
const WARN_KINDS = new Set(["gap", "trunc", "evict", "refused", "error"]);
const SESSION_KINDS = new Set(["open", "close"]);

let csrf = "";
/** The live tail's EventSource, closed whenever the view changes. */
let tail = null;
/** The last /api/origins answer, for the stream tabs and the delete dialog's counts. */
let originsCache = null;

// ---------- helpers ----------

/** An element with attributes and children; strings become text nodes, never markup. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "onclick") e.addEventListener("click", v);
    else if (k === "oninput") e.addEventListener("input", v);
    else if (k === "onsubmit") e.addEventListener("submit", v);
    else if (k === "className") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}

/** One paragraph per damaged range the server skipped (a compressed frame it could not read). */
function damagedNotes(sentences) {
  return (sentences ?? []).map((text) => el("p", { className: "damaged", role: "alert" }, text));
}

function $(id) {
  return document.getElementById(id);
}

/** A route link: each part encoded, so a name can never become a scheme or another route. */
function route(parts, params) {
  const path = `#/${parts.map((p) => encodeURIComponent(p)).join("/")}`;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {}))
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

function apiUrl(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

async function api(path, params) {
  const res = await fetch(apiUrl(path, params), { credentials: "same-origin" });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error?.message ?? `The server answered ${res.status}.`);
  return body;
}

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message ?? data?.message ?? `The server answered ${res.status}.`);
  return data;
}

let statusTimer = 0;
function status(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", isError);
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => {
    s.textContent = "";
  }, 6000);
}

function formatBytes(n) {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** "2026-11-25T13:45:01.123456Z" -> "2026-11-25 13:45:01" (the full time in the title). */
function shortTime(t) {
  return t ? `${t.slice(0, 10)} ${t.slice(11, 19)}` : "-";
}

function relative(t) {
  if (!t) return "";
  const s = Math.round((Date.now() - Date.parse(t)) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function setView(title, ...children) {
  // a live tail belongs to the view it was started from: one started from the old view's button
  // while this view was loading must not outlive it (render() stops the tail too, at once)
  stopTail();
  const v = $("view");
  v.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== ""));
  document.title = `${title} · logward`;
}

function navCurrent(name) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

/** A payload as text, cut at PAYLOAD_SHOWN characters with a button for the rest. */
function payloadCell(text, mark) {
  const td = el("td", { className: "payload" });
  const fill = (s) => {
    td.replaceChildren();
    if (mark) {
      let at = 0;
      for (;;) {
        const i = mark.ignoreCase ? s.toLowerCase().indexOf(mark.lower, at) : s.indexOf(mark.text, at);
        if (i === -1 || mark.text.length === 0) break;
        td.append(
          document.createTextNode(s.slice(at, i)),
          el("mark", null, s.slice(i, i + mark.text.length)),
        );
        at = i + mark.text.length;
      }
      td.append(document.createTextNode(s.slice(at)));
    } else td.append(document.createTextNode(s));
  };
  if (text.length <= PAYLOAD_SHOWN) fill(text);
  else {
    fill(text.slice(0, PAYLOAD_SHOWN));
    td.append(
      el(
        "button",
        {
          className: "more",
          type: "button",
          onclick: () => fill(text),
        },
        `… show all ${text.length.toLocaleString()} characters`,
      ),
    );
  }
  return td;
}

/** A table in a panel: a header row of `heads`, then `tbody`. */
function panelTable(className, heads, tbody) {
  return el(
    "div",
    { className: "panel" },
    el(
      "table",
      { className },
      el(
        "thead",
        null,
        el(
          "tr",
          null,
          heads.map((h) => el("th", null, h)),
        ),
      ),
      tbody,
    ),
  );
}

function recordRow(r, opts = {}) {
  const cls = SESSION_KINDS.has(r.kind)
    ? "session"
    : WARN_KINDS.has(r.kind)
      ? "warn"
      : r.kind === "data"
        ? ""
        : "meta";
  const tr = el(
    "tr",
    {
      className: [cls, opts.highlight ? "highlight" : "", opts.fresh ? "new" : ""].join(" ").trim(),
      "data-seq": r.seq,
    },
    opts.origin
      ? el(
          "td",
          { className: "nowrap" },
          el(
            "a",
            { href: route(["stream", r.origin, r.stream], { from: Math.max(1, r.seq - 20), hl: r.seq }) },
            `${r.origin}/${r.stream}`,
          ),
        )
      : null,
    el("td", { className: "time", title: r.time }, shortTime(r.time)),
    el("td", { className: "seq" }, String(r.seq)),
    el("td", { className: "kind" }, r.kind === "data" ? "" : `!${r.kind}`),
    payloadCell(r.payload, opts.mark),
  );
  if (r.kind === "blob") {
    // an object: open its bytes in the viewer for its type (never shown in the page)
    tr.lastChild.append(
      " ",
      el(
        "button",
        {
          type: "button",
          onclick: () => void openViewer({ origin: r.origin, stream: r.stream, seq: r.seq }),
        },
        "Open",
      ),
    );
  }
  return tr;
}

// ---------- alerts ----------

function showAlerts(alerts) {
  const banner = $("banner");
  const count = $("alert-count");
  if (!alerts || alerts.length === 0) {
    banner.hidden = true;
    count.hidden = true;
    return;
  }
  const newest = alerts[0];
  banner.replaceChildren(
    el("strong", null, `${alerts.length} alert${alerts.length === 1 ? "" : "s"} in the last 24 hours. `),
    `Newest (${shortTime(newest.time)}): ${newest.message || `${newest.alert} ${newest.origin ?? ""}`}`,
    el("a", { href: "#/alerts" }, "See all"),
  );
  banner.hidden = false;
  count.textContent = String(alerts.length);
  count.hidden = false;
}

async function alertsPage() {
  navCurrent("alerts");
  const data = await api("/api/origins");
  originsCache = data;
  showAlerts(data.alerts);
  const rows = data.alerts.map((a) =>
    el(
      "tr",
      null,
      el("td", { className: "nowrap", title: a.time }, shortTime(a.time)),
      el("td", { className: "nowrap" }, a.alert),
      el("td", { className: "name" }, a.origin ?? a.group ?? "-"),
      el("td", { className: "payload" }, a.message),
    ),
  );
  setView(
    "Alerts",
    el("h1", null, "Alerts"),
    el(
      "p",
      { className: "summary" },
      "Quota, rate, disk and reload alerts of the last 24 hours, newest first (all of them: logward alerts).",
    ),
    rows.length === 0
      ? el("div", { className: "panel" }, el("p", { className: "empty" }, "No alerts in the last 24 hours."))
      : panelTable("alerts", ["Time", "Alert", "Origin", "Message"], el("tbody", null, rows)),
  );
}

// ---------- origins ----------

const COLUMNS = [
  { key: "origin", label: "Origin" },
  { key: "stream", label: "Stream" },
  { key: "records", label: "Records", num: true },
  { key: "bytes", label: "On disk", num: true },
  { key: "quota_use", label: "Quota", num: true },
  { key: "drops", label: "Drops", num: true },
  { key: "first", label: "First received" },
  { key: "last", label: "Last received" },
  { key: "live", label: "State" },
];
const sortState = { key: "origin", dir: 1 };
let filterText = "";

async function originsPage() {
  navCurrent("origins");
  const data = await api("/api/origins");
  originsCache = data;
  showAlerts(data.alerts);
  const rows = data.streams.map((s) => ({ ...s, quota_use: s.quota ? s.origin_bytes / s.quota : -1 }));
  const tbody = el("tbody");
  const summary = el("p", { className: "summary" });
  const head = el("tr");
  const render = () => {
    const f = filterText.toLowerCase();
    const shown = rows
      .filter((r) => !f || `${r.origin}/${r.stream}`.toLowerCase().includes(f))
      .sort((a, b) => {
        const x = a[sortState.key];
        const y = b[sortState.key];
        return (x < y ? -1 : x > y ? 1 : 0) * sortState.dir || (a.origin < b.origin ? -1 : 1);
      });
    const origins = new Set(rows.map((r) => r.origin)).size;
    const total = rows.reduce((n, r) => n + r.records, 0);
    const bytes = rows.reduce((n, r) => n + r.bytes, 0);
    summary.textContent = `${origins} origins, ${rows.length} streams, ${total.toLocaleString()} records, ${formatBytes(bytes)} on disk${shown.length !== rows.length ? ` (${shown.length} shown)` : ""}.`;
    tbody.replaceChildren(
      ...shown.map((r) => {
        const pct = r.quota ? Math.min(100, Math.round((100 * r.origin_bytes) / r.quota)) : null;
        const fill = el("span", { className: "fill" });
        if (pct !== null) fill.style.width = `${pct}%`;
        return el(
          "tr",
          { "data-stream": `${r.origin}/${r.stream}` },
          el("td", { className: "name" }, el("a", { href: route(["stream", r.origin, r.stream]) }, r.origin)),
          el("td", { className: "name" }, r.stream),
          el("td", { className: "num", "data-col": "records" }, r.records.toLocaleString()),
          el("td", { className: "num" }, formatBytes(r.bytes)),
          el(
            "td",
            { className: "nowrap" },
            pct === null
              ? el("span", { className: "muted" }, "-")
              : [
                  el(
                    "span",
                    {
                      className: `bar${pct >= 100 ? " full" : pct >= 80 ? " high" : ""}`,
                      title: `${pct}% of ${formatBytes(r.quota)}`,
                    },
                    fill,
                  ),
                  ` ${pct}% of ${formatBytes(r.quota)}`,
                ],
          ),
          el(
            "td",
            {
              className: "num",
              "data-col": "drops",
              title: "dropped or refused by the collector since the store began (logward ls, DROPS)",
            },
            (r.drops ?? 0).toLocaleString(),
          ),
          el("td", { className: "nowrap", title: r.first }, shortTime(r.first)),
          el(
            "td",
            { title: r.last },
            el("span", { className: "nowrap" }, shortTime(r.last)),
            " ",
            el("span", { className: "muted nowrap" }, relative(r.last)),
          ),
          el(
            "td",
            { className: "nowrap" },
            el("span", { className: `dot${r.live ? " live" : ""}` }),
            r.live ? "live" : "idle",
            r.state && r.state !== "ok" ? [" ", el("span", { className: "tag" }, r.state)] : null,
          ),
          el("td", { className: "actions" }, ...streamActions(r)),
        );
      }),
    );
    if (shown.length === 0)
      tbody.replaceChildren(
        el(
          "tr",
          null,
          el(
            "td",
            { colspan: COLUMNS.length + 1, className: "empty" },
            rows.length === 0 ? "No records yet: nothing has been collected." : "Nothing matches the filter.",
          ),
        ),
      );
    head.replaceChildren(
      ...COLUMNS.map((c) =>
        el(
          "th",
          {
            "aria-sort":
              sortState.key === c.key ? (sortState.dir === 1 ? "ascending" : "descending") : "none",
            className: c.num ? "num" : "",
          },
          el(
            "button",
            {
              type: "button",
              onclick: () => {
                sortState.dir = sortState.key === c.key ? -sortState.dir : c.num ? -1 : 1;
                sortState.key = c.key;
                render();
              },
            },
            c.label,
          ),
        ),
      ),
      el("th", { className: "actions" }, el("span", { className: "muted" }, "Actions")),
    );
  };
  const filter = el("input", {
    type: "search",
    className: "wide",
    id: "filter",
    placeholder: "Filter origins and streams  ( / )",
    "aria-label": "Filter origins and streams",
    value: filterText,
    oninput: (e) => {
      filterText = e.target.value;
      render();
    },
  });
  render();
  setView(
    "Origins",
    el(
      "div",
      { className: "toolbar" },
      el("h1", null, "Origins"),
      el("span", { className: "spacer" }),
      filter,
      el("button", { type: "button", onclick: () => void originsPage() }, "Refresh"),
    ),
    summary,
    el("div", { className: "panel" }, el("table", { className: "origins" }, el("thead", null, head), tbody)),
    ...outputsPanel(data.outputs),
  );
}

/** The outputs ([[output]]) with their lag, restarts and last error; nothing when there are none. */
function outputsPanel(outputs) {
  if (!outputs || outputs.length === 0) return [];
  const rows = outputs.map((o) =>
    el(
      "tr",
      { "data-output": o.name },
      el("td", { className: "name" }, o.name),
      el("td", null, o.type),
      el("td", { className: "name" }, o.match),
      el(
        "td",
        { className: "nowrap" },
        el("span", { className: `dot${o.status === "running" ? " live" : ""}` }),
        o.status,
      ),
      el("td", { className: "num" }, o.position.toLocaleString()),
      el("td", { className: "num" }, o.lag_records.toLocaleString()),
      el("td", { className: "num" }, o.lag_seconds === null ? "?" : `${o.lag_seconds} s`),
      el("td", { className: "num" }, String(o.restarts)),
      el("td", { className: "payload", title: o.last_error_at ?? "" }, o.last_error ?? "-"),
    ),
  );
  return [
    el("h2", null, "Outputs"),
    panelTable(
      "outputs",
      ["Output", "Type", "Match", "Status", "Delivered", "Lag (records)", "Lag", "Restarts", "Last error"],
      el("tbody", null, rows),
    ),
  ];
}

function streamActions(r) {
  // the collector's own origin holds the trail of deletions: it cannot be deleted
  const deletable = r.origin !== "_logward";
  return [
    el(
      "a",
      {
        className: "button",
        href: apiUrl("/api/export", { origin: r.origin, stream: r.stream }),
        download: "",
      },
      "Export",
    ),
    el(
      "button",
      { type: "button", onclick: () => void openViewer({ origin: r.origin, stream: r.stream }) },
      "Open",
    ),
    deletable &&
      el(
        "button",
        {
          type: "button",
          className: "danger",
          onclick: () => void confirmDelete(r.origin, r.stream, r.records),
        },
        "Delete",
      ),
  ];
}

async function openViewer(sel) {
  try {
    const res = await post("/api/open", sel);
    status(
      res.object
        ? `Opened object ${res.object.seq} (${res.object.type}) in ${res.viewer}.`
        : `Opened ${res.records.toLocaleString()} records in ${res.viewer}.`,
    );
  } catch (err) {
    status(err.message, true);
  }
}

function confirmDelete(origin, stream, records) {
  const dialog = $("confirm");
  $("confirm-text").textContent =
    `Delete all ${Number(records).toLocaleString()} records of ${origin}/${stream}? This cannot be undone.`;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      async () => {
        if (dialog.returnValue !== "delete") {
          status("Nothing was deleted.");
          resolve(false);
          return;
        }
        try {
          const res = await post("/api/rm", { origin, stream });
          status(
            `Deleted ${res.records.toLocaleString()} records of ${origin}/${stream}; the deletion is recorded in _logward/deletions.`,
          );
          if (location.hash.startsWith("#/stream/")) location.hash = "#/";
          else await originsPage();
          resolve(true);
        } catch (err) {
          status(err.message, true);
          resolve(false);
        }
      },
      { once: true },
    );
  });
}

// ---------- one stream ----------

async function streamPage(origin, stream, params) {
  navCurrent("origins");
  if (!originsCache) originsCache = await api("/api/origins");
  showAlerts(originsCache.alerts);
  const since = params.get("since") ?? "";
  const until = params.get("until") ?? "";
  const hl = Number(params.get("hl") ?? 0);
  const data = await api("/api/records", {
    origin,
    stream,
    since,
    until,
    from: params.get("from") ?? "",
    limit: PAGE,
  });
  const siblings = originsCache.streams.filter((s) => s.origin === origin);
  const info = siblings.find((s) => s.stream === stream);
  const tbody = el(
    "tbody",
    null,
    data.records.map((r) => recordRow(r, { highlight: r.seq === hl })),
  );
  if (data.records.length === 0)
    tbody.append(el("tr", null, el("td", { colspan: 4, className: "empty" }, "No records in this window.")));
  const firstShown = data.records[0]?.seq ?? 0;
  const lastShown = data.records.at(-1)?.seq ?? 0;
  const sinceInput = el("input", {
    type: "text",
    className: "time",
    id: "since",
    value: since,
    placeholder: "since: 2026-11-25T10:00Z or -1h",
    "aria-label": "Since",
  });
  const untilInput = el("input", {
    type: "text",
    className: "time",
    id: "until",
    value: until,
    placeholder: "until",
    "aria-label": "Until",
  });
  const go = (p) => {
    location.hash = route(["stream", origin, stream], p);
  };
  const liveButton = el("button", { type: "button", "aria-pressed": "false", id: "live" }, "Live tail");
  const liveNote = el("span", { className: "live-indicator", "aria-live": "polite" });
  liveButton.addEventListener("click", () => {
    if (tail) {
      stopTail();
      liveButton.setAttribute("aria-pressed", "false");
      liveNote.textContent = "";
      return;
    }
    const after = Math.max(lastShown, data.last_seq);
    tail = new EventSource(apiUrl("/api/tail", { origin, stream, after }));
    liveButton.setAttribute("aria-pressed", "true");
    liveNote.textContent = "● live";
    tail.addEventListener("record", (e) => {
      const r = JSON.parse(e.data);
      const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
      tbody.querySelector(".empty")?.parentElement?.remove();
      tbody.append(recordRow(r, { fresh: true }));
      if (atBottom) window.scrollTo(0, document.body.scrollHeight);
    });
    tail.addEventListener("error", () => {
      liveNote.textContent = "● reconnecting…";
    });
    tail.addEventListener("open", () => {
      liveNote.textContent = "● live";
    });
  });
  setView(
    `${origin}/${stream}`,
    el("h1", null, `${origin} / ${stream}`),
    siblings.length > 1
      ? el(
          "nav",
          { className: "tabs", "aria-label": "Streams" },
          siblings.map((s) =>
            el(
              "a",
              {
                href: route(["stream", origin, s.stream]),
                "aria-current": s.stream === stream ? "page" : null,
              },
              s.stream,
            ),
          ),
        )
      : null,
    el(
      "p",
      { className: "summary" },
      info
        ? `${info.records.toLocaleString()} records (seq ${info.first_seq}–${info.last_seq}), ${formatBytes(info.bytes)} on disk, ${info.live ? "live" : "idle"}. `
        : "",
      data.records.length
        ? `Showing seq ${firstShown}–${lastShown}${since || until ? ` in ${since || "…"} – ${until || "…"}` : ""}.`
        : "",
    ),
    damagedNotes(data.damaged),
    el(
      "form",
      {
        className: "toolbar",
        onsubmit: (e) => {
          e.preventDefault();
          go({ since: sinceInput.value.trim(), until: untilInput.value.trim() });
        },
      },
      sinceInput,
      untilInput,
      el("button", { type: "submit" }, "Apply"),
      el(
        "button",
        {
          type: "button",
          disabled: firstShown <= data.first_seq,
          onclick: () => go({ from: Math.max(1, firstShown - PAGE), since, until }),
        },
        "« Older",
      ),
      el(
        "button",
        { type: "button", disabled: !data.more, onclick: () => go({ from: lastShown + 1, since, until }) },
        "Newer »",
      ),
      el("button", { type: "button", onclick: () => go({}) }, "Newest"),
      liveButton,
      liveNote,
      el("span", { className: "spacer" }),
      el(
        "a",
        { className: "button", href: apiUrl("/api/export", { origin, stream, since, until }), download: "" },
        "Export",
      ),
      el(
        "button",
        { type: "button", onclick: () => void openViewer({ origin, stream, since, until }) },
        "Open in viewer",
      ),
      origin !== "_logward" &&
        el(
          "button",
          {
            type: "button",
            className: "danger",
            onclick: () => void confirmDelete(origin, stream, info?.records ?? data.records.length),
          },
          "Delete…",
        ),
    ),
    panelTable("records", ["Received", "Seq", "Kind", "Payload (escaped as stored)"], tbody),
  );
  if (hl) tbody.querySelector(".highlight")?.scrollIntoView({ block: "center" });
}

// ---------- search ----------

async function searchPage(params) {
  navCurrent("search");
  const q = params.get("q") ?? "";
  const fields = {
    q: el("input", {
      type: "search",
      className: "wide",
      id: "q",
      value: q,
      placeholder: "Text to find in every origin  ( / )",
      "aria-label": "Search for",
    }),
    origin: el("input", {
      type: "text",
      id: "origin",
      value: params.get("origin") ?? "",
      placeholder: "origin glob, e.g. disp*",
      "aria-label": "Origins",
    }),
    // syslog header filters, as `logward search --severity RANGE --field app=VALUE`
    severity: el("input", {
      type: "text",
      className: "field",
      id: "severity",
      value: params.get("severity") ?? "",
      placeholder: "severity, e.g. ..err",
      "aria-label": "Syslog severity (err, ..err = err or worse, warning..)",
      title: "Syslog severity: err (that one), ..err (err or more severe), warning.. (warning or less), 0-7",
    }),
    app: el("input", {
      type: "text",
      className: "field",
      id: "app",
      value: params.get("app") ?? "",
      placeholder: "syslog app, e.g. sshd",
      "aria-label": "Syslog app-name or tag (* and ? are globs)",
      title: "Syslog APP-NAME or TAG, exact, or a glob with * and ?",
    }),
    since: el("input", {
      type: "text",
      className: "time",
      value: params.get("since") ?? "",
      placeholder: "since (-1d, 2026-11-25)",
      "aria-label": "Since",
    }),
    until: el("input", {
      type: "text",
      className: "time",
      value: params.get("until") ?? "",
      placeholder: "until",
      "aria-label": "Until",
    }),
    regex: el("input", { type: "checkbox", checked: params.get("regex") === "1" }),
    ic: el("input", { type: "checkbox", checked: params.get("ic") === "1" }),
  };
  const results = el("div", { id: "results" });
  const form = el(
    "form",
    {
      className: "search",
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        location.hash = route(["search"], {
          q: fields.q.value,
          origin: fields.origin.value.trim(),
          severity: fields.severity.value.trim(),
          app: fields.app.value.trim(),
          since: fields.since.value.trim(),
          until: fields.until.value.trim(),
          regex: fields.regex.checked ? "1" : "",
          ic: fields.ic.checked ? "1" : "",
        });
      },
    },
    fields.q,
    fields.origin,
    fields.severity,
    fields.app,
    fields.since,
    fields.until,
    el("label", { className: "check" }, fields.regex, "regular expression"),
    el("label", { className: "check" }, fields.ic, "ignore case"),
    el("button", { type: "submit", className: "primary" }, "Search"),
  );
  setView("Search", el("h1", null, "Search"), form, results);
  const severity = params.get("severity") ?? "";
  const app = params.get("app") ?? "";
  // a syslog filter alone is a search too (every record with those fields)
  if (!q && !severity && !app) {
    fields.q.focus();
    return;
  }
  results.replaceChildren(el("p", { className: "muted" }, "Searching…"));
  const data = await api("/api/search", {
    q,
    origin: params.get("origin") ?? "",
    severity,
    app,
    since: params.get("since") ?? "",
    until: params.get("until") ?? "",
    regex: params.get("regex") ?? "",
    ignore_case: params.get("ic") ?? "",
  });
  const mark =
    params.get("regex") === "1" || !q
      ? null
      : { text: q, lower: q.toLowerCase(), ignoreCase: params.get("ic") === "1" };
  results.replaceChildren(
    el(
      "p",
      { className: "summary", id: "hit-count" },
      data.hits.length === 0
        ? "No record matches."
        : `${data.hits.length}${data.truncated ? "+" : ""} matching record${data.hits.length === 1 ? "" : "s"}, in receive order per origin${data.truncated ? " (the first ones only; narrow the search)" : ""}.`,
    ),
    damagedNotes(data.damaged),
    data.hits.length === 0
      ? ""
      : panelTable(
          "records",
          ["Stream", "Received", "Seq", "Kind", "Payload"],
          el(
            "tbody",
            null,
            data.hits.map((r) => recordRow(r, { origin: true, mark })),
          ),
        ),
  );
}

// ---------- router ----------

function stopTail() {
  if (tail) tail.close();
  tail = null;
}

async function render() {
  stopTail();
  const hash = location.hash || "#/";
  const [path, query] = hash.slice(1).split("?");
  const parts = path
    .split("/")
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
  const params = new URLSearchParams(query ?? "");
  try {
    if (parts[0] === "stream" && parts.length === 3) await streamPage(parts[1], parts[2], params);
    else if (parts[0] === "search") await searchPage(params);
    else if (parts[0] === "alerts") await alertsPage();
    else await originsPage();
  } catch (err) {
    setView(
      "Error",
      el("h1", null, "Something went wrong"),
      el("p", null, err.message),
      el("p", null, el("a", { href: "#/" }, "Back to the origins")),
    );
  }
}

document.addEventListener("keydown", (e) => {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement) return;
  const target = $("filter") ?? $("q");
  if (target) {
    e.preventDefault();
    target.focus();
  } else location.hash = "#/search";
});

window.addEventListener("hashchange", () => void render());

async function start() {
  const s = await api("/api/session");
  csrf = s.csrf;
  $("store").textContent = s.store;
  await render();
}

start().catch((err) => {
  setView("Error", el("h1", null, "logward"), el("p", null, err.message));
});
