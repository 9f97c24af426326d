// Shared by the operator page and the console: the session, API calls, DOM helpers.
// Plain browser JavaScript, no build step, no third-party code.
"use strict";

const ESB = (() => {
  const SESSION_KEY = "esb.session";

  // -- the session: who is signed in, and the token every request carries ---------
  // The sign-in form asks POST /v1/auth/login for a session token (docs/security.md);
  // it is sent as "Authorization: Bearer <token>" (and as access_token on the event
  // stream, which cannot carry headers). An API without users (open, on loopback)
  // answers the login with 404: the page then goes on without a token.
  function session() {
    let current;
    try {
      current = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch (_error) {
      return null;
    }
    if (current && current.expires_at && current.expires_at * 1000 <= Date.now()) {
      signOut();  // the token has expired: sign in again
      return null;
    }
    return current;
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
    const data = await payloadOf(response);
    if (response.status === 401 && headers.Authorization) {
      signOut();  // the token is no longer accepted (expired, user removed): sign in again
      location.reload();
    }
    if (!response.ok) throw new ApiError(response.status, data && data.detail ? data.detail : data);
    return data;
  }

  async function payloadOf(response) {
    const type = response.headers.get("Content-Type") || "";
    return type.includes("json") ? response.json() : response.text();
  }

  // POST /v1/auth/login {username, password} -> {access_token, expires_at, user, role};
  // null when the API has no users (it runs open).
  async function logIn(username, password) {
    const response = await fetch("/v1/auth/login", {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (response.status === 404) return null;
    const data = await payloadOf(response);
    if (!response.ok) throw new ApiError(response.status, data && data.detail ? data.detail : data);
    return data;
  }

  function signInError(error) {
    if (error.status === 401) return "Wrong user name or password.";
    if (error.status === 429) return "Too many failed sign-ins: try again in a minute.";
    if (error.status === 422) return "Enter your user name and password.";
    return `Sign-in failed: ${error.message}`;
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
    const name = h("input", { id: "signin-name", name: "username", required: true,
                              autocomplete: "username", placeholder: "ivanova" });
    const extension = withExtension
      ? h("input", { id: "signin-extension", name: "extension", required: true,
                     pattern: "[0-9]{2,6}", placeholder: "2001" })
      : null;
    const password = h("input", { id: "signin-password", name: "password", type: "password",
                                  autocomplete: "current-password" });
    const submit = h("button", { type: "submit", id: "signin-submit" }, "Sign in");
    const problem = h("p", { id: "signin-error", class: "status bad", role: "alert" });
    const form = h("form", { id: "signin", class: "card signin" },
      h("h2", {}, title),
      h("label", {}, "User name ", name),
      h("label", {}, "Password ", password),
      extension ? h("label", {}, "Extension ", extension) : null,
      submit, problem);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      problem.textContent = "";
      let answer;
      try {
        answer = await logIn(name.value.trim(), password.value);
      } catch (error) {
        problem.textContent = signInError(error);
        password.value = "";
        password.focus();
        return;
      } finally {
        submit.disabled = false;
      }
      const details = answer
        ? { name: answer.user, role: answer.role, token: answer.access_token,
            expires_at: answer.expires_at }
        : { name: name.value.trim(), token: null };
      if (extension) details.extension = extension.value.trim();
      signIn(details);
      onSignedIn(details);
    });
    show(container, form);
    name.focus();
  }

  return {
    ApiError, api, authHeaders, clear, h, logIn, looksLikePhone, number, renderSignIn, session,
    show, signIn, signOut, when, withToken,
  };
})();
