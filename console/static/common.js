// Shared by the operator page and the console: the session, API calls, DOM helpers.
// Plain browser JavaScript, no build step, no third-party code.
"use strict";

const ESB = (() => {
  const SESSION_KEY = "esb.session";

  // -- the session: who is signed in, and the token every request carries ---------
  // Real authentication lands later; the seam is here: whatever token the sign-in
  // form got is sent as "Authorization: Bearer <token>" (and as access_token on
  // the event stream, which cannot carry headers).
  function session() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch (_error) {
      return null;
    }
  }

  function signIn(details) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(details));
  }

  function signOut() {
    sessionStorage.removeItem(SESSION_KEY);
  }

  function authHeaders() {
    const current = session();
    return current && current.token ? { Authorization: `Bearer ${current.token}` } : {};
  }

  function withToken(url) {
    const current = session();
    if (!current || !current.token) return url;
    const separator = url.includes("?") ? "&" : "?";
    return `${url}${separator}access_token=${encodeURIComponent(current.token)}`;
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(`${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
      this.status = status;
      this.detail = detail;
    }
  }

  async function api(path, { method = "GET", body, params } = {}) {
    let url = path;
    if (params) {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(params)) {
        if (value !== undefined && value !== null && value !== "") query.set(name, value);
      }
      const text = query.toString();
      if (text) url += (url.includes("?") ? "&" : "?") + text;
    }
    const headers = { Accept: "application/json", ...authHeaders() };
    const options = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw new ApiError(response.status, data && data.detail ? data.detail : data);
    return data;
  }

  // -- DOM helpers: text goes in as text, never as HTML ---------------------------
  function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") {
        element.addEventListener(name.slice(2), value);
      } else if (name === "dataset") {
        Object.assign(element.dataset, value);
      } else {
        element.setAttribute(name, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function clear(element) {
    while (element.firstChild) element.removeChild(element.firstChild);
    return element;
  }

  function show(element, ...children) {
    clear(element).append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  }

  function when(iso) {
    if (!iso) return "";
    const moment = typeof iso === "number" ? new Date(iso * 1000) : new Date(iso);
    return Number.isNaN(moment.getTime()) ? String(iso) : moment.toLocaleString();
  }

  function number(value, digits = 2) {
    if (value === null || value === undefined) return "–";
    return Number(value).toFixed(digits);
  }

  // -- phone numbers: anything that looks like one gets a click-to-call button -------
  const PHONE = /^\+?[0-9][0-9 ()-]{5,18}[0-9]$/;
  const PHONE_FIELDS = /(phone|number|msisdn|caller|called|mobile|landline)/i;
  const NOT_PHONE_FIELDS = /(account|inn|passport|contract|document|doc_|ogrn|kpp|snils|id$)/i;

  function looksLikePhone(field, value) {
    if (typeof value !== "string" || !PHONE.test(value.trim())) return false;
    const digits = value.replace(/[^0-9]/g, "").length;
    if (digits < 7 || digits > 15) return false;
    if (field && NOT_PHONE_FIELDS.test(field)) return false;
    return value.trim().startsWith("+") || (field !== undefined && PHONE_FIELDS.test(field));
  }

  // -- the sign-in form ------------------------------------------------------------
  function renderSignIn(container, { title, withExtension }, onSignedIn) {
    const name = h("input", { id: "signin-name", name: "name", required: true,
                              autocomplete: "username", placeholder: "Ivanova A." });
    const extension = withExtension
      ? h("input", { id: "signin-extension", name: "extension", required: true,
                     pattern: "[0-9]{2,6}", placeholder: "2001" })
      : null;
    const token = h("input", { id: "signin-token", name: "token", type: "password",
                               autocomplete: "current-password",
                               placeholder: "token (optional until auth lands)" });
    const form = h("form", { id: "signin", class: "card signin" },
      h("h2", {}, title),
      h("label", {}, "Name ", name),
      extension ? h("label", {}, "Extension ", extension) : null,
      h("label", {}, "Token ", token),
      h("button", { type: "submit", id: "signin-submit" }, "Sign in"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const details = { name: name.value.trim(), token: token.value };
      if (extension) details.extension = extension.value.trim();
      signIn(details);
      onSignedIn(details);
    });
    show(container, form);
    name.focus();
  }

  return {
    ApiError, api, authHeaders, clear, h, looksLikePhone, number, renderSignIn, session,
    show, signIn, signOut, when, withToken,
  };
})();
