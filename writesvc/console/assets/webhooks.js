// The console's webhooks panel: the endpoints registered for comment
// events, each with its last delivery, and a form to add one. Uses app.js's
// $, api, cell, button and handleError; every value is placed as text.
"use strict";

function deliverySummary(d) {
  if (!d) return { text: "none yet", cls: "" };
  let text = d.state + " · " + d.event + " of " + d.comment_id + " · " + d.attempts + (d.attempts === 1 ? " attempt" : " attempts");
  if (d.last_status) text += " · HTTP " + d.last_status;
  if (d.state !== "delivered" && d.last_error) text += " · " + d.last_error;
  return { text, cls: d.state + (d.state === "pending" && d.attempts > 0 ? " retrying" : "") };
}

function renderWebhooks(hooks) {
  const rows = $("webhook-rows");
  rows.replaceChildren();
  $("webhook-empty").hidden = hooks.length > 0;
  for (const h of hooks) {
    const tr = document.createElement("tr");
    tr.dataset.id = h.id;
    cell(tr, h.url, "url");
    cell(tr, h.events.join(", "));
    const last = deliverySummary(h.last_delivery);
    cell(tr, last.text, "last " + last.cls);
    cell(tr, "", "actions").append(button("Delete", "reject", () => deleteWebhook(h.id)));
    rows.appendChild(tr);
  }
}

async function loadWebhooks() {
  try {
    const data = await api("GET", "/v1/mod/webhooks");
    renderWebhooks((data && data.webhooks) || []);
  } catch (e) {
    if (e.status === 404) {
      $("webhook-status").textContent = "Webhooks are not enabled on this server.";
      return;
    }
    handleError(e);
  }
}

async function deleteWebhook(id) {
  try {
    await api("DELETE", "/v1/mod/webhooks/" + encodeURIComponent(id));
    $("webhook-status").textContent = "Deleted endpoint " + id;
    await loadWebhooks();
  } catch (e) {
    handleError(e);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("webhook-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const events = [...document.querySelectorAll("input.webhook-event:checked")].map((el) => el.value);
    try {
      const h = await api("POST", "/v1/mod/webhooks", { url: $("webhook-url").value.trim(), events });
      // The secret is shown once: the endpoint verifies signatures with it.
      $("webhook-status").textContent = "Added endpoint " + h.id + " · signing secret " + h.secret + " (shown once)";
      $("webhook-status").className = "";
      $("webhook-url").value = "";
      await loadWebhooks();
    } catch (e) {
      $("webhook-status").textContent = e.message || String(e);
      $("webhook-status").className = "error";
    }
  });
  // Load when the panel appears (app.js shows it on sign-in), then refresh
  // with the queue's rhythm while it is shown.
  new MutationObserver(() => { if (!$("webhooks").hidden) loadWebhooks(); })
    .observe($("webhooks"), { attributes: true, attributeFilter: ["hidden"] });
  setInterval(() => { if (!$("webhooks").hidden) loadWebhooks(); }, 3000);
  if (!$("webhooks").hidden) loadWebhooks();
});
