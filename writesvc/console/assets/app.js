// vidcomments moderation console. Plain DOM, no framework. Every value that
// came from a user (comment content, ids) is placed with textContent, never
// innerHTML, so it is always rendered as text.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("vc-token") || "", cursor: "", nextCursor: "", timer: 0, busy: false };

function show(signedIn) {
  $("signin").hidden = signedIn;
  $("queue").hidden = !signedIn;
  $("webhooks").hidden = !signedIn;
  $("who").textContent = signedIn ? "signed in as moderator " + subject(state.token) : "";
}

function subject(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return String(payload.sub || "?");
  } catch (e) {
    return "?";
  }
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + state.token } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const err = new Error((data && data.error && data.error.message) || resp.statusText);
    err.status = resp.status;
    err.code = data && data.error && data.error.code;
    throw err;
  }
  return data;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function button(label, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

// safetyCell shows the content-safety verdict a comment was staged with:
// "held · too_many_links" and what matched, or a dash when nothing objected.
function safetyCell(tr, s) {
  const td = cell(tr, "", "safety");
  if (!s || (s.verdict === "allow" && !s.reason)) {
    td.textContent = "—";
    return;
  }
  const badge = document.createElement("span");
  badge.className = "verdict " + (s.verdict === "hold" ? "hold" : "allow");
  badge.textContent = (s.verdict === "hold" ? "held" : "allowed") + (s.reason ? " · " + s.reason : "");
  td.appendChild(badge);
  if (s.detail) {
    const detail = document.createElement("div");
    detail.className = "detail";
    detail.textContent = s.detail;
    td.appendChild(detail);
  }
}

function render(comments) {
  const rows = $("rows");
  rows.replaceChildren();
  $("empty").hidden = comments.length > 0;
  for (const c of comments) {
    const tr = document.createElement("tr");
    tr.dataset.id = c.id;
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.className = "pick";
    pick.setAttribute("aria-label", "select comment " + c.id);
    pick.addEventListener("change", updateBatch);
    const first = document.createElement("td");
    first.appendChild(pick);
    tr.appendChild(first);
    cell(tr, c.content, "content");
    safetyCell(tr, c.safety);
    cell(tr, c.video_id);
    cell(tr, c.user_id);
    cell(tr, new Date(c.created_at).toLocaleString());
    const actions = cell(tr, "", "actions");
    const reason = document.createElement("input");
    reason.placeholder = "reason";
    reason.className = "reason";
    actions.append(
      button("Approve", "approve", () => act(c.id, "approve", undefined, tr)),
      " ",
      reason,
      " ",
      button("Reject", "reject", () => act(c.id, "reject", reason.value, tr)),
    );
    rows.appendChild(tr);
  }
  $("all").checked = false;
  updateBatch();
}

function selectedIDs() {
  return [...document.querySelectorAll("#rows input.pick:checked")].map((el) => el.closest("tr").dataset.id);
}

function updateBatch() {
  const n = selectedIDs().length;
  $("selected").textContent = n + " selected";
  $("batch-approve").disabled = n === 0;
  $("batch-reject").disabled = n === 0;
}

async function act(id, action, reason, tr) {
  try {
    await api("POST", "/v1/mod/comments/" + encodeURIComponent(id) + ":" + action, action === "reject" ? { reason: reason || "" } : {});
    tr.classList.add("done");
    tr.querySelectorAll("button, input").forEach((el) => (el.disabled = true));
    setStatus((action === "approve" ? "Approved " : "Rejected ") + id);
  } catch (e) {
    handleError(e);
  }
}

async function batch(action) {
  const ids = selectedIDs();
  if (ids.length === 0) return;
  const body = { action, ids };
  if (action === "reject") body.reason = $("batch-reason").value;
  try {
    const data = await api("POST", "/v1/mod/comments:batch", body);
    const results = (data && data.results) || [];
    const failed = results.filter((r) => r.error);
    setStatus(action + ": " + (ids.length - failed.length) + " done" + (failed.length ? ", " + failed.length + " failed" : ""), failed.length > 0);
    await load();
  } catch (e) {
    handleError(e);
  }
}

function handleError(e) {
  if (e.status === 401 || e.status === 403) {
    signOut(e.status === 403 ? "This token is not a moderator's." : "The token was refused: " + e.message);
    return;
  }
  setStatus(e.message || String(e), true);
}

async function load(cursor) {
  if (state.busy) return;
  state.busy = true;
  if (cursor !== undefined) state.cursor = cursor;
  const q = new URLSearchParams({ limit: $("limit").value });
  const video = $("video").value.trim();
  if (video) q.set("video_id", video);
  if (state.cursor) q.set("cursor", state.cursor);
  try {
    const data = await api("GET", "/v1/mod/queue?" + q.toString());
    const comments = (data && (data.comments || data.items)) || [];
    state.nextCursor = (data && data.next_cursor) || "";
    $("next").disabled = !state.nextCursor;
    render(comments);
    setStatus(comments.length + " pending shown · " + new Date().toLocaleTimeString());
  } catch (e) {
    handleError(e);
  } finally {
    state.busy = false;
  }
}

function schedule() {
  clearInterval(state.timer);
  if ($("live").checked) {
    // Live refresh re-reads the current page, but not while the moderator
    // has rows selected or is typing a reason.
    state.timer = setInterval(() => {
      if (selectedIDs().length === 0 && !document.activeElement.classList.contains("reason")) load();
    }, 3000);
  }
}

function signOut(message) {
  sessionStorage.removeItem("vc-token");
  state.token = "";
  clearInterval(state.timer);
  show(false);
  $("signin-error").textContent = message || "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    try {
      await api("GET", "/v1/mod/queue?limit=1");
      sessionStorage.setItem("vc-token", state.token);
      $("signin-error").textContent = "";
      show(true);
      await load("");
      schedule();
    } catch (e) {
      state.token = "";
      $("signin-error").textContent = e.status === 403 ? "This token is not a moderator's." : "Sign-in failed: " + e.message;
    }
  });
  $("filter").addEventListener("submit", (ev) => { ev.preventDefault(); load(""); });
  $("first").addEventListener("click", () => load(""));
  $("next").addEventListener("click", () => load(state.nextCursor));
  $("live").addEventListener("change", schedule);
  $("signout").addEventListener("click", () => signOut(""));
  $("all").addEventListener("change", (ev) => {
    document.querySelectorAll("#rows input.pick").forEach((el) => (el.checked = ev.target.checked));
    updateBatch();
  });
  $("batch-approve").addEventListener("click", () => batch("approve"));
  $("batch-reject").addEventListener("click", () => batch("reject"));
  if (state.token) {
    show(true);
    load("");
    schedule();
  } else {
    show(false);
  }
});
