// ThreatStream page: lookups, feed health and the merged view's top and recent indicators,
// read from the plugin's API with relative URLs and the Airflow UI's session cookie.
"use strict";

(function () {
  const API = "../api/v1/";
  const AIRFLOW = "../../";
  const LOGIN = AIRFLOW + "api/v2/auth/login";
  const HEALTH_RUNS = 10;
  const PAGE_SIZE = 10;
  const MAX_VALUES = 1000;
  const REFRESH_MS = 60000;
  const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, never fetched
  // IndicatorType (threatstream.canonical.vocabulary), in its order.
  const TYPES = [
    "IPv4", "IPv6", "CIDR", "domain", "hostname", "email", "URL", "URI",
    "FileHash-MD5", "FileHash-SHA1", "FileHash-SHA256", "FileHash-PEHASH", "FileHash-IMPHASH",
    "FilePath", "Mutex", "CVE", "YARA", "JA3", "osquery", "SSLCertFingerprint", "BitcoinAddress",
  ];
  // Types whose values may hold spaces: one value per line.
  const SPACED_TYPES = new Set(["FilePath", "Mutex", "YARA", "osquery"]);
  const VERDICTS = { found: "Found", not_found: "Not found", invalid: "Invalid", error: "Error" };
  const FRESHNESS = {
    fresh: "Fresh",
    stale: "Stale",
    never: "Never succeeded",
    paused: "Paused",
  };

  const $ = (id) => document.getElementById(id);

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // -- DOM helpers ---------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function messageRow(table, text, columns) {
    table.replaceChildren(el("tr", {}, el("td", { colspan: columns || 1, class: "muted", text: text })));
  }

  // -- Airflow's frame, theme and links ------------------------------------------------------

  /** The Airflow UI's window when this page is shown in its frame (same origin), else null. */
  function airflowWindow() {
    try {
      if (window.top !== window && window.top.location.origin === window.location.origin) {
        return window.top;
      }
    } catch (err) {
      // a frame of another origin
    }
    return null;
  }

  /** Airflow's colour mode: its UI's class (when framed), else its stored choice, else none. */
  function airflowTheme() {
    const top = airflowWindow();
    if (top) {
      const classes = top.document.documentElement.classList;
      if (classes.contains("dark")) return "dark";
      if (classes.contains("light")) return "light";
    }
    try {
      const stored = window.localStorage.getItem("theme");
      if (stored === "dark" || stored === "light") return stored;
    } catch (err) {
      // storage disabled
    }
    return null;
  }

  function applyTheme() {
    const theme = airflowTheme();
    if (theme) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  }

  function followTheme() {
    applyTheme();
    window.addEventListener("storage", (event) => {
      if (event.key === "theme") applyTheme();
    });
    const top = airflowWindow();
    if (top && "MutationObserver" in window) {
      new MutationObserver(applyTheme).observe(top.document.documentElement, {
        attributes: true,
        attributeFilter: ["class"],
      });
    }
  }

  function resolved(link) {
    return new URL(link.getAttribute("href"), document.baseURI).href;
  }

  /**
   * Airflow shows this page in a sandboxed frame that may not navigate the whole window nor
   * open tabs: links to Airflow's own pages (data-top) and to other sites (data-outside) are
   * followed from the Airflow window instead. Outside a frame they behave as plain links.
   */
  function followLinksOutsideTheFrame() {
    document.addEventListener("click", (event) => {
      const link = event.target.closest && event.target.closest("a[data-top], a[data-outside]");
      if (!link || event.defaultPrevented || event.button !== 0) return;
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const top = airflowWindow();
      if (!top) return;
      event.preventDefault();
      const anchor = top.document.createElement("a");
      anchor.href = resolved(link);
      if (link.hasAttribute("data-outside")) {
        anchor.target = "_blank";
        anchor.rel = "noopener noreferrer";
      }
      top.document.body.append(anchor);
      anchor.click();
      anchor.remove();
    });
  }

  function dagLink(dagId, text, runId) {
    let href = AIRFLOW + "dags/" + encodeURIComponent(dagId);
    if (runId) href += "/runs/" + encodeURIComponent(runId);
    return el("a", { href: href, "data-top": true, text: text });
  }

  /** A link to a source's own page, when ``url`` is a web address. */
  function referenceLink(url) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch (err) {
      return null;
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return null;
    return el("a", {
      href: parsed.href,
      target: "_blank",
      rel: "noopener noreferrer",
      "data-outside": true,
      title: parsed.href,
      text: parsed.hostname + " \u2197",
    });
  }

  // -- The API -------------------------------------------------------------------------------

  function showLogin() {
    const link = $("login-link");
    const here = (airflowWindow() || window).location.href;
    link.href = new URL(LOGIN, document.baseURI).href + "?next=" + encodeURIComponent(here);
    $("login").hidden = false;
  }

  function showForbidden(detail) {
    const notice = $("forbidden");
    notice.textContent =
      "Your Airflow user may not read this: " + (detail || "forbidden") +
      ". Ask an Airflow admin for read access to the ThreatStream DAGs.";
    notice.hidden = false;
  }

  async function api(path, init) {
    const options = Object.assign({ credentials: "same-origin" }, init || {});
    options.headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (options.body !== undefined) options.headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, options);
    } catch (err) {
      throw new ApiError(0, "the API server cannot be reached");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (response.status === 401) {
      showLogin();
      throw new ApiError(401, "not logged in to Airflow");
    }
    if (response.status === 403) {
      showForbidden(body && body.detail);
      throw new ApiError(403, (body && body.detail) || "forbidden");
    }
    return { status: response.status, body: body };
  }

  function problem(status, body) {
    const detail = body && (body.message || body.detail);
    return typeof detail === "string" ? detail : "HTTP " + status;
  }

  // -- Formatting ----------------------------------------------------------------------------

  function parseTime(value) {
    if (!value) return null;
    const moment = new Date(String(value).replace(/(\.\d{3})\d+/, "$1"));
    return Number.isNaN(moment.getTime()) ? null : moment;
  }

  function utc(value) {
    const moment = parseTime(value);
    if (!moment) return "\u2014";
    return moment.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function span(seconds) {
    const s = Math.abs(seconds);
    if (s < 90) return Math.round(s) + " s";
    if (s < 90 * 60) return Math.round(s / 60) + " min";
    if (s < 36 * 3600) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }

  function ago(value) {
    const moment = parseTime(value);
    if (!moment) return "\u2014";
    const seconds = (Date.now() - moment.getTime()) / 1000;
    return seconds >= 0 ? span(seconds) + " ago" : "in " + span(seconds);
  }

  function time(value, relative) {
    if (!parseTime(value)) return el("span", { class: "muted", text: "\u2014" });
    return el("time", { datetime: value, title: value, text: relative ? ago(value) : utc(value) });
  }

  function number(value) {
    return typeof value === "number" ? value.toLocaleString("en-US") : "\u2014";
  }

  function score(value) {
    return typeof value === "number" ? value.toFixed(1) : "\u2014";
  }

  function scoreClass(value) {
    if (typeof value !== "number") return "";
    if (value >= 70) return "score-high";
    if (value >= 40) return "score-medium";
    return "score-low";
  }

  function tlpBadge(tlp) {
    if (!tlp) return el("span", { class: "muted", text: "\u2014" });
    return el("span", { class: "badge tlp-" + tlp.replace(/[^a-z]/g, ""), text: "TLP:" + tlp.toUpperCase() });
  }

  function tagList(tags) {
    if (!tags || !tags.length) return el("span", { class: "muted", text: "\u2014" });
    return el("span", {}, tags.map((tag) => el("span", { class: "badge", text: tag })));
  }

  // -- Lookup --------------------------------------------------------------------------------

  /** The values typed: one per line for types that hold spaces, else split on spaces and
   *  commas (a URL keeps its commas). */
  function splitValues(text, type) {
    if (SPACED_TYPES.has(type)) {
      return text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
    }
    const values = [];
    for (const token of text.split(/\s+/)) {
      if (!token) continue;
      if (/^[a-z][a-z0-9+.-]*(:\/\/|\[:\]\/\/|\[:\/\/\])/i.test(token)) {
        values.push(token.replace(/[,;]+$/, ""));
      } else {
        values.push(...token.split(/[,;]+/).filter(Boolean));
      }
    }
    return values;
  }

  function fact(label, value) {
    return el("div", {}, el("dt", { text: label }), el("dd", {}, value));
  }

  function sourcesTable(sources) {
    const head = el("tr", {}, ["Source", "Confidence", "First reported", "Last reported", "TLP", "Tags", "Expires", "Source's page"].map(
      (name) => el("th", { scope: "col", text: name })));
    const rows = (sources || []).map((entry) =>
      el("tr", { "data-source": entry.source },
        el("td", { class: "feed-name", text: entry.source }),
        el("td", {
          class: "num",
          title: entry.confidence === null || entry.confidence === undefined
            ? "the feed states none: the score uses the source's default" : null,
          text: entry.confidence === null || entry.confidence === undefined ? "\u2014" : entry.confidence,
        }),
        el("td", {}, time(entry.first_reported)),
        el("td", {}, time(entry.last_reported)),
        el("td", {}, tlpBadge(entry.tlp)),
        el("td", {}, tagList(entry.tags)),
        el("td", {}, time(entry.expires_at)),
        el("td", {}, (entry.reference && referenceLink(entry.reference)) || el("span", { class: "muted", text: "\u2014" }))));
    return el("div", { class: "table-wrap" },
      el("table", { class: "sources-table" }, el("thead", {}, head), el("tbody", {}, rows)));
  }

  function resultCard(result) {
    const node = $("card-template").content.firstElementChild.cloneNode(true);
    const status = VERDICTS[result.status] ? result.status : "error";
    const record = result.record;
    node.classList.add(status);
    node.dataset.status = status;
    const verdict = node.querySelector(".verdict");
    verdict.classList.add(status);
    verdict.textContent = VERDICTS[status];
    node.querySelector(".value").textContent = record ? record.indicator_value : result.query;
    const query = node.querySelector(".query");
    const facts = node.querySelector(".facts");
    const sources = node.querySelector(".sources");
    if (status === "found") {
      const typed = result.query !== record.indicator_value ? " \u00b7 entered as " + result.query : "";
      query.textContent = record.indicator_type + typed;
      const value = node.querySelector(".score-value");
      value.textContent = score(record.current_score);
      value.classList.add(scoreClass(record.current_score));
      value.title = "score now (decayed since the last report), 0-100";
      node.querySelector(".score-note").textContent =
        "now \u00b7 " + score(record.score) + " as of " + utc(record.score_as_of);
      append(facts, [
        fact("Type", record.indicator_type),
        fact("TLP", tlpBadge(record.tlp)),
        fact("Sources", String(record.source_count)),
        fact("First seen", time(record.first_seen)),
        fact("Last seen", el("span", {}, time(record.last_seen), " (", ago(record.last_seen), ")")),
        fact("Expires", time(record.expires_at)),
        fact("Tags", tagList(record.tags)),
        fact("Updated", time(record.updated_at)),
      ]);
      if (record.warninglists && record.warninglists.length) {
        node.classList.add("warninglisted");
        facts.append(fact("Warninglists", el("span", {
          class: "warninglists",
          title: "on MISP warninglists of known-benign values: likely a false positive, scored lower",
        }, record.warninglists.map((name) => el("span", { class: "badge warninglist", text: name })))));
      }
      sources.append(sourcesTable(record.sources));
    } else if (status === "not_found") {
      const tried = (result.tried || []).map((item) => item.type + " " + item.value).join(", ");
      query.textContent = "No source reports it" + (tried ? " \u00b7 looked for " + tried : "");
      facts.remove();
      sources.remove();
    } else if (status === "invalid") {
      query.textContent = "Not an indicator: " + (result.reason || "invalid");
      facts.remove();
      sources.append(el("p", { class: "message", text: result.message || "" }));
    } else {
      query.textContent = "The lookup failed";
      facts.remove();
      sources.append(el("p", { class: "message", text: result.message || "the store cannot be asked" }));
    }
    return node;
  }

  async function lookUp(event) {
    if (event) event.preventDefault();
    const type = $("lookup-type").value;
    const values = splitValues($("lookup-values").value, type);
    const status = $("lookup-status");
    const results = $("lookup-results");
    if (!values.length) {
      status.textContent = "Type or paste a value first.";
      return;
    }
    if (values.length > MAX_VALUES) {
      status.textContent = values.length + " values: at most " + MAX_VALUES + " per lookup.";
      return;
    }
    const button = $("lookup-submit");
    button.disabled = true;
    results.replaceChildren();
    status.textContent = values.length === 1 ? "Looking up\u2026" : "Looking up " + values.length + " values\u2026";
    const started = performance.now();
    try {
      let items;
      if (values.length === 1) {
        const params = new URLSearchParams({ value: values[0] });
        if (type) params.set("type", type);
        const { status: code, body } = await api("lookup?" + params.toString());
        if (!body || !body.status) throw new ApiError(code, problem(code, body));
        items = [body];
      } else {
        const payload = type ? values.map((value) => ({ value: value, type: type })) : values;
        const { status: code, body } = await api("lookup", { method: "POST", body: JSON.stringify(payload) });
        if (code !== 200 || !body || !body.results) throw new ApiError(code, problem(code, body));
        items = body.results;
      }
      results.replaceChildren(...items.map(resultCard));
      const elapsed = Math.round(performance.now() - started);
      const counts = {};
      for (const item of items) counts[item.status] = (counts[item.status] || 0) + 1;
      const summary = Object.keys(VERDICTS)
        .filter((key) => counts[key])
        .map((key) => counts[key] + " " + VERDICTS[key].toLowerCase());
      status.textContent = items.length + (items.length === 1 ? " value" : " values") + ": " + summary.join(", ") + " (" + elapsed + " ms)";
    } catch (err) {
      status.textContent = "Lookup failed: " + err.message;
      results.replaceChildren();
    } finally {
      button.disabled = false;
    }
  }

  function lookUpValue(value, type) {
    $("lookup-values").value = value;
    $("lookup-type").value = type || "";
    $("lookup").scrollIntoView({ behavior: "smooth", block: "start" });
    lookUp();
  }

  // -- Feed health ---------------------------------------------------------------------------

  function runChart(feed) {
    const runs = (feed.runs || []).slice().reverse();
    const height = 30;
    const step = 11;
    const width = Math.max(runs.length, 1) * step;
    const largest = Math.max(1, ...runs.map((run) => run.counts ? (run.counts.valid || 0) + (run.counts.quarantined || 0) : 0));
    const chart = svg("svg", {
      class: "chart",
      width: width,
      height: height + 1,
      viewBox: "0 0 " + width + " " + (height + 1),
      role: "img",
      "aria-label": runs.length + " recent runs of " + feed.dag_id,
    });
    runs.forEach((run, index) => {
      const x = index * step;
      const counts = run.counts;
      const parts = [svg("rect", { class: "bar-bg", x: x, y: 0, width: step - 2, height: height })];
      if (run.state === "failed") {
        parts.push(svg("rect", { class: "bar-failed", x: x, y: 0, width: step - 2, height: height }));
      } else if (!counts) {
        parts.push(svg("rect", { class: "bar-none", x: x, y: height - 3, width: step - 2, height: 3 }));
      } else {
        const valid = counts.valid || 0;
        const quarantined = counts.quarantined || 0;
        const validHeight = valid ? Math.max(1, (valid / largest) * height) : 0;
        const quarantinedHeight = quarantined ? Math.max(1, (quarantined / largest) * height) : 0;
        parts.push(svg("rect", { class: "bar-valid", x: x, y: height - validHeight, width: step - 2, height: validHeight }));
        parts.push(svg("rect", {
          class: "bar-quarantined", x: x, y: height - validHeight - quarantinedHeight, width: step - 2, height: quarantinedHeight,
        }));
      }
      const lines = [run.run_id, (run.state || "no state") + (run.logical_date ? " \u00b7 " + utc(run.logical_date) : "")];
      if (counts) {
        lines.push("fetched " + number(counts.fetched) + ", valid " + number(counts.valid) + ", quarantined " +
          number(counts.quarantined) + ", written " + number(counts.written));
      }
      if (typeof run.duration_seconds === "number") lines.push("took " + span(run.duration_seconds));
      if (run.failed_tasks && run.failed_tasks.length) lines.push("failed: " + run.failed_tasks.join(", "));
      const href = AIRFLOW + "dags/" + encodeURIComponent(feed.dag_id) + "/runs/" + encodeURIComponent(run.run_id);
      chart.append(svg("a", { href: href, "data-top": "", class: "run" }, svg("title", {}, lines.join("\n")), parts));
    });
    chart.append(svg("line", { class: "baseline", x1: 0, y1: height + 0.5, x2: width, y2: height + 0.5 }));
    return chart;
  }

  function rejectRatio(runs) {
    let fetched = 0;
    let quarantined = 0;
    let counted = 0;
    for (const run of runs) {
      if (!run.counts || !run.counts.fetched) continue;
      fetched += run.counts.fetched;
      quarantined += run.counts.quarantined || 0;
      counted += 1;
    }
    if (!fetched) return el("span", { class: "muted", text: "\u2014" });
    const percent = (100 * quarantined) / fetched;
    return el("span", { title: number(quarantined) + " quarantined of " + number(fetched) + " fetched" },
      el("span", { class: "ratio", text: (percent < 10 ? percent.toFixed(1) : percent.toFixed(0)) + " %" }),
      el("div", { class: "muted small", text: "over " + counted + (counted === 1 ? " run" : " runs") }));
  }

  function reasonList(runs) {
    const totals = {};
    for (const run of runs) {
      for (const [reason, count] of Object.entries(run.reasons || {})) totals[reason] = (totals[reason] || 0) + count;
    }
    const sorted = Object.entries(totals).sort((a, b) => b[1] - a[1]);
    if (!sorted.length) return el("span", { class: "muted", text: "none" });
    const shown = sorted.slice(0, 4).map(([reason, count]) =>
      el("li", {}, el("code", { text: reason }), " ", el("span", { class: "count", text: "\u00d7" + number(count) })));
    if (sorted.length > 4) shown.push(el("li", { class: "muted", text: "+" + (sorted.length - 4) + " more" }));
    return el("ul", { class: "reasons" }, shown);
  }

  function lastRunCell(feed) {
    const run = (feed.runs || [])[0];
    if (!run) return el("span", { class: "muted", text: "no runs" });
    const state = run.state || "none";
    return el("div", {},
      el("a", {
        class: "badge state-" + state,
        href: AIRFLOW + "dags/" + encodeURIComponent(feed.dag_id) + "/runs/" + encodeURIComponent(run.run_id),
        "data-top": true,
        title: run.run_id,
        text: state,
      }),
      " ", time(run.start_date || run.run_after || run.logical_date, true),
      typeof run.duration_seconds === "number" ? el("div", { class: "muted small", text: "took " + span(run.duration_seconds) }) : null,
      run.failed_tasks && run.failed_tasks.length
        ? el("div", { class: "small failed-tasks", text: "failed: " + run.failed_tasks.join(", ") }) : null);
  }

  function volumesCell(feed) {
    const run = (feed.runs || []).find((item) => item.counts);
    if (!run) return el("span", { class: "muted", text: "\u2014" });
    const c = run.counts;
    return el("div", { title: "run " + run.run_id },
      el("div", {}, el("strong", { text: number(c.written) }), " written"),
      el("div", { class: "muted small", text: number(c.fetched) + " fetched \u00b7 " + number(c.valid) + " valid" }),
      el("div", { class: "muted small", text: number(c.quarantined) + " quarantined \u00b7 " + number(c.duplicates) + " duplicates" }));
  }

  function freshnessCell(feed) {
    const state = FRESHNESS[feed.freshness] ? feed.freshness : "never";
    const rule = "stale when the last success is older than " + span(feed.stale_after_seconds || 0) +
      " (schedule period + deadline)";
    const since = feed.last_success
      ? el("div", { class: "muted small" }, "last success ", time(feed.last_success, true))
      : el("div", { class: "muted small", text: "no successful run" });
    return el("div", { class: "freshness", "data-freshness": state, title: rule },
      el("span", { class: "light " + state }), FRESHNESS[state], since);
  }

  function feedRow(feed) {
    const runs = feed.runs || [];
    const name = el("div", {},
      el("div", { class: "feed-name", text: feed.title || feed.source }),
      feed.dag_registered
        ? dagLink(feed.dag_id, feed.dag_id)
        : el("span", { class: "muted", text: feed.dag_id + " (not registered)" }),
      el("div", { class: "muted small", text: feed.schedule || "" }));
    return el("tr", { "data-source": feed.source, "data-dag-id": feed.dag_id },
      el("td", {}, name),
      el("td", {}, freshnessCell(feed)),
      el("td", {}, lastRunCell(feed)),
      el("td", { class: "num" }, volumesCell(feed)),
      el("td", { class: "num" }, rejectRatio(runs)),
      el("td", {}, runs.length ? runChart(feed) : el("span", { class: "muted", text: "no runs" })),
      el("td", {}, reasonList(runs)));
  }

  async function loadHealth() {
    const body = $("health-body");
    try {
      const { status, body: answer } = await api("health?runs=" + HEALTH_RUNS);
      if (status !== 200 || !answer || !Array.isArray(answer.feeds)) throw new ApiError(status, problem(status, answer));
      if (!answer.feeds.length) messageRow(body, "No feed is registered.", 7);
      else body.replaceChildren(...answer.feeds.map(feedRow));
      $("health-updated").textContent = "as of " + new Date().toLocaleTimeString();
    } catch (err) {
      messageRow(body, "Feed health is not available: " + err.message, 7);
    }
  }

  // -- Top and recent indicators -------------------------------------------------------------

  function indicatorRow(record, order) {
    const value = el("a", { href: "#lookup", title: "Look it up", text: record.indicator_value });
    value.addEventListener("click", (event) => {
      event.preventDefault();
      lookUpValue(record.indicator_value, record.indicator_type);
    });
    const when = order === "recent" ? record.updated_at : record.last_seen;
    return el("tr", {},
      el("td", { class: "value-cell" }, value),
      el("td", { text: record.indicator_type }),
      el("td", { class: "num " + scoreClass(record.current_score), title: "stored " + score(record.score), text: score(record.current_score) }),
      el("td", { class: "num", title: (record.source_names || []).join(", "), text: String(record.source_count) }),
      el("td", {}, time(when, true)));
  }

  function indicatorTable(order, tableId, moreId) {
    const table = $(tableId);
    const more = $(moreId);
    let continuation = null;
    const header = el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: "Value" }),
      el("th", { scope: "col", text: "Type" }),
      el("th", { scope: "col", class: "num", text: "Score" }),
      el("th", { scope: "col", class: "num", text: "Sources" }),
      el("th", { scope: "col", text: order === "recent" ? "Changed" : "Last seen" })));
    const body = el("tbody", {});

    async function load(next) {
      more.disabled = true;
      try {
        const params = new URLSearchParams({ order: order, limit: String(PAGE_SIZE) });
        if (next) params.set("continuation", next);
        const { status, body: page } = await api("indicators?" + params.toString());
        if (status !== 200 || !page || !Array.isArray(page.items)) throw new ApiError(status, problem(status, page));
        if (!next) body.replaceChildren();
        body.append(...page.items.map((record) => indicatorRow(record, order)));
        if (!body.children.length) messageRow(body, "The merged view is empty.", 5);
        table.replaceChildren(header, body);
        continuation = page.continuation;
        more.hidden = !continuation;
      } catch (err) {
        if (!next) messageRow(table, "Not available: " + err.message);
      } finally {
        more.disabled = false;
      }
    }

    more.addEventListener("click", () => load(continuation));
    return load;
  }

  // -- Start ---------------------------------------------------------------------------------

  function start() {
    followTheme();
    followLinksOutsideTheFrame();
    const select = $("lookup-type");
    for (const type of TYPES) select.append(el("option", { value: type, text: type }));
    $("lookup-form").addEventListener("submit", lookUp);
    $("lookup-values").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) lookUp(event);
    });
    $("health-refresh").addEventListener("click", loadHealth);
    const recent = indicatorTable("recent", "recent-table", "recent-more");
    const top = indicatorTable("score", "top-table", "top-more");
    loadHealth();
    recent();
    top();
    window.setInterval(() => {
      if (document.visibilityState === "visible" && $("login").hidden) loadHealth();
    }, REFRESH_MS);
  }

  start();
})();
