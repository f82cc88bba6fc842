// kefu web chat. Everything shown comes from the conversation's transcript on
// the server; the page remembers only its visitor token and the last entry id
// it has, so a reload or a lost network shows the whole conversation again.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var log = document.getElementById("log");
  var input = document.getElementById("input");
  var typing = document.getElementById("typing");
  var statusDot = document.getElementById("status");
  var lang = app.dataset.lang || "zh";
  var L = {
    zh: { agent: "人工客服", bot: "智能客服", offline: "连接中断，正在重连…", too_long: "消息太长了，请分几条发送。",
          rate_limited: "发送太快了，请稍等再发。", empty: "请输入内容。", no_visitor: "会话已失效，请刷新页面。",
          bad_identity: "无法确认您的登录身份，请刷新页面或重新登录。", identity_expired: "登录信息已过期，请刷新页面。",
          identity_required: "请先登录后再咨询客服。", identity_disabled: "暂时无法识别登录身份，请稍后再试。",
          image: "发送图片", image_button: "图片", image_alt: "图片", not_image: "只能发送 JPEG、PNG、GIF 或 WebP 图片。", too_large: "图片太大了，请换一张小一些的。" },
    en: { agent: "Agent", bot: "Assistant", offline: "Connection lost, reconnecting…", too_long: "That message is too long; please split it.",
          rate_limited: "You're sending too fast; please wait a moment.", empty: "Please type a message.", no_visitor: "Session expired, please reload.",
          bad_identity: "We could not confirm who you are; please reload or sign in again.", identity_expired: "Your sign-in has expired; please reload the page.",
          identity_required: "Please sign in to chat with us.", identity_disabled: "Signed-in chat is not available right now; please try later.",
          image: "Send a picture", image_button: "Photo", image_alt: "Picture", not_image: "Only JPEG, PNG, GIF or WebP pictures can be sent.", too_large: "That picture is too large; please pick a smaller one." }
  }[lang === "en" ? "en" : "zh"];

  var token = null, ws = null, lastId = "", seen = {}, queue = [], backoff = 500, started = false;
  // The shop's signed-in customer, as the embedding page passes it in the
  // URL fragment (#identity=<JSON>; embed.js), or null: an anonymous visitor.
  var identity = readIdentity(), identityKey = location.hash, gen = 0;

  function readIdentity() {
    var m = /^#identity=(.*)$/.exec(location.hash);
    if (!m) return null;
    try { return JSON.parse(decodeURIComponent(m[1])); } catch (e) { return null; }
  }
  // Messages sent but not yet seen in the transcript: their bubble, and the
  // message itself for resending after a reconnect.
  var pending = {}, pendingMsg = {};
  // A resent message the server is still handling elsewhere (an instance
  // that went away): its answer comes later, so the page keeps showing that
  // the bot is working on it until a reply arrives (or for a while, since a
  // conversation with an agent gets no bot reply).
  var waiting = null;

  function wait(on) {
    clearTimeout(waiting); waiting = on ? setTimeout(function () { wait(false); }, 30000) : null;
    typing.hidden = !on;
  }

  function rid() {
    if (window.crypto && crypto.getRandomValues) {
      var a = new Uint32Array(3); crypto.getRandomValues(a);
      return Array.prototype.map.call(a, function (x) { return x.toString(36); }).join("");
    }
    return String(Date.now()) + Math.random().toString(36).slice(2);
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function system(text) {
    var d = document.createElement("div");
    d.className = "system"; d.textContent = text;
    log.appendChild(d); scroll();
  }

  // Only the newest entry's buttons stay active.
  function disableOldChoices() {
    var bs = log.querySelectorAll(".choices button");
    for (var i = 0; i < bs.length; i++) bs[i].disabled = true;
  }

  function render(e) {
    if (seen[e.id]) return;
    seen[e.id] = true;
    if (e.dir === "in" && e.msg_id && pending[e.msg_id]) {
      var p = pending[e.msg_id]; delete pending[e.msg_id]; delete pendingMsg[e.msg_id];
      p.classList.remove("pending"); p.dataset.id = e.id;
      return;
    }
    var d = document.createElement("div");
    d.className = "msg " + e.dir + (e.agent ? " agent" : "");
    d.dataset.id = e.id; d.dataset.kind = e.kind || "";
    if (e.dir === "out") {
      var who = document.createElement("span");
      who.className = "who"; who.textContent = e.agent ? L.agent : L.bot;
      d.appendChild(who);
    }
    d.appendChild(document.createTextNode(e.text)); // text, never HTML
    if (e.image) d.appendChild(picture(e.image));
    if (e.dir === "out") disableOldChoices();
    if (e.choices && e.choices.length) {
      var c = document.createElement("div"); c.className = "choices";
      e.choices.forEach(function (ch) {
        var b = document.createElement("button");
        b.type = "button"; b.textContent = ch.label;
        b.addEventListener("click", function () {
          disableOldChoices();
          if (e.kind === "survey") send({ kind: "rating", choice: ch.id, text: "" }, ch.label);
          else if (ch.id === "@human") send({ kind: "human", text: ch.label }, ch.label);
          else send({ choice: ch.id, text: ch.label }, ch.label);
        });
        c.appendChild(b);
      });
      d.appendChild(c);
    }
    log.appendChild(d);
  }

  // picture is an entry's image (a short-lived signed link from the server).
  function picture(src) {
    var img = document.createElement("img");
    img.className = "pic"; img.src = src; img.alt = L.image_alt;
    img.addEventListener("load", scroll);
    return img;
  }

  // sendPicture uploads an image as a message: shown at once from the file,
  // confirmed when the transcript has it. Its id makes a retry harmless.
  function sendPicture(file) {
    var id = rid();
    var d = document.createElement("div");
    d.className = "msg in pending";
    var url = window.URL && URL.createObjectURL ? URL.createObjectURL(file) : "";
    if (url) d.appendChild(picture(url));
    log.appendChild(d); pending[id] = d; scroll();
    var fd = new FormData();
    fd.append("id", id); fd.append("lang", navigator.language || ""); fd.append("file", file);
    fetch("/api/images", { method: "POST", credentials: "same-origin", headers: { "Authorization": "Bearer " + token }, body: fd })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          if (r.ok) {
            var tok = r.headers.get("X-Kefu-Token"); if (tok) keep(tok);
            if (b.duplicate && b.status === "in_progress") wait(true);
            return;
          }
          d.classList.add("failed"); delete pending[id];
          system(L[b.error] || b.message || app.dataset.busy);
        });
      })
      .catch(function () { d.classList.add("failed"); delete pending[id]; system(L.offline); });
  }

  function show(entries) {
    entries.forEach(render);
    if (entries.length) lastId = entries[entries.length - 1].id;
    if (waiting && entries.some(function (e) { return e.dir === "out"; })) wait(false);
    scroll();
  }

  function send(msg, shown) {
    msg.type = "message"; msg.id = msg.id || rid(); msg.lang = navigator.language || "";
    msg.kind = msg.kind || "";
    if (shown) {
      var d = document.createElement("div");
      d.className = "msg in pending"; d.textContent = shown;
      log.appendChild(d); pending[msg.id] = d; pendingMsg[msg.id] = msg; scroll();
    }
    queue.push(msg);
    flush();
  }

  function flush() {
    while (ws && ws.readyState === 1 && queue.length) ws.send(JSON.stringify(queue.shift()));
  }

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?token=" +
      encodeURIComponent(token) + "&after=" + encodeURIComponent(lastId);
    ws = new WebSocket(url);
    var opened = false;
    ws.onopen = function () { opened = true; backoff = 500; statusDot.classList.add("online"); typing.hidden = !waiting; flush(); };
    ws.onmessage = function (ev) {
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "entries") {
        show(f.entries || []);
        if (!started) {
          started = true;
          if (!lastId) send({ kind: "start", id: "start", text: "" }); // the welcome, once per visitor
        }
      } else if (f.type === "token") {
        keep(f.token); // the old one was due for replacement
      } else if (f.type === "typing") {
        typing.hidden = !f.on && !waiting;
      } else if (f.type === "in_progress") {
        wait(true);
      } else if (f.type === "error") {
        var p = f.id && pending[f.id];
        if (p) { p.classList.add("failed"); delete pending[f.id]; delete pendingMsg[f.id]; }
        system(L[f.error] || f.message || app.dataset.busy);
      }
    };
    ws.onclose = function () {
      statusDot.classList.remove("online"); typing.hidden = true; ws = null;
      // Unacknowledged messages are resent with the same id: the server
      // answers each id once.
      Object.keys(pending).forEach(function (id) {
        if (!queue.some(function (m) { return m.id === id; })) queue.unshift(pendingMsg[id]);
      });
      // Refused before opening (token expired or revoked, too many sockets):
      // ask for the session again, which renews or replaces the token.
      var g = gen;
      setTimeout(function () { if (g === gen) (opened ? connect : start)(); }, backoff); backoff = Math.min(backoff * 2, 10000);
    };
  }

  var offlineShown = false;

  function keep(t, identified) {
    token = t;
    try {
      localStorage.setItem("kefu_token", token);
      if (identified !== undefined) localStorage.setItem("kefu_identified", identified ? "1" : "");
    } catch (e) {}
  }

  // The page's customer changed (signed in or out, another user): leave the
  // old conversation and start the session again.
  window.addEventListener("hashchange", function () {
    if (location.hash === identityKey) return;
    identityKey = location.hash; identity = readIdentity();
    gen++; // retries scheduled for the old customer are dropped
    if (ws) { ws.onclose = null; ws.close(); ws = null; }
    statusDot.classList.remove("online");
    while (log.firstChild) log.removeChild(log.firstChild);
    lastId = ""; seen = {}; queue = []; pending = {}; pendingMsg = {}; started = false; backoff = 500; wait(false);
    start();
  });

  function start() {
    var stored = null, identified = false;
    try { stored = localStorage.getItem("kefu_token"); identified = localStorage.getItem("kefu_identified") === "1"; } catch (e) {}
    // A signed-in customer's conversation is not resumed on a page that no
    // longer says who is signed in (a shared computer after sign-out).
    if (identified && !identity) {
      stored = null;
      try { localStorage.removeItem("kefu_token"); localStorage.removeItem("kefu_identified"); } catch (e) {}
    }
    var body = { token: stored || "" };
    if (identity) body.identity = identity;
    var forKey = identityKey;
    fetch("/api/session", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) })
      .then(function (r) {
        if (forKey !== identityKey) return null; // the customer changed meanwhile
        if (r.status === 429) { // too many new chats from this network: wait as told
          var wait = parseInt(r.headers.get("Retry-After"), 10) || 5;
          return r.json().then(function (b) { system(b.message || L.rate_limited); setTimeout(start, wait * 1000); return null; });
        }
        if (r.status === 400 || r.status === 401) { // an identity refused: retrying would not help
          return r.json().then(function (b) { system(L[b.error] || b.message || app.dataset.busy); return null; });
        }
        if (!r.ok) throw new Error(r.status);
        return r.json();
      })
      .then(function (s) {
        if (!s) return;
        offlineShown = false;
        keep(s.token, !!s.identified);
        connect();
      })
      .catch(function () {
        if (forKey !== identityKey) return;
        if (!offlineShown) { offlineShown = true; system(L.offline); } // once, not at every retry
        setTimeout(start, Math.max(backoff, 2000));
      });
  }

  document.getElementById("composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var t = input.value.trim();
    if (!t) return;
    input.value = "";
    send({ text: t }, t);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      document.getElementById("composer").requestSubmit();
    }
  });
  var picBtn = document.getElementById("pic"), picFile = document.getElementById("pic-file");
  if (app.dataset.images === "true") {
    picBtn.hidden = false; picBtn.textContent = L.image_button; picBtn.title = L.image; picBtn.setAttribute("aria-label", L.image);
    picBtn.addEventListener("click", function () { picFile.click(); });
    picFile.addEventListener("change", function () {
      var f = picFile.files[0]; picFile.value = "";
      if (f && token) sendPicture(f);
    });
  }
  document.getElementById("human").addEventListener("click", function () {
    send({ kind: "human", text: app.dataset.human }, app.dataset.human);
  });
  start();
})();
