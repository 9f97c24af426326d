// The operator page: screen pops, the unified customer view, click-to-call, call results.
"use strict";

(() => {
  const { api, h, show, when, session, looksLikePhone } = ESB;
  const $ = (selector) => document.querySelector(selector);
  let stream = null;

  function start(current) {
    $("#signin-slot").hidden = true;
    $("#desk").hidden = false;
    show($("#who"), `${current.name} · ext `, h("b", { id: "who-extension" }, current.extension),
      " ", h("button", { id: "signout", type: "button", onclick: () => {
        if (stream) stream.close();
        ESB.signOut();
        location.reload();
      } }, "sign out"));
    listen(current);
    $("#search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      lookup($("#search-kind").value, $("#search-value").value.trim());
    });
    $("#result-form").addEventListener("submit", (event) => {
      event.preventDefault();
      saveResult();
    });
  }

  // -- screen pop: the event stream of this agent's extension ------------------------
  function listen(current) {
    const url = ESB.withToken(`/v1/screen-pop/stream?agent=${encodeURIComponent(current.extension)}`);
    stream = new EventSource(url);
    const state = $("#stream-state");
    stream.onopen = () => { state.textContent = "live"; state.className = "status good"; };
    stream.onerror = () => { state.textContent = "reconnecting…"; state.className = "status bad"; };
    const handle = (kind) => (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_notJson) {
        return;
      }
      onPush(event.event || kind, event);
    };
    stream.onmessage = handle("message");
    for (const kind of ["pop", "answered", "ended"]) stream.addEventListener(kind, handle(kind));
    stream.addEventListener("connected", () => { state.textContent = "live";
                                                 state.className = "status good"; });
  }

  function onPush(kind, event) {
    if (!event.call_id) return;
    const noCalls = $("#no-calls");
    if (noCalls) noCalls.remove();
    let pop = document.querySelector(`.pop[data-call-id="${CSS.escape(event.call_id)}"]`);
    if (kind === "pop") {
      const fresh = renderPop(event);
      fresh.dataset.stages = [pop ? pop.dataset.stages : "", fresh.dataset.stage].join(" ").trim();
      if (pop && pop.dataset.state !== "ringing") {  // answered before the card was enriched
        fresh.dataset.state = pop.dataset.state;
        fresh.classList.add(pop.dataset.state);
        fresh.querySelector(".pop-state").textContent = pop.querySelector(".pop-state").textContent;
      }
      if (pop) pop.replaceWith(fresh); else $("#pops").prepend(fresh);
      if (!$("#result-call-id").value) $("#result-call-id").value = event.call_id;
      if (event.view) showView(event.view);
      return;
    }
    if (!pop) return;
    pop.classList.add(kind);
    pop.dataset.state = kind;
    const line = kind === "answered"
      ? `answered by ${event.answered_by || "?"}`
      : `ended${event.disposition ? ` (${event.disposition})` : ""}`;
    pop.querySelector(".pop-state").textContent = line;
  }

  function renderPop(event) {
    const card = event.card || {};
    return h("article", { class: "card pop", dataset: { callId: event.call_id,
                                                         stage: event.stage || "local",
                                                         state: "ringing" } },
      h("h3", { class: "pop-title" }, card.name || card.title || event.caller_name || "Unknown caller"),
      h("p", {}, phoneWithCall(event.caller, "caller"), " → ", event.called || "",
        event.queue ? ` · queue ${event.queue}` : ""),
      h("p", { class: "pop-state status" }, "ringing"),
      cardSummary(card),
      h("p", { class: "note" }, event.stage === "enriched" ? "full card" : "local card; enriching…",
        " · call ", h("code", {}, event.call_id)),
      h("button", { type: "button", class: "result-for",
                    onclick: () => { $("#result-call-id").value = event.call_id;
                                     $("#result-notes").focus(); } }, "record result"));
  }

  function cardSummary(card) {
    const manager = card.manager;
    const rows = [
      ["segment", card.segment],
      ["manager", manager ? [manager.name || manager.id, manager.extension
        ? ` (ext ${manager.extension})` : ""].join("") : null],
      ["open deals", card.open_deals],
    ].filter(([, value]) => value !== null && value !== undefined && value !== "");
    const accounts = (card.accounts || []).map((account) =>
      h("li", { class: "account" }, `${account.number} · ${account.status} · balance `,
        formatValue(account.balance), account.tariff ? ` · ${formatValue(account.tariff)}` : ""));
    return h("div", { class: "card-summary" },
      rows.length ? h("dl", { class: "kv" }, rows.map(([name, value]) =>
        [h("dt", {}, name), h("dd", {}, value)])) : null,
      accounts.length ? h("ul", { class: "items accounts" }, accounts) : null);
  }

  // -- click-to-call ----------------------------------------------------------------
  function phoneWithCall(number, field) {
    if (!number) return h("span", {}, "no number");
    return h("span", { class: "phone" }, number,
      h("button", { type: "button", class: "call", dataset: { number, field: field || "" },
                    title: `call ${number} from your phone`,
                    onclick: () => clickToCall(number) }, "call"));
  }

  async function clickToCall(number) {
    const current = session();
    const status = $("#call-status");
    status.textContent = `calling ${number}…`;
    status.className = "status";
    try {
      const answer = await api("/v1/calls/originate", { method: "POST", body: {
        agent: current.extension, number,
      } });
      const accepted = answer.status === "accepted";
      status.textContent = accepted
        ? `your phone rings, then ${number}` + (answer.call_id ? ` (call ${answer.call_id})` : "")
        : `the call was not placed: ${answer.reason || answer.status}`;
      status.className = accepted ? "status good" : "status bad";
    } catch (error) {
      status.textContent = `the call was not placed: ${error.message}`;
      status.className = "status bad";
    }
  }

  // -- the unified view ---------------------------------------------------------------
  async function lookup(kind, value) {
    const target = $("#view");
    show(target, h("p", { class: "status" }, "looking up…"));
    try {
      showView(await api("/v1/customers/lookup", { params: { [kind]: value } }));
    } catch (error) {
      show(target, h("p", { class: "status bad", id: "view-error" },
        error.status === 404 ? "no such customer" : `lookup failed: ${error.message}`));
    }
  }

  function showView(view) {
    const card = view.customer || {};
    const sections = Object.entries(view.sections || {});
    show($("#view"),
      h("div", { id: "customer-view", dataset: { goldenId: view.golden_id || "" } },
        h("h3", { id: "view-name" }, card.name || "Customer"),
        h("p", { class: "note" }, `generated ${when(view.generated_at)} in ${view.elapsed_ms} ms`,
          view.complete ? "" : " · some sections unavailable"),
        cardSummary(card),
        sections.map(([name, section]) => renderSection(name, section))));
  }

  function renderSection(name, section) {
    const badge = section.status === "cached" && section.age_seconds !== null
      ? `cached ${Math.round(section.age_seconds)} s ago` : section.status;
    return h("div", { class: "section", dataset: { section: name, status: section.status } },
      h("h4", {}, name, h("span", { class: `badge ${section.status}` }, badge),
        section.source ? h("small", { class: "note" }, ` from ${section.source}`) : null),
      section.reason ? h("p", { class: "note reason" }, section.reason) : null,
      section.data !== null && section.data !== undefined ? renderValue(section.data)
        : section.status !== "unavailable" ? h("p", { class: "note" }, "nothing found") : null);
  }

  function formatValue(value) {
    if (value && typeof value === "object" && "amount" in value) {
      return `${value.amount}${value.currency ? ` ${value.currency}` : ""}`;
    }
    if (value && typeof value === "object" && "name" in value) return String(value.name);
    return value === null || value === undefined ? "" : String(value);
  }

  function isLink(field, value) {
    return typeof value === "string" && /(url|link|href|content)$/i.test(field || "")
      && (value.startsWith("/") || value.startsWith("http"));
  }

  function renderValue(value, field, depth = 0) {
    if (value === null || value === undefined) return h("span", { class: "note" }, "–");
    if (Array.isArray(value)) {
      if (!value.length) return h("span", { class: "note" }, "none");
      return h("ul", { class: "items" }, value.map((item) => h("li", {}, renderValue(item, field, depth + 1))));
    }
    if (typeof value === "object") {
      if ("amount" in value && "currency" in value) return h("span", {}, formatValue(value));
      return h("dl", { class: "kv" }, Object.entries(value).map(([key, item]) =>
        [h("dt", {}, key), h("dd", {}, renderValue(item, key, depth + 1))]));
    }
    if (looksLikePhone(field, value)) return phoneWithCall(value, field);
    if (isLink(field, value)) return h("a", { href: value, target: "_blank", rel: "noopener" }, "open");
    return h("span", {}, String(value));
  }

  // -- the call result, written to the CRM through the bus ----------------------------
  async function saveResult() {
    const current = session();
    const callId = $("#result-call-id").value.trim();
    const status = $("#result-status");
    status.textContent = "saving…";
    status.className = "status";
    try {
      await api(`/v1/calls/${encodeURIComponent(callId)}/result`, { method: "POST", body: {
        result: $("#result-value").value,
        notes: $("#result-notes").value.trim() || null,
        agent: current.extension,
      } });
      status.textContent = `saved for call ${callId}`;
      status.className = "status good";
      $("#result-notes").value = "";
    } catch (error) {
      status.textContent = `not saved: ${error.message}`;
      status.className = "status bad";
    }
  }

  // -- boot -------------------------------------------------------------------------
  const current = session();
  if (current && current.extension) {
    start(current);
  } else {
    ESB.renderSignIn($("#signin-slot"), { title: "Operator sign-in", withExtension: true }, start);
  }
})();
