// The operations console: live flows, adapters, journal search, dead letters.
"use strict";

(() => {
  const { api, h, show, number, when, session } = ESB;
  const $ = (selector) => document.querySelector(selector);
  const REFRESH_MS = Number(new URLSearchParams(location.search).get("refresh")) || 1000;
  let flowsTimer = null;
  let mayChangeAdapters = false;

  function start(current) {
    // an API without users (open on loopback) lets everyone act; otherwise as the policy says
    mayChangeAdapters = !current.role || ["admin", "integrator"].includes(current.role);
    $("#signin-slot").hidden = true;
    $("#console").hidden = false;
    show($("#who"), `signed in as ${current.name} `,
      h("button", { id: "signout", type: "button", onclick: () => {
        ESB.signOut();
        location.reload();
      } }, "sign out"));
    refreshFlows();
    flowsTimer = setInterval(refreshFlows, REFRESH_MS);
    loadDeadLetters();
    $("#journal-form").addEventListener("submit", (event) => {
      event.preventDefault();
      searchJournal();
    });
    $("#dlq-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      loadDeadLetters();
    });
  }

  // -- flows ------------------------------------------------------------------------
  async function refreshFlows() {
    let flows;
    try {
      flows = await api("/v1/flows");
    } catch (error) {
      $("#flows-updated").textContent = `not updated: ${error.message}`;
      return;
    }
    renderFlows(flows);
  }

  function renderFlows(flows) {
    $("#flows-updated").textContent = `updated ${new Date(flows.at * 1000).toLocaleTimeString()}`
      + ` · rates over ${flows.window_seconds} s`;
    for (const name of ["published", "processed", "retried", "errors"]) {
      $(`#total-${name}`).textContent = number(flows.totals[name]);
    }
    const history = flows.history;
    Chart.draw($("#chart-totals"), history.t, {
      published: history.published, processed: history.processed,
      retried: history.retried, errors: history.errors,
    });
    Chart.draw($("#chart-types"), history.t, history.types);
    Chart.draw($("#chart-subscriptions"), history.t, history.subscriptions);

    const lastMinute = Object.fromEntries(flows.journal.types.map((t) => [t.type, t.count]));
    show($("#flow-types tbody"), flows.types.map((entry) =>
      h("tr", { dataset: { type: entry.type } },
        h("td", {}, entry.type),
        h("td", { class: "rate num" }, number(entry.rate)),
        h("td", { class: "published num" }, entry.published_total),
        h("td", { class: "journal num" }, lastMinute[entry.type] ?? 0))));

    show($("#flow-subscriptions tbody"), flows.subscriptions.map((entry) =>
      h("tr", { dataset: { subscription: entry.subscription } },
        h("td", {}, entry.subscription),
        h("td", { class: "rate num" }, number(entry.rate)),
        h("td", { class: "retry-rate num" }, number(entry.retry_rate)),
        h("td", { class: `error-rate num${entry.error_rate > 0 ? " bad" : ""}` },
          number(entry.error_rate)),
        h("td", { class: "latency num" }, number(entry.latency_ms, 1)),
        h("td", { class: "depth num" }, entry.depth ?? "–"),
        h("td", { class: `consumers num${entry.paused ? " paused" : ""}` },
          entry.paused ? `paused (${entry.consumers ?? "–"})` : entry.consumers ?? "–"),
        h("td", { class: `dlq-depth num${entry.dlq_depth > 0 ? " bad" : ""}` },
          entry.dlq_depth ?? "–"),
        h("td", { class: "totals" }, Object.entries(entry.totals)
          .map(([outcome, count]) => `${outcome} ${count}`).join(", ")))));

    show($("#adapters tbody"), flows.adapters.map((adapter) =>
      h("tr", { dataset: { adapter: adapter.name } },
        h("td", {}, adapter.name),
        h("td", { class: `state ${adapter.state}` }, adapter.state),
        h("td", { class: `health ${adapter.healthy === false ? "bad" : "good"}` },
          adapter.healthy === null ? "–" : adapter.healthy ? "healthy" : "unhealthy"),
        h("td", {}, adapter.error || adapter.health || ""),
        h("td", {}, adapter.version || ""),
        h("td", {}, adapterButton(adapter)))));
  }

  function adapterButton(adapter) {
    const action = { running: "stop", stopped: "start" }[adapter.state];
    if (!action || !mayChangeAdapters) return "";
    return h("button", { type: "button", class: `adapter-${action}`,
                         onclick: () => changeAdapter(adapter.name, action) }, action);
  }

  async function changeAdapter(name, action) {
    const result = $("#adapter-result");
    result.textContent = `${action === "stop" ? "stopping" : "starting"} ${name}…`;
    result.className = "status";
    try {
      const now = await api(`/v1/adapters/${encodeURIComponent(name)}/${action}`,
                            { method: "POST" });
      const paused = (now.subscriptions || []).filter((s) => s.paused).length;
      result.textContent = `${name}: ${now.state}` +
        (paused ? `, ${paused} subscription${paused === 1 ? "" : "s"} paused` : "");
      result.className = `status ${now.state === "running" || action === "stop" ? "good" : "bad"}`;
    } catch (error) {
      result.textContent = `${name} not ${action === "stop" ? "stopped" : "started"}: ${error.message}`;
      result.className = "status bad";
    }
    await refreshFlows();
  }

  // -- journal ----------------------------------------------------------------------
  function isoOf(localValue) {
    return localValue ? new Date(localValue).toISOString() : undefined;
  }

  async function searchJournal() {
    const status = $("#journal-status");
    const messageId = $("#q-message-id").value.trim();
    const type = $("#q-type").value.trim();
    status.textContent = "searching…";
    show($("#message-path"));
    let messages;
    try {
      if (messageId) {
        messages = [await api(`/v1/messages/${encodeURIComponent(messageId)}`)];
      } else {
        const page = await api("/v1/messages", { params: {
          correlation_id: $("#q-correlation-id").value.trim(),
          key: $("#q-key").value.trim(),
          type: type.endsWith(".") ? undefined : type,
          type_prefix: type.endsWith(".") ? type : undefined,
          status: $("#q-status").value,
          since: isoOf($("#q-since").value),
          until: isoOf($("#q-until").value),
          limit: 100,
        } });
        messages = page.messages;
      }
    } catch (error) {
      status.textContent = error.status === 404 ? "no such message" : `failed: ${error.message}`;
      show($("#journal-results tbody"));
      return;
    }
    status.textContent = `${messages.length} message${messages.length === 1 ? "" : "s"}`;
    show($("#journal-results tbody"), messages.map((message) =>
      h("tr", { dataset: { messageId: message.id } },
        h("td", {}, when(message.occurred_at)),
        h("td", {}, message.type),
        h("td", {}, message.source),
        h("td", { class: "status" }, message.status || ""),
        h("td", {}, message.key || ""),
        h("td", {}, h("button", { type: "button", class: "path-button",
                                  onclick: () => showPath(message) }, message.id)))));
    if (messages.length === 1) showPath(messages[0]);
  }

  function showPath(message) {
    const hops = message.events.map((hop, index) =>
      h("tr", { class: "hop", dataset: { status: hop.status } },
        h("td", {}, index + 1),
        h("td", { class: "hop-status" }, hop.status),
        h("td", {}, hop.subscriber || "–"),
        h("td", { class: "num" }, hop.attempt),
        h("td", { class: "num" }, hop.latency_ms === null ? "–" : number(hop.latency_ms, 1)),
        h("td", {}, when(hop.at)),
        h("td", { class: "trace" }, hop.trace_id || "–"),
        h("td", {}, hop.detail || "")));
    show($("#message-path"),
      h("h3", {}, `Path of ${message.type} `, h("code", {}, message.id)),
      h("p", {}, `correlation ${message.correlation_id} · ${message.size} bytes · keys: `,
        message.keys.map(([name, value]) => `${name}=${value}`).join(", ") || "none"),
      h("table", { id: "hops" },
        h("thead", {}, h("tr", {}, ["#", "status", "subscriber", "attempt", "latency ms", "at",
                                     "trace id", "detail"].map((t) => h("th", {}, t)))),
        h("tbody", {}, hops)),
      h("pre", { class: "payload" }, JSON.stringify(message.payload, null, 2)));
  }

  // -- dead letters -----------------------------------------------------------------
  async function loadDeadLetters() {
    let records;
    try {
      records = (await api("/v1/dlq", { params: {
        status: $("#dlq-status-filter").value || "",
        queue: $("#dlq-queue-filter").value.trim(),
      } })).dead_letters;
    } catch (error) {
      show($("#dlq-detail"), h("p", { class: "bad" }, `could not list: ${error.message}`));
      return;
    }
    show($("#dlq-list tbody"), records.map((record) =>
      h("tr", { dataset: { deadLetterId: record.id, messageId: record.message_id } },
        h("td", {}, record.id),
        h("td", {}, when(record.dead_lettered_at)),
        h("td", {}, record.queue),
        h("td", {}, record.type),
        h("td", { class: "reason" }, record.reason),
        h("td", { class: "num" }, record.attempts),
        h("td", { class: "status" }, record.status),
        h("td", {}, h("button", { type: "button", class: "inspect",
                                  onclick: () => inspect(record.id) }, "inspect")))));
  }

  function prettyJson(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (_notJson) {
      return text;  // shown as it is
    }
  }

  async function inspect(recordId) {
    const record = await api(`/v1/dlq/${recordId}`);
    const pretty = prettyJson(record.body);
    const body = h("textarea", { id: "dlq-body", rows: 18, spellcheck: "false" });
    body.value = pretty;
    const result = h("p", { id: "dlq-result", class: "status" });
    const replay = h("button", { type: "button", id: "dlq-replay",
                                 disabled: record.status !== "dead" },
      "Replay");
    replay.addEventListener("click", () => doReplay(record, pretty, body, result));
    show($("#dlq-detail"),
      h("h3", {}, `Dead letter #${record.id} `, h("code", {}, record.message_id)),
      h("dl", { class: "kv" },
        h("dt", {}, "queue"), h("dd", {}, record.queue),
        h("dt", {}, "reason"), h("dd", { id: "dlq-reason" }, record.reason),
        h("dt", {}, "attempts"), h("dd", {}, record.attempts),
        h("dt", {}, "status"), h("dd", { id: "dlq-record-status" }, record.status),
        record.replayed_by ? [h("dt", {}, "replayed by"),
                              h("dd", {}, `${record.replayed_by} at ${when(record.replayed_at)}`
                                + (record.edited ? " (edited)" : ""))] : null),
      h("details", {}, h("summary", {}, "error"), h("pre", {}, record.error)),
      record.replayed_body ? h("details", { id: "dlq-sent" },
        h("summary", {}, "what the replay sent (edited)"),
        h("pre", {}, prettyJson(record.replayed_body))) : null,
      h("label", { for: "dlq-body" }, "Envelope (edit, then replay; unchanged replays the original)"),
      body, h("div", {}, replay), result);
  }

  async function doReplay(record, original, body, result) {
    const edited = body.value.trim() !== original.trim();
    const request = { by: (session() || {}).name || "console" };
    if (edited) {
      try {
        request.envelope = JSON.parse(body.value);
      } catch (error) {
        result.textContent = `not JSON: ${error.message}`;
        result.className = "status bad";
        return;
      }
    }
    try {
      const answer = await api(`/v1/dlq/${record.id}/replay`, { method: "POST", body: request });
      result.textContent = `replayed${answer.edited ? " (edited)" : ""} by ${request.by}`;
      result.className = "status good";
    } catch (error) {
      result.textContent = `refused: ${error.message}`;
      result.className = "status bad";
      return;
    }
    await loadDeadLetters();
    await inspect(record.id);
    $("#dlq-result").textContent = `replayed${edited ? " (edited)" : ""} by ${request.by}`;
    $("#dlq-result").className = "status good";
  }

  // -- boot -------------------------------------------------------------------------
  const current = session();
  if (current) {
    start(current);
  } else {
    ESB.renderSignIn($("#signin-slot"), { title: "Sign in to the console", withExtension: false },
      start);
  }
  window.addEventListener("beforeunload", () => clearInterval(flowsTimer));
})();
