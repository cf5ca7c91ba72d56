// ferry's console: sends command and button forms with fetch, shows the
// reply in place, and keeps deploy cards live from /events. Without this
// script the forms post and the server redirects back with the reply.
(() => {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const token = meta ? meta.content : "";
  const stream = document.getElementById("stream");
  const replies = document.getElementById("replies");
  const maxReplies = 5;

  const parse = (html) => {
    const t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  };

  // Cards broadcast to every page carry no CSRF token: fill in ours.
  const fill = (root) => {
    root.querySelectorAll('input[name="csrf"]').forEach((i) => {
      if (!i.value) i.value = token;
    });
  };

  // upsert puts a card where the card of its deploy is; a card new to the
  // page goes on top of the stream, if the page has one. A card from a
  // reply (replace false) never overwrites one the stream keeps fresher.
  const upsert = (card, replace) => {
    fill(card);
    const old = document.getElementById(card.id);
    if (old) {
      if (replace) old.replaceWith(card);
      return;
    }
    if (!stream) return;
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
    stream.prepend(card);
  };

  const showReply = (frag) => {
    const cards = frag.querySelector("template.reply-cards");
    if (cards) {
      cards.content.querySelectorAll("article.card").forEach((c) => upsert(c, false));
      cards.remove();
    }
    // The stream may already know more than the reply: show that.
    frag.querySelectorAll(".reply-card[data-deploy]").forEach((line) => {
      const card = document.getElementById("deploy-" + line.dataset.deploy);
      const badge = card && card.querySelector(".card-head .badge");
      const old = line.querySelector(".badge");
      if (badge && old) old.replaceWith(badge.cloneNode(true));
    });
    if (!replies) return;
    replies.prepend(frag);
    while (replies.children.length > maxReplies) replies.lastElementChild.remove();
  };

  const failure = (text) => {
    const frag = parse('<section class="reply reply-error" role="alert"><p class="reply-text"></p></section>');
    frag.querySelector("p").textContent = text;
    return frag;
  };

  const history = [];
  let recall = 0;

  document.addEventListener("submit", async (ev) => {
    const form = ev.target;
    if (!form.matches("form[data-fetch]")) return;
    ev.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const body = new URLSearchParams(new FormData(form));
    const command = form.hasAttribute("data-command") ? form.elements.text : null;
    if (command) {
      // The box is free for the next command at once; this one is sent.
      history.push(command.value);
      recall = history.length;
      command.value = "";
    }
    // A card's buttons wait for the answer, so one click acts once.
    const buttons = command ? [] : form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const res = await fetch(form.action, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": token, "X-Requested-With": "fetch" },
      });
      if (res.status === 401) {
        window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
        return;
      }
      showReply(parse(await res.text()));
    } catch (err) {
      showReply(failure("ferry could not be reached: " + err.message));
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });

  // Up and down recall earlier commands; a hint fills the box.
  const input = document.getElementById("command");
  if (input) {
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowUp" && recall > 0) {
        input.value = history[--recall];
        ev.preventDefault();
      } else if (ev.key === "ArrowDown" && recall < history.length) {
        recall++;
        input.value = history[recall] || "";
        ev.preventDefault();
      }
    });
    document.querySelectorAll(".hint").forEach((h) => {
      h.addEventListener("click", () => {
        input.value = h.textContent;
        input.focus();
      });
    });
  }

  if (document.body.hasAttribute("data-live") && window.EventSource) {
    const live = document.getElementById("live");
    const events = new EventSource("/events");
    events.addEventListener("open", () => {
      if (live) live.classList.add("on");
      document.body.dataset.stream = "open";
      // What changed between the page and the stream (or while the stream
      // was down) sent no event this page heard: catch up once.
      if (log) refreshDeploy();
    });
    events.addEventListener("error", () => live && live.classList.remove("on"));
    events.addEventListener("card", (ev) => {
      const msg = JSON.parse(ev.data);
      const card = parse(msg.html).querySelector("article.card");
      if (!card) return;
      // Replies that named the deploy show its state now, as the card does.
      const badge = card.querySelector(".card-head .badge");
      document.querySelectorAll(`.reply-card[data-deploy="${msg.id}"] .badge`).forEach((b) => {
        b.replaceWith(badge.cloneNode(true));
      });
      upsert(card, true);
      if (log && String(msg.id) === log.dataset.deploy) refreshDeploy();
    });
  }

  // On a deploy's page, the timeline, the units and the whole log follow
  // the deploy: when the stream says it changed, fetch what changed.
  const log = document.getElementById("log");
  let refreshing = false;
  let again = false;
  async function refreshDeploy() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      do {
        again = false;
        const last = log.querySelector(".line:last-of-type");
        const after = last ? last.dataset.seq : "0";
        const res = await fetch(`/deploys/${log.dataset.deploy}/live?after=${after}`, { credentials: "same-origin" });
        if (!res.ok) return;
        const parts = parse(await res.text());
        const part = (name) => parts.querySelector(`template[data-part="${name}"]`).content;
        document.getElementById("timeline").replaceChildren(part("timeline"));
        document.getElementById("units").replaceChildren(part("units"));
        const lines = part("log");
        if (lines.childElementCount > 0) {
          const none = document.getElementById("no-log");
          if (none) none.remove();
          const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.append(lines);
          if (atEnd) log.scrollTop = log.scrollHeight;
        }
      } while (again);
    } finally {
      refreshing = false;
    }
  }
})();
