// vidcomments read-only demo. Plain DOM, no framework. Every value that came
// from a user (comment content, ids) is placed with textContent, never as
// markup, so it is always rendered as text.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { video: "", limit: 10, sort: "time", cursor: "", next: "" };

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function render(page) {
  const list = $("comments");
  list.replaceChildren();
  const comments = page.comments || [];
  $("empty").hidden = comments.length > 0;
  for (const c of comments) {
    const li = document.createElement("li");
    li.dataset.id = c.id;
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = (page.authors || {})[c.user_id];
    const name = who && who.display_name ? who.display_name : "user " + c.user_id;
    meta.textContent = "#" + c.id + " · " + name + (who && who.banned ? " (banned)" : "") + " · " + new Date(c.created_at).toLocaleString() +
      " · " + (c.like_count || 0) + " likes · " + (c.reply_count || 0) + " replies";
    const content = document.createElement("div");
    content.className = "content";
    content.textContent = c.content;
    li.append(meta, content);
    list.appendChild(li);
  }
  $("summary").textContent = "video " + state.video + " · " + page.total + " comments";
  state.next = page.next_cursor || "";
  $("next").disabled = state.next === "";
  $("first").disabled = state.cursor === "";
}

async function load(cursor) {
  state.cursor = cursor;
  let path = "/v1/videos/" + encodeURIComponent(state.video) + "/comments?limit=" + state.limit + "&sort=" + state.sort;
  if (cursor) path += "&cursor=" + encodeURIComponent(cursor);
  setStatus("loading…", false);
  try {
    const resp = await fetch(path);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      throw new Error((data && data.error && data.error.message) || resp.statusText);
    }
    render(data);
    setStatus("", false);
  } catch (e) {
    setStatus("could not load comments: " + e.message, true);
  }
}

function init() {
  const params = new URLSearchParams(location.search);
  const video = params.get("video") || "";
  const limit = Number(params.get("limit"));
  if (Number.isInteger(limit) && limit >= 1 && limit <= 50) state.limit = limit;
  if (params.get("sort") === "hot") state.sort = "hot";
  $("sort").value = state.sort;
  $("next").addEventListener("click", () => { if (state.next) load(state.next); });
  $("first").addEventListener("click", () => load(""));
  if (!/^[0-9]+$/.test(video)) {
    setStatus("pick a video id", false);
    return;
  }
  state.video = video;
  $("video").value = video;
  load("");
}

document.addEventListener("DOMContentLoaded", init);
