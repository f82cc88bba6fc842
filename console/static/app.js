// kefu agent console. Plain JS, no dependencies. Everything a customer (or
// anyone) wrote is put on the page with textContent / text nodes, never as
// HTML.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const state = {
    me: null, csrf: '', current: null, lastEntry: '', mine: new Map(), lostSeen: new Set(),
    es: null, hb: null, timers: {}, queue: [], names: {},
  };

  // el builds an element; string children become text nodes.
  function el(tag, cls, ...children) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const c of children) {
      if (c == null) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // The page's language: the agent's choice (kept in this browser), else
  // the browser's first preference that the catalogue has, else Chinese.
  const CATALOGUE = window.KEFU_MESSAGES || { zh: {} };
  function pickLang() {
    try {
      const saved = localStorage.getItem('kefu.lang');
      if (saved && CATALOGUE[saved]) return saved;
    } catch (e) { /* no storage: follow the browser */ }
    for (const l of navigator.languages || [navigator.language || '']) {
      const base = String(l).toLowerCase().split('-')[0];
      if (CATALOGUE[base]) return base;
    }
    return 'zh';
  }
  const LANG = pickLang();
  const MSG = CATALOGUE[LANG] || CATALOGUE.zh;
  document.documentElement.lang = LANG === 'zh' ? 'zh-CN' : LANG;
  // t is the text of a key of the message catalogue (messages.js).
  function t(key, ...args) {
    let m = MSG[key];
    if (m === undefined) m = CATALOGUE.zh[key];
    if (typeof m === 'function') return m(...args);
    return m === undefined ? key : m;
  }
  for (const n of document.querySelectorAll('[data-msg]')) n.textContent = t(n.dataset.msg);
  for (const n of document.querySelectorAll('[data-msg-placeholder]')) n.placeholder = t(n.dataset.msgPlaceholder);
  for (const n of document.querySelectorAll('[data-msg-title]')) n.title = t(n.dataset.msgTitle);
  {
    const sel = $('lang');
    for (const l of Object.keys(CATALOGUE)) {
      const o = document.createElement('option');
      o.value = l;
      o.textContent = CATALOGUE[l]['lang.name'] || l;
      sel.appendChild(o);
    }
    sel.value = LANG;
    // Switching reloads the page in the new language; drafts and the open
    // conversation are kept across a reload.
    sel.addEventListener('change', () => {
      try { localStorage.setItem('kefu.lang', sel.value); } catch (e) { return; }
      location.reload();
    });
  }

  // Display names: the configuration's (console.names, in /api/me) win
  // over the catalogue's defaults; an id nobody named is shown as it is.
  function nameOf(kind, id) {
    if (!id) return '';
    const cfg = state.me && state.me.names && state.me.names[kind + 's'];
    if (cfg && cfg[id]) return cfg[id];
    const m = MSG[kind + '.' + id];
    return typeof m === 'string' ? m : id;
  }
  const groupName = (g) => nameOf('group', g);
  const reasonName = (r) => nameOf('reason', r);
  const channelName = (c) => nameOf('channel', c);
  function kindName(prefix, k) { const m = MSG[prefix + '.' + k]; return typeof m === 'string' ? m : k; }

  // customerName is how a customer is shown: the shop's name for them, their
  // nickname on the channel, the shop's user id, else the channel and a
  // short form of the visitor id.
  function customerName(x) {
    if (!x) return '';
    if (x.customer_name) return x.customer_name;
    if (x.customer_nick) return x.customer_nick;
    if (x.customer_id) return t('conv.shop_id', x.customer_id);
    const user = x.user || '';
    return channelName(x.channel) + ' ' + (user.length > 8 ? user.slice(0, 8) + '…' : user);
  }

  // convLabel is how a conversation is named in banners: its customer.
  function convLabel(conv) {
    if (state.names[conv]) return state.names[conv];
    const m = state.mine.get(conv);
    if (m) return customerName(m);
    for (const g of state.queue) for (const w of g.waiting) if (w.conv === conv) return customerName(w);
    return conv;
  }

  // Times are 24-hour, in the agent's time zone.
  const pad = (n) => String(n).padStart(2, '0');
  function fmtTime(iso) {
    const d = new Date(iso);
    return pad(d.getHours()) + ':' + pad(d.getMinutes());
  }
  function fmtDate(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + fmtTime(iso);
  }
  // fmtStamp is a transcript line's time: the time alone today, else with the date.
  function fmtStamp(iso) {
    const d = new Date(iso), now = new Date();
    if (d.toDateString() === now.toDateString()) return fmtTime(iso);
    return fmtDate(iso);
  }

  class APIError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message); this.status = status; this.code = code; this.retryAfter = retryAfter;
    }
  }

  async function api(method, path, body) {
    const opts = { method, headers: {}, credentials: 'same-origin' };
    if (method !== 'GET') {
      opts.headers['X-CSRF-Token'] = state.csrf;
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body || {});
    }
    const res = await fetch('api/' + path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const err = (data && data.error) || { code: 'http_' + res.status, message: res.statusText };
      if (err.code === 'unauthenticated') showSignIn();
      throw new APIError(res.status, err.code, err.message, Number(res.headers.get('Retry-After')) || 0);
    }
    return data;
  }

  function fmtDur(ms) {
    if (ms < 0) ms = 0;
    const s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (h > 0) return t('dur.hm', h, m % 60);
    return m + ':' + String(s % 60).padStart(2, '0');
  }

  // prioBadges shows a conversation's priority (not normal) with the
  // customer's words that raised it, and, while it waits, the time left to
  // its first-response deadline.
  function prioBadges(box, x, withDue) {
    const p = x.priority || (x.urgent ? 'urgent' : 'normal');
    const words = x.priority_words || [];
    if (p !== 'normal') {
      const b = el('span', 'badge prio prio-' + p + (p === 'urgent' ? ' urgent' : ''), t('prio.' + p));
      b.dataset.priority = p;
      if (words.length) b.title = t('prio.words', words.join('、'));
      box.appendChild(b);
    }
    if (words.length) box.appendChild(el('span', 'prio-words', '“' + words.join(' ') + '”'));
    if (withDue && x.due) {
      const left = new Date(x.due).getTime() - Date.now();
      box.appendChild(el('span', 'due' + (left < 0 ? ' overdue' : left < 60000 ? ' soon' : ''),
        left < 0 ? t('prio.overdue', fmtDur(-left)) : t('prio.left', fmtDur(left))));
    }
  }

  // slaLeft is the time left to a service-level target (or past it).
  function slaLeft(d) {
    const left = new Date(d.due).getTime() - Date.now();
    const s = el('span', 'due' + (left < 0 ? ' overdue' : left < 60000 ? ' soon' : ''),
      t('sla.' + d.target) + ' ' + (left < 0 ? t('prio.overdue', fmtDur(-left)) : t('prio.left', fmtDur(left))));
    s.dataset.target = d.target;
    return s;
  }

  function banner(text, online) {
    $('banner-text').textContent = text;
    $('banner-online').hidden = !online;
    $('banner').hidden = false;
  }

  // ---- drafts: one per conversation -------------------------------------
  // What the agent typed for a conversation stays with that conversation:
  // kept in this browser's storage under the agent and the conversation (so
  // a reload keeps it), put back when the conversation is opened again, and
  // never shown in another conversation's box.
  function draftKey(conv) { return 'kefu.draft.' + state.me.agent.id + '.' + conv; }
  function draftOf(conv) {
    try { return localStorage.getItem(draftKey(conv)) || ''; } catch (e) { return ''; }
  }
  function setDraft(conv, text) {
    try {
      if (text) localStorage.setItem(draftKey(conv), text); else localStorage.removeItem(draftKey(conv));
    } catch (e) { /* storage full or off: the box still holds it */ }
  }
  function dropAllDrafts() {
    try {
      const pre = 'kefu.draft.' + state.me.agent.id + '.';
      for (const k of Object.keys(localStorage)) if (k.startsWith(pre)) localStorage.removeItem(k);
    } catch (e) { /* nothing kept */ }
  }
  function rememberCurrent(conv) {
    try {
      const k = 'kefu.current.' + state.me.agent.id;
      if (conv) sessionStorage.setItem(k, conv); else sessionStorage.removeItem(k);
    } catch (e) { /* not kept across a reload */ }
  }
  function rememberedCurrent() {
    try { return sessionStorage.getItem('kefu.current.' + state.me.agent.id) || ''; } catch (e) { return ''; }
  }
  // The box is saved as the agent types; its conversation is the one it
  // was filled for (box.dataset.conv), never whatever is current later.
  $('reply-text').addEventListener('input', () => {
    const box = $('reply-text');
    if (box.dataset.conv) setDraft(box.dataset.conv, box.value);
  });
  function loadDraft(conv) {
    const box = $('reply-text');
    box.dataset.conv = conv || '';
    box.value = conv ? draftOf(conv) : '';
  }

  // confirmLeave asks before a conversation with an unsent draft is left
  // (closed, handed back, transferred): then runs go, or does nothing.
  function confirmLeave(conv, what, go) {
    if (!draftOf(conv).trim()) { go(); return; }
    const box = $('draft-confirm');
    $('draft-confirm-text').textContent = t('draft.confirm.' + what);
    box.hidden = false;
    $('draft-confirm-yes').onclick = () => { box.hidden = true; go(); };
    $('draft-confirm-no').onclick = () => { box.hidden = true; $('reply-text').focus(); };
    $('draft-confirm-no').focus();
  }

  // ---- sign-in -------------------------------------------------------
  function showSignIn() {
    stopLive();
    state.me = null;
    $('app').hidden = true;
    $('signin').hidden = false;
    $('signin-id').focus();
  }

  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('signin-error').textContent = '';
    $('signin-btn').disabled = true;
    try {
      const me = await api('POST', 'signin', { id: $('signin-id').value.trim(), password: $('signin-password').value });
      $('signin-password').value = '';
      start(me);
    } catch (e) {
      $('signin-error').textContent = e.code === 'rate_limited'
        ? t('signin.locked', e.retryAfter ? fmtDur(e.retryAfter * 1000) : '')
        : e.code === 'bad_credentials' ? t('signin.bad') : e.message;
    } finally {
      $('signin-btn').disabled = false;
    }
  });

  $('signout').addEventListener('click', async () => {
    try { await api('POST', 'signout'); } catch (e) { /* signed out anyway */ }
    if (state.me) { dropAllDrafts(); rememberCurrent(''); forgetUnread(() => false); }
    loadDraft('');
    state.current = null;
    showSignIn();
  });

  // ---- start ---------------------------------------------------------
  function start(me) {
    state.me = me;
    state.csrf = me.csrf;
    $('signin').hidden = true;
    $('app').hidden = false;
    $('me-name').textContent = me.agent.name + ' (' + me.agent.id + ')';
    $('me-role').textContent = t('role.' + me.agent.role);
    const sup = me.agent.role === 'supervisor';
    $('supervisor').hidden = !sup;
    $('reassign-box').hidden = !sup;
    $('gaps-open').hidden = !(sup || me.agent.role === 'editor');
    if (me.agent.role === 'editor') {
      // An editor handles no conversations: the editors' page only.
      document.querySelector('aside').hidden = true;
      document.querySelector('main').classList.add('editor-only');
      $('search-open').hidden = true;
      $('gaps-close').hidden = true;
      showView('gaps');
      loadGaps();
      return;
    }
    for (const f of window.kefu.onStart) f(me);
    const sel = $('transfer-group');
    clear(sel);
    sel.appendChild(el('option', null, '—')).value = '';
    for (const g of me.all_groups) { const o = el('option', null, groupName(g)); o.value = g; sel.appendChild(o); }
    fillSearchForm(me);
    $('reply-text').placeholder = t(me.enter_sends ? 'reply.placeholder_enter' : 'reply.placeholder');
    api('POST', 'online').then((r) => { if (r && r.status) $('status').value = r.status; })
      .catch((e) => banner(t('banner.online_failed', e.message), true));
    initAlerts();
    startLive();
    state.hb = setInterval(heartbeat, me.heartbeat_ms);
    state.timers.tick = setInterval(renderQueue, 1000);
    refreshAll();
  }

  function refreshAll() {
    refreshQueue();
    refreshMine();
    if (state.me && state.me.agent.role === 'supervisor') refreshOverview();
    if (state.current) loadConv(state.current, false);
  }

  // ---- live events (Server-Sent Events, resumed by the browser with Last-Event-ID)
  function startLive() {
    stopLive();
    const es = new EventSource('api/events');
    state.es = es;
    es.onopen = () => { $('live').className = 'live on'; };
    es.onerror = () => { $('live').className = 'live off'; };
    es.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      onEvent(ev);
    };
  }
  function stopLive() {
    if (state.es) { state.es.close(); state.es = null; }
    if (state.hb) { clearInterval(state.hb); state.hb = null; }
    for (const k in state.timers) clearInterval(state.timers[k]);
    state.timers = {};
  }

  function later(name, fn) {
    if (state.timers['t_' + name]) return;
    state.timers['t_' + name] = setTimeout(() => { delete state.timers['t_' + name]; fn(); }, 150);
  }

  function onEvent(ev) {
    switch (ev.type) {
      case 'ready': refreshAll(); return;
      case 'signed_out': showSignIn(); return;
      case 'delivery_failed':
        banner(t('banner.undelivered', convLabel(ev.conv), t('what.' + (ev.fields.what || 'message')), ev.fields.error || ''));
        return;
    }
    if (ev.stream === 'group') {
      later('queue', refreshQueue);
      if (state.me.agent.role === 'supervisor') later('overview', refreshOverview);
      if (ev.type === 'transferred' || ev.type === 'requeued' || ev.type === 'released' || ev.type === 'closed') later('mine', refreshMine);
      return;
    }
    // The agent's own stream.
    switch (ev.type) {
      case 'message':
        if (ev.conv === state.current) loadConv(ev.conv, true);
        alertOn('message', ev.conv);
        break;
      case 'lost':
      case 'transferred':
        clearUnread(ev.conv);
        markLost(ev.conv);
        later('mine', refreshMine);
        break;
      case 'assigned':
      case 'offer':
        later('mine', refreshMine);
        later('queue', refreshQueue);
        if (ev.type === 'offer') banner(t('banner.offer', convLabel(ev.conv)));
        alertOn(ev.type, ev.conv);
        break;
      default:
        later('mine', refreshMine);
    }
  }

  async function heartbeat() {
    try {
      const r = await api('POST', 'heartbeat');
      for (const c of r.lost) markLost(c);
    } catch (e) {
      if (e.code === 'offline' || e.code === 'unknown_agent') banner(t('banner.offline'), true);
    }
  }

  $('banner-online').addEventListener('click', async () => {
    try {
      const r = await api('POST', 'online');
      if (r && r.status) $('status').value = r.status;
      $('banner').hidden = true;
      refreshAll();
    } catch (e) { banner(e.message, true); }
  });
  $('banner-close').addEventListener('click', () => { $('banner').hidden = true; });

  // ---- alerts: unread counts, the page title, a sound, desktop notifications
  // What happens while the agent looks elsewhere: a customer message in a
  // conversation that is not the open one (or any, while the tab is hidden)
  // counts as unread on its line in "my conversations" and in the page's
  // title, "(3) kefu 客服工作台"; opening the conversation (or coming back
  // to the tab, for the open one) resets it. A customer message, an offer
  // and a conversation transferred to the agent also play a short tone
  // (WebAudio, no file; 提示音 in the header, kept in this browser) and show
  // a desktop notification (桌面通知 in the header asks the browser's
  // permission: a user gesture) when the tab is hidden or the conversation
  // is not the open one. Counts are kept in the tab's session storage, so a
  // reload keeps them; signing out forgets them.
  state.unread = new Map();
  function unreadKey() { return 'kefu.unread.' + state.me.agent.id; }
  function saveUnread() {
    try { sessionStorage.setItem(unreadKey(), JSON.stringify([...state.unread])); } catch (e) { /* kept in memory */ }
  }
  function unreadOf(conv) { return state.unread.get(conv) || 0; }
  function pageHidden() { return document.visibilityState === 'hidden'; }
  function renderTitle() {
    let n = 0;
    for (const v of state.unread.values()) n += v;
    const base = t('app.title');
    document.title = n ? '(' + (n > 99 ? '99+' : n) + ') ' + base : base;
  }
  function clearUnread(conv) {
    if (!state.unread.has(conv)) return;
    state.unread.delete(conv);
    saveUnread();
    renderTitle();
  }
  // forgetUnread drops the counts of conversations keep says no to (no
  // longer the agent's).
  function forgetUnread(keep) {
    let changed = false;
    for (const k of [...state.unread.keys()]) if (!keep(k)) { state.unread.delete(k); changed = true; }
    if (changed) { if (state.me) saveUnread(); renderTitle(); }
  }
  function prefOn(key, dflt) {
    try { const v = localStorage.getItem(key); return v === null ? dflt : v === '1'; } catch (e) { return dflt; }
  }
  function setPref(key, on) { try { localStorage.setItem(key, on ? '1' : '0'); } catch (e) { /* this page only */ } }

  // The tone: two short sine notes through WebAudio. Browsers start audio
  // only after a user gesture, so the context is made (or resumed) on the
  // agent's first click or key in the page.
  function audioCtx() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    if (!state.audio) { try { state.audio = new AC(); } catch (e) { return null; } }
    return state.audio;
  }
  function unlockAudio() {
    if (!prefOn('kefu.sound', true)) return;
    const a = audioCtx();
    if (a && a.state === 'suspended') a.resume().catch(() => {});
  }
  document.addEventListener('pointerdown', unlockAudio, true);
  document.addEventListener('keydown', unlockAudio, true);
  function beep() {
    if (!prefOn('kefu.sound', true)) return;
    const a = audioCtx();
    if (!a || a.state !== 'running') return;
    const t0 = a.currentTime;
    for (const [f, at] of [[880, 0], [1320, 0.16]]) {
      const o = a.createOscillator(), g = a.createGain();
      o.type = 'sine';
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t0 + at);
      g.gain.exponentialRampToValueAtTime(0.25, t0 + at + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.14);
      o.connect(g).connect(a.destination);
      o.start(t0 + at);
      o.stop(t0 + at + 0.15);
    }
    state.beeps = (state.beeps || 0) + 1; // read by the browser tests
  }

  function notifySupported() { return typeof window.Notification === 'function'; }
  function notifyOn() { return notifySupported() && Notification.permission === 'granted' && prefOn('kefu.notify', false); }
  function desktopNote(kind, conv) {
    if (!notifyOn()) return;
    try {
      const n = new Notification(t('alert.' + kind + '.title'), { body: t('alert.' + kind, convLabel(conv)), tag: 'kefu:' + conv, lang: document.documentElement.lang });
      n.onclick = () => {
        window.focus();
        if (state.mine.has(conv)) openConv(conv);
        n.close();
      };
    } catch (e) { /* a browser that only notifies from a service worker: the title and tone still tell */ }
  }

  // alertOn tells the agent of an event of their own stream: kind is
  // message, offer, assigned (a conversation transferred to them).
  function alertOn(kind, conv) {
    if (kind !== 'message' && kind !== 'offer' && kind !== 'assigned') return;
    const away = pageHidden() || conv !== state.current;
    if (kind === 'message' && away) {
      state.unread.set(conv, unreadOf(conv) + 1);
      saveUnread();
      renderTitle();
      renderMine();
    }
    if (kind === 'assigned' && conv !== state.current) {
      state.unread.set(conv, unreadOf(conv) + 1);
      saveUnread();
      renderTitle();
    }
    if (!away) return;
    beep();
    desktopNote(kind, conv);
  }

  // Back to the tab: the open conversation has been seen.
  document.addEventListener('visibilitychange', () => {
    if (!pageHidden() && state.current && unreadOf(state.current)) { clearUnread(state.current); renderMine(); }
  });

  function renderNotifyPick() {
    const box = $('notify-on');
    if (!notifySupported()) { box.parentElement.hidden = true; return; }
    box.checked = notifyOn();
    box.parentElement.title = Notification.permission === 'denied' ? t('alert.notify.denied') : t('alert.notify.title');
  }
  function initAlerts() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(unreadKey()) || '[]');
      state.unread = new Map(saved.filter((x) => Array.isArray(x) && typeof x[1] === 'number'));
    } catch (e) { state.unread = new Map(); }
    renderTitle();
    $('sound-on').checked = prefOn('kefu.sound', true);
    renderNotifyPick();
  }
  $('sound-on').addEventListener('change', () => {
    setPref('kefu.sound', $('sound-on').checked);
    if ($('sound-on').checked) { unlockAudio(); beep(); }
  });
  // Asking for the permission from the agent's click (browsers refuse a
  // request that no gesture started).
  $('notify-on').addEventListener('change', async () => {
    const want = $('notify-on').checked;
    setPref('kefu.notify', want);
    if (want && Notification.permission !== 'granted') {
      let p = 'denied';
      try { p = await Notification.requestPermission(); } catch (e) { /* treated as denied */ }
      if (p !== 'granted') { setPref('kefu.notify', false); banner(t('alert.notify.denied')); }
    }
    renderNotifyPick();
  });

  // ---- queue ---------------------------------------------------------
  async function refreshQueue() {
    try {
      const r = await api('GET', 'queue');
      state.queue = r.groups;
      state.queueAt = Date.now();
      renderQueue();
    } catch (e) { /* shown on the next action */ }
  }

  function renderQueue() {
    const box = $('queue');
    const focus = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.conv : null;
    clear(box);
    for (const g of state.queue) {
      const total = g.total === undefined ? g.waiting.length : g.total;
      box.appendChild(el('h3', null, t('queue.group', groupName(g.group), total) +
        (total > g.waiting.length ? t('queue.first', g.waiting.length) : '')));
      const ul = el('ul', 'list');
      for (const w of g.waiting) {
        const li = el('li', 'waiting');
        li.dataset.conv = w.conv;
        const head = el('div', 'item-head');
        prioBadges(head, w, true);
        head.appendChild(el('span', 'conv-id', customerName(w)));
        head.appendChild(el('span', 'muted', t('queue.rank', w.rank, fmtDur(Date.now() - new Date(w.since).getTime()))));
        li.appendChild(head);
        li.appendChild(el('div', 'muted', [reasonName(w.reason), channelName(w.channel),
          w.offered_to ? t('queue.offered_to', w.offered_to) : ''].filter(Boolean).join(' · ')));
        li.appendChild(el('div', 'preview', w.preview || ''));
        const b = el('button', 'claim', t('queue.claim'));
        b.type = 'button';
        b.dataset.conv = w.conv;
        b.addEventListener('click', (ev) => { ev.stopPropagation(); claim(w.conv); });
        li.appendChild(b);
        if (state.me.agent.role === 'supervisor') li.addEventListener('click', () => openConv(w.conv));
        ul.appendChild(li);
      }
      box.appendChild(ul);
    }
    if (focus) { const b = box.querySelector('button.claim[data-conv="' + CSS.escape(focus) + '"]'); if (b) b.focus(); }
  }

  async function claim(conv) {
    try {
      const r = await api('POST', 'claim', { conv: conv || '' });
      await refreshMine();
      refreshQueue();
      openConv(r.conv);
    } catch (e) {
      banner(e.code === 'empty' ? t('claim.empty') : e.code === 'taken' ? t('claim.taken') :
        e.code === 'capacity' ? t('claim.capacity') : e.message);
      refreshQueue();
    }
  }
  $('claim-next').addEventListener('click', () => claim(''));

  // ---- my conversations -----------------------------------------------
  async function refreshMine() {
    try {
      const r = await api('GET', 'convs');
      state.mine = new Map();
      for (const c of r.convs) {
        state.mine.set(c.conv, c);
        if (c.lost && c.conv === state.current) showLost();
      }
      forgetUnread((conv) => state.mine.has(conv));
      renderMine();
      if (!state.current && !state.reopened) {
        state.reopened = true;
        const prev = rememberedCurrent();
        if (prev && state.mine.has(prev)) openConv(prev);
      }
    } catch (e) { /* ignore */ }
  }

  function renderMine() {
    const ul = $('mine');
    clear(ul);
    for (const c of state.mine.values()) {
      const n = unreadOf(c.conv);
      const li = el('li', (c.lost ? 'lost' : '') + (c.conv === state.current ? ' active' : '') + (n ? ' unread' : ''));
      li.dataset.conv = c.conv;
      const head = el('div', 'item-head');
      prioBadges(head, c, false);
      head.appendChild(el('span', 'conv-id', customerName(c)));
      if (n) { const u = el('span', 'unread-count', n > 99 ? '99+' : String(n)); u.title = t('alert.unread', n); u.dataset.unread = String(n); head.appendChild(u); }
      if (c.sla && c.sla.length) head.appendChild(slaLeft(c.sla[0]));
      if (c.lost) head.appendChild(el('span', 'badge urgent', t('badge.lost')));
      li.appendChild(head);
      li.appendChild(el('div', 'muted', [groupName(c.group), reasonName(c.reason), channelName(c.channel)].filter(Boolean).join(' · ')));
      li.addEventListener('click', () => openConv(c.conv));
      ul.appendChild(li);
    }
  }

  function markLost(conv) {
    const m = state.mine.get(conv);
    if (m) { m.lost = true; renderMine(); }
    if (conv === state.current) showLost();
  }

  // ---- one conversation ----------------------------------------------
  function setWritable(ok) {
    for (const id of ['reply-text', 'reply-send', 'note-send', 'transfer-btn', 'tobot-btn', 'close-btn', 'image-send']) $(id).disabled = !ok;
  }
  function showLost() {
    $('lost-banner').hidden = false;
    setWritable(false);
  }

  function openConv(conv) {
    state.current = conv;
    rememberCurrent(conv);
    loadDraft(conv);
    pendingID = null;
    $('draft-confirm').hidden = true;
    state.lastEntry = '';
    state.currentArchived = false;
    const m = state.mine.get(conv);
    clearUnread(conv);
    renderMine();
    showView('conv');
    $('conv-title').dataset.conv = conv;
    $('conv-archived').hidden = true;
    loadHistory(conv, 1);
    $('conv-error').textContent = '';
    $('lost-banner').hidden = true;
    $('reach').hidden = true;
    $('labels-box').hidden = true;
    setWritable(true);
    clear($('transcript'));
    if (m && m.lost) { showLost(); return; }
    loadConv(conv, false);
  }

  async function loadConv(conv, more) {
    if (state.currentArchived) more = false; // read from the archive: no stream ids to resume after
    let r;
    try {
      r = await api('GET', 'convs/' + encodeURIComponent(conv) + (more && state.lastEntry ? '?after=' + encodeURIComponent(state.lastEntry) : ''));
    } catch (e) {
      if (conv !== state.current) return;
      if (e.code === 'not_holder') showLost(); else $('conv-error').textContent = e.message;
      return;
    }
    if (conv !== state.current) return;
    const c = r.conv;
    const cu = r.customer;
    const who = { channel: c.channel, user: c.user, customer_name: cu && cu.name, customer_id: cu && cu.id, customer_nick: c.customer_nick };
    state.names[c.id] = customerName(who);
    $('conv-title').textContent = state.names[c.id];
    $('conv-title').title = c.id;
    $('conv-title').dataset.conv = c.id;
    const meta = $('conv-meta');
    clear(meta);
    prioBadges(meta, c, c.mode === 'waiting');
    const sel = el('select', 'prio-select');
    sel.id = 'prio-select';
    sel.title = t('prio.change');
    for (const l of ['urgent', 'high', 'normal', 'low']) {
      const o = el('option', null, t('prio.' + l));
      o.value = l;
      sel.appendChild(o);
    }
    sel.value = c.priority || 'normal';
    sel.hidden = !(c.mode === 'agent' || c.mode === 'waiting');
    sel.addEventListener('change', async () => {
      try {
        await api('POST', 'convs/' + encodeURIComponent(c.id) + '/priority', { priority: sel.value });
        refreshQueue();
        refreshMine();
        openConv(c.id);
      } catch (e) { convError(e); }
    });
    meta.appendChild(sel);
    if (cu && (cu.name || cu.phone || cu.level || cu.id)) {
      meta.appendChild(el('span', 'customer', [cu.name, cu.phone, cu.level, cu.id ? t('conv.shop_id', cu.id) : ''].filter(Boolean).join(' · ')));
    }
    if (cu && cu.signed_in_as) meta.appendChild(el('span', 'muted', ' → ' + cu.signed_in_as));
    meta.appendChild(el('span', 'muted', ' ' + [channelName(c.channel), groupName(c.group), t('conv.reason', reasonName(c.reason) || '—'),
      c.last_intent ? t('conv.last_intent', c.last_intent) : '', c.lang ? t('conv.lang', c.lang) : ''].filter(Boolean).join(' · ')));
    $('reach').hidden = !r.reach;
    $('reach').dataset.reach = r.reach || '';
    $('reach').textContent = r.reach ? t('reach.' + r.reach) : '';
    if (r.assignment) meta.appendChild(assignNode(r.assignment));
    const gl = $('guesses');
    clear(gl);
    for (const g of c.guesses) gl.appendChild(el('li', null, (g.question || g.intent) + ' ' + (g.score * 100).toFixed(0) + '%'));
    if (!c.guesses.length) gl.appendChild(el('li', 'muted', t('conv.none')));
    const en = $('entities');
    clear(en);
    for (const x of c.entities) en.appendChild(el('li', null, kindName('entity', x.type) + '：' + x.value));
    if (!c.entities.length) en.appendChild(el('li', 'muted', t('conv.none')));
    if (!more) clear($('transcript'));
    for (const e of r.transcript) addEntry(e);
    state.currentArchived = !!r.archived;
    renderLabels(c.id, r.archived ? null : r.labels);
    $('conv-archived').hidden = !r.archived;
    if (r.archived) { setWritable(false); $('conv-error').textContent = ''; return; }
    if (!r.mine) {
      if (state.me.agent.role === 'supervisor' && !state.mine.has(conv)) viewOnly(c);
      else showLost();
    }
  }

  // ---- labels (tags) on the open conversation ------------------------------
  // The configured labels (console.labels, in /api/me) by name; the agent
  // adds one from the list and removes one with its ×. The server keeps the
  // set (and the archive each change); the page shows what it answered.
  function labelName(id) {
    const l = ((state.me && state.me.labels) || []).find((x) => x.id === id);
    return l ? l.name : id;
  }
  function renderLabels(conv, labels) {
    const box = $('labels-box');
    box.hidden = !labels || !((state.me && state.me.labels) || []).length;
    if (box.hidden) return;
    box.dataset.conv = conv;
    const list = $('labels');
    clear(list);
    for (const id of labels) {
      const chip = el('span', 'label-chip', el('span', 'label-name', labelName(id)));
      chip.dataset.label = id;
      const x = el('button', null, '×');
      x.type = 'button';
      x.title = t('labels.remove', labelName(id));
      x.addEventListener('click', () => changeLabels(conv, [], [id]));
      chip.appendChild(x);
      list.appendChild(chip);
    }
    const sel = $('label-add');
    clear(sel);
    option(sel, '', t('labels.add'));
    for (const l of state.me.labels) if (!labels.includes(l.id)) option(sel, l.id, l.name);
    sel.hidden = sel.options.length <= 1;
  }
  async function changeLabels(conv, add, remove) {
    try {
      const r = await api('POST', 'convs/' + encodeURIComponent(conv) + '/labels', { add, remove });
      if (conv === state.current) renderLabels(conv, r.labels);
    } catch (e) { if (conv === state.current) convError(e); }
  }
  $('label-add').addEventListener('change', () => {
    const id = $('label-add').value;
    const conv = $('labels-box').dataset.conv;
    if (id && conv) changeLabels(conv, [id], []);
  });

  // assignNode says to a supervisor why the holder got the conversation:
  // the reason (returning customer, least busy, performance, manual,
  // transfer) and its figures.
  function assignNode(a) {
    const d = a.detail || {};
    const parts = [];
    if (d.since) parts.push(t('assign.since', fmtDate(new Date(Number(d.since)).toISOString())));
    if (d.csat && d.csat !== '-') parts.push(t('assign.csat', d.csat));
    if (d.frt && d.frt !== '-') parts.push(t('assign.frt', d.frt));
    if (d.res && d.res !== '-') parts.push(t('assign.res', Math.round(Number(d.res) * 100)));
    if (d.load) parts.push(t('assign.load', d.load));
    if (d.by) parts.push(t('assign.by', d.by));
    const reason = t('assign.' + a.reason);
    const n = el('span', 'assign', t('assign.title', reason, parts));
    n.id = 'assign-reason';
    n.dataset.reason = a.reason;
    return n;
  }

  // A supervisor looking at someone else's conversation: read and reassign only.
  function viewOnly(c) {
    setWritable(false);
    $('conv-error').textContent = t('conv.viewonly', c.agent ? t('conv.held_by', c.agent) : kindName('mode', c.mode));
  }

  // entryNode is a transcript line (live or archived).
  function entryNode(e) {
    const cls = 'entry ' + e.dir + (e.kind === 'agent' ? ' agent' : '');
    let who;
    if (e.dir === 'in') who = e.kind ? t('who.customer_kind', kindName('inkind', e.kind)) : t('who.customer');
    else if (e.dir === 'note') who = t('who.note', e.agent || '?');
    else if (e.kind === 'agent') who = t('who.agent', e.agent || '');
    else who = [t('who.bot'), kindName('outkind', e.kind || ''), e.intent || ''].filter(Boolean).join(' · ');
    if (e.at) who += ' · ' + fmtStamp(e.at);
    const d = el('div', cls, el('span', 'who', who), el('span', 'text', e.text || e.choice || ''));
    d.dataset.id = e.id;
    if (e.choices && e.choices.length) d.appendChild(el('span', 'muted', ' [' + e.choices.map((x) => x.label).join(' | ') + ']'));
    if (e.image) d.appendChild(imageNode(e.image));
    return d;
  }

  // imageNode shows an entry's image (a short-lived signed link; the
  // transcript read again gives a fresh one), opening it whole in a tab.
  function imageNode(src) {
    const a = el('a', 'pic-link');
    a.href = src; a.target = '_blank'; a.rel = 'noopener noreferrer'; a.title = t('image.open');
    const img = el('img', 'pic');
    img.src = src; img.alt = t('image.alt'); img.loading = 'lazy';
    a.appendChild(img);
    return a;
  }

  // sendImage uploads the picked image to the current conversation: it is
  // checked and stored by the server, written into the transcript as the
  // agent's message and delivered on the customer's channel.
  async function sendImage(file) {
    const conv = state.current;
    if (!conv || !file) return;
    const fd = new FormData();
    fd.append('id', Date.now().toString(36) + Math.random().toString(36).slice(2));
    fd.append('file', file);
    $('image-send').disabled = true;
    try {
      const res = await fetch('api/convs/' + encodeURIComponent(conv) + '/image', {
        method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': state.csrf }, body: fd });
      let data = null;
      try { data = await res.json(); } catch (e) { data = null; }
      if (!res.ok) {
        const err = (data && data.error) || { code: 'http_' + res.status, message: res.statusText };
        if (err.code === 'unauthenticated') showSignIn();
        const msg = err.code === 'not_image' || err.code === 'too_large' ? t('image.' + err.code) : err.message;
        if (conv === state.current) {
          if (err.code === 'lease_lost' || err.code === 'not_holder') convError(new APIError(res.status, err.code, err.message, 0));
          else $('conv-error').textContent = t('image.failed', msg);
        }
        return;
      }
      if (conv !== state.current) return;
      $('conv-error').textContent = data.delivered || data.dup ? '' : t('reply.undelivered', data.delivery_error || '');
      loadConv(conv, true);
    } catch (e) {
      if (conv === state.current) $('conv-error').textContent = t('image.failed', e.message);
    } finally {
      if ($('lost-banner').hidden) $('image-send').disabled = false;
    }
  }
  $('image-send').addEventListener('click', () => $('image-file').click());
  $('image-file').addEventListener('change', () => {
    const f = $('image-file').files[0];
    $('image-file').value = '';
    sendImage(f);
  });

  function addEntry(e) {
    const box = $('transcript');
    if (box.querySelector('[data-id="' + CSS.escape(e.id) + '"]')) return;
    state.lastEntry = e.id;
    box.appendChild(entryNode(e));
    box.scrollTop = box.scrollHeight;
  }

  function convError(e) {
    if (e.code === 'lease_lost' || e.code === 'not_holder') {
      showLost();
      $('conv-error').textContent = t('conv.refused', e.code);
      refreshMine();
    } else {
      $('conv-error').textContent = e.message;
    }
  }

  // pendingID is the id of the reply being sent in the current
  // conversation (kept for a retry after an internal error; a new
  // conversation starts without one).
  var pendingID = null;
  async function sendReply() {
    const conv = state.current;
    const box = $('reply-text');
    const text = box.value;
    if (!conv || box.dataset.conv !== conv || !text.trim()) return;
    pendingID = pendingID || (Date.now().toString(36) + Math.random().toString(36).slice(2));
    const id = pendingID;
    $('reply-send').disabled = true;
    try {
      const r = await api('POST', 'convs/' + encodeURIComponent(conv) + '/reply', { text, id });
      if (pendingID === id) pendingID = null;
      // Sent: the draft is gone, unless the agent typed more meanwhile.
      if (draftOf(conv) === text) setDraft(conv, '');
      if (box.dataset.conv === conv && box.value === text) box.value = '';
      if (conv !== state.current) return;
      $('conv-error').textContent = r.delivered || r.dup ? '' : t('reply.undelivered', r.delivery_error || '');
      loadConv(conv, true);
    } catch (e) {
      if (e.code !== 'internal' && pendingID === id) pendingID = null;
      if (conv === state.current) convError(e);
    } finally {
      if ($('lost-banner').hidden) $('reply-send').disabled = false;
    }
  }
  $('reply-form').addEventListener('submit', (ev) => { ev.preventDefault(); sendReply(); });
  // Enter sends and Shift+Enter adds a line (console.enter_sends; else
  // Enter adds a line); Ctrl/Cmd+Enter always sends. An Enter that ends an
  // input method's composition (pinyin) only ends it.
  $('reply-text').addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || ev.isComposing || ev.keyCode === 229) return;
    if (ev.defaultPrevented) return; // taken by the picker
    const sends = ev.ctrlKey || ev.metaKey || (state.me && state.me.enter_sends && !ev.shiftKey && !ev.altKey);
    if (sends) { ev.preventDefault(); sendReply(); }
  });

  // A private note: the text in the box, never sent to the customer.
  async function sendNote() {
    const conv = state.current;
    const box = $('reply-text');
    const text = box.value;
    if (!conv || box.dataset.conv !== conv || !text.trim()) return;
    const id = Date.now().toString(36) + Math.random().toString(36).slice(2);
    $('note-send').disabled = true;
    try {
      await api('POST', 'convs/' + encodeURIComponent(conv) + '/note', { text, id });
      if (draftOf(conv) === text) setDraft(conv, '');
      if (box.dataset.conv === conv && box.value === text) box.value = '';
      if (conv === state.current) loadConv(conv, true);
    } catch (e) {
      if (conv === state.current) convError(e);
    } finally {
      if ($('lost-banner').hidden) $('note-send').disabled = false;
    }
  }
  $('note-send').addEventListener('click', sendNote);

  // The agent's own status: online, busy (keeps conversations, no new
  // ones), away.
  $('status').addEventListener('change', async () => {
    const want = $('status').value;
    try {
      await api('POST', 'status', { status: want });
      if (state.me.agent.role === 'supervisor') later('overview', refreshOverview);
    } catch (e) { banner(t('status.failed', e.message)); }
  });

  // leftConv forgets the conversation the agent just ended or passed on,
  // and its draft.
  function leftConv(conv) {
    setDraft(conv, '');
    clearUnread(conv);
    if (state.current === conv) {
      state.current = null;
      rememberCurrent('');
      loadDraft('');
      $('conv').hidden = true;
    }
  }

  async function endConv(what) {
    const conv = state.current;
    if (!conv) return;
    try {
      const r = await api('POST', 'convs/' + encodeURIComponent(conv) + '/' + what);
      if (r.survey === 'failed') banner(t('close.survey_failed', r.survey_error || ''));
      leftConv(conv);
      refreshMine();
      refreshQueue();
    } catch (e) { convError(e); }
  }
  $('close-btn').addEventListener('click', () => { const c = state.current; if (c) confirmLeave(c, 'close', () => openWrapUp(c)); });

  // ---- wrap-up: what the conversation was about, and whether it was resolved
  async function openWrapUp(conv) {
    const sel = $('wrapup-label');
    clear(sel);
    option(sel, '', t('wrapup.choose'));
    try {
      const r = await api('GET', 'wrapup');
      const group = (label, items) => {
        if (!items.length) return;
        const g = el('optgroup');
        g.label = label;
        for (const x of items) { const o = el('option', null, x.name); o.value = x.id; g.appendChild(o); }
        sel.appendChild(g);
      };
      group(t('wrapup.labels'), r.labels);
      group(t('wrapup.intents'), r.intents.map((x) => ({ id: x.id, name: x.name + '（' + x.id + '）' })));
    } catch (e) { convError(e); return; }
    $('wrapup-resolved-yes').checked = false;
    $('wrapup-resolved-no').checked = false;
    $('wrapup-error').textContent = '';
    $('wrapup').dataset.conv = conv;
    $('wrapup').hidden = false;
    wrapUpReady();
    sel.focus();
  }
  function wrapUpReady() {
    $('wrapup-confirm').disabled = !($('wrapup-label').value && ($('wrapup-resolved-yes').checked || $('wrapup-resolved-no').checked));
  }
  for (const id of ['wrapup-label', 'wrapup-resolved-yes', 'wrapup-resolved-no']) $(id).addEventListener('change', wrapUpReady);
  $('wrapup-cancel').addEventListener('click', () => { $('wrapup').hidden = true; });
  $('wrapup').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const conv = $('wrapup').dataset.conv;
    const label = $('wrapup-label').value;
    if (!label || !($('wrapup-resolved-yes').checked || $('wrapup-resolved-no').checked)) {
      $('wrapup-error').textContent = t('wrapup.missing');
      return;
    }
    $('wrapup-confirm').disabled = true;
    try {
      const r = await api('POST', 'convs/' + encodeURIComponent(conv) + '/close', { label, resolved: $('wrapup-resolved-yes').checked });
      $('wrapup').hidden = true;
      if (r.survey === 'failed') banner(t('close.survey_failed', r.survey_error || ''));
      leftConv(conv);
      refreshMine();
      refreshQueue();
    } catch (e) {
      $('wrapup-error').textContent = e.message;
      wrapUpReady();
    }
  });

  // ---- the editors' page: what the bot did not answer well ---------------
  async function loadGaps() {
    $('gaps-error').textContent = '';
    let r;
    try { r = await api('GET', 'gaps'); } catch (e) { $('gaps-error').textContent = e.message; return; }
    const ol = $('gaps-list');
    clear(ol);
    $('gaps-count').textContent = t('gaps.count', r.clusters.length);
    if (!r.clusters.length) ol.appendChild(el('li', 'muted', t('gaps.none')));
    for (const c of r.clusters) ol.appendChild(gapItem(c));
  }
  function gapItem(c) {
    const li = el('li', 'gap');
    li.dataset.id = c.id;
    const head = el('div', 'item-head', el('strong', 'gap-size', t('gaps.size', c.size)));
    for (const k of Object.keys(c.reasons).sort()) head.appendChild(el('span', 'badge', t('gaps.reason.' + k) + ' ' + c.reasons[k]));
    li.appendChild(head);
    const ex = el('ul', 'examples');
    for (const e of c.examples) ex.appendChild(el('li', 'example', e));
    li.appendChild(ex);
    li.appendChild(el('div', 'gap-nearest', c.nearest_intent ? t('gaps.nearest', c.nearest_intent, c.score) : t('gaps.nearest.none')));
    li.appendChild(el('div', 'gap-suggestion', c.suggestion === 'paraphrase' ? t('gaps.suggest.paraphrase', c.nearest_intent) : t('gaps.suggest.new_intent')));
    li.appendChild(el('div', 'muted', t('gaps.yaml')));
    li.appendChild(el('pre', 'gap-yaml', c.yaml));
    const b = el('button', 'dismiss', t('gaps.dismiss'));
    b.type = 'button';
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        await api('POST', 'gaps/' + encodeURIComponent(c.id) + '/dismiss');
        li.remove();
        $('gaps-count').textContent = t('gaps.count', $('gaps-list').querySelectorAll('li.gap').length);
      } catch (e) { $('gaps-error').textContent = e.message; b.disabled = false; }
    });
    li.appendChild(b);
    return li;
  }
  $('gaps-open').addEventListener('click', () => { showView('gaps'); loadGaps(); });
  $('gaps-refresh').addEventListener('click', loadGaps);
  $('gaps-close').addEventListener('click', () => showView(state.current ? 'conv' : 'none'));
  $('tobot-btn').addEventListener('click', () => { const c = state.current; if (c) confirmLeave(c, 'bot', () => endConv('bot')); });

  async function transferTo(path) {
    const conv = state.current;
    const body = { group: $('transfer-group').value, agent: $('transfer-agent').value.trim(), note: $('transfer-note').value };
    try {
      await api('POST', 'convs/' + encodeURIComponent(conv) + '/' + path, body);
      $('transfer-note').value = '';
      $('transfer-agent').value = '';
      $('transfer').open = false;
      if (path === 'transfer') leftConv(conv);
      refreshMine();
      refreshQueue();
    } catch (e) { convError(e); }
  }
  $('transfer-btn').addEventListener('click', () => { const c = state.current; if (c) confirmLeave(c, 'transfer', () => transferTo('transfer')); });
  $('reassign-btn').addEventListener('click', () => {
    if (!$('transfer').open) { $('transfer').open = true; return; } // fill in the target first
    transferTo('reassign');
  });

  $('dismiss').addEventListener('click', async () => {
    const conv = state.current;
    try { await api('POST', 'convs/' + encodeURIComponent(conv) + '/dismiss'); } catch (e) { /* ignore */ }
    leftConv(conv);
    refreshMine();
  });

  // ---- supervisors -----------------------------------------------------
  async function refreshOverview() {
    let r;
    try { r = await api('GET', 'overview'); } catch (e) { return; }
    const gb = document.querySelector('#overview-groups tbody');
    clear(gb);
    for (const g of r.groups) {
      const tr = el('tr');
      for (const v of [groupName(g.group), String(g.waiting), String(g.urgent), fmtDur(g.oldest_ms), String(g.online),
        g.busy + '/' + g.slots, g.avg_handle_ms ? fmtDur(g.avg_handle_ms) : '—']) tr.appendChild(el('td', null, v));
      gb.appendChild(tr);
    }
    const ab = document.querySelector('#overview-agents tbody');
    clear(ab);
    for (const a of r.agents) {
      const tr = el('tr');
      const st = kindName('status', a.status);
      for (const v of [a.name + ' (' + a.id + ')', a.present ? st : t('status.absent', st), a.held + '/' + a.max,
        a.ratings ? a.rating_avg.toFixed(1) + ' (' + a.ratings + ')' : '—']) tr.appendChild(el('td', null, v));
      tr.appendChild(heldByCell(a.convs || []));
      ab.appendChild(tr);
    }
  }
  $('overview-refresh').addEventListener('click', refreshOverview);

  // heldByCell lists an agent's conversations in the supervisors' figures,
  // each with why it came to them; a click opens it (read-only).
  function heldByCell(convs) {
    const td = el('td', 'held-by');
    for (const c of convs) {
      const reason = c.assignment ? t('assign.' + c.assignment.reason) : '—';
      const b = el('button', 'held-conv', (state.names[c.conv] || c.conv) + ' · ' + reason);
      b.type = 'button';
      b.dataset.conv = c.conv;
      b.dataset.reason = c.assignment ? c.assignment.reason : '';
      b.addEventListener('click', () => openConv(c.conv));
      td.appendChild(b);
    }
    if (!convs.length) td.textContent = '—';
    return td;
  }

  // ---- the archive: history, search, read-only conversations ------------
  // One view at a time in the main column: the conversation, the search
  // page, or an archived conversation (Back returns to the one before).
  function showView(name) {
    if (name !== 'archive') state.view = name;
    $('conv').hidden = name !== 'conv';
    $('search').hidden = name !== 'search';
    $('archive-view').hidden = name !== 'archive';
    $('gaps').hidden = name !== 'gaps';
    $('tickets').hidden = name !== 'tickets';
  }

  function outcomeText(r) { return r.outcome ? t('outcome.' + r.outcome) : t('outcome.open'); }
  function ratingText(r) { return r.rating ? t('archive.rating', r.rating) : t('archive.unrated'); }

  // resultItem is one archived conversation in a list (history, search).
  function resultItem(r) {
    const li = el('li', 'result');
    li.dataset.conv = r.conv;
    const head = el('div', 'item-head');
    head.appendChild(el('span', 'conv-date', fmtDate(r.started)));
    head.appendChild(el('span', 'badge', channelName(r.channel)));
    head.appendChild(el('span', 'badge outcome-' + (r.outcome || 'open'), outcomeText(r)));
    head.appendChild(el('span', 'muted', r.agent || t('archive.noagent')));
    head.appendChild(el('span', 'rating', ratingText(r)));
    li.appendChild(head);
    li.appendChild(el('div', 'muted', [r.conv, r.group ? t('archive.group', groupName(r.group)) : ''].filter(Boolean).join(' · ')));
    li.appendChild(el('div', 'preview', r.snippet || ''));
    li.addEventListener('click', () => openArchived(r.conv));
    return li;
  }

  // History: the customer's earlier conversations, of any age, newest first.
  // More pages follow the cursor the page before gave (after=).
  async function loadHistory(conv, page, after) {
    const ul = $('history-list');
    if (page === 1) { clear(ul); $('history-count').textContent = ''; }
    $('history-more').hidden = true;
    let r;
    try {
      r = await api('GET', 'convs/' + encodeURIComponent(conv) + '/history?page=' + page + (after ? '&after=' + encodeURIComponent(after) : ''));
    } catch (e) {
      if (conv === state.current && e.code === 'not_found') ul.appendChild(el('li', 'muted', t('history.off')));
      return;
    }
    if (conv !== state.current) return;
    const h = r.history;
    $('history-count').textContent = t('history.count', h.total, h.capped);
    for (const x of h.results) ul.appendChild(resultItem(x));
    if (!h.total) ul.appendChild(el('li', 'muted', t('history.none')));
    const more = $('history-more');
    more.hidden = !h.next;
    more.onclick = () => loadHistory(conv, h.page + 1, h.next);
  }

  // An archived conversation, read-only.
  async function openArchived(aid) {
    let r;
    try {
      r = await api('GET', 'archive/convs/' + encodeURIComponent(aid));
    } catch (e) { banner(e.message); return; }
    const c = r.conv;
    $('archive-title').textContent = t('archive.title', c.conv);
    $('archive-meta').textContent = [fmtDate(c.started) + (c.ended ? ' – ' + fmtDate(c.ended) : ''), channelName(c.channel), c.customer,
      c.group ? t('archive.group', groupName(c.group)) : '', outcomeText(c), c.agent || t('archive.noagent'), ratingText(c)].filter(Boolean).join(' · ');
    const box = $('archive-transcript');
    clear(box);
    for (const e of r.transcript) box.appendChild(entryNode(e));
    const ol = $('archive-events-list');
    clear(ol);
    for (const ev of r.events) {
      const f = Object.keys(ev.fields).sort().map((k) => k + '=' + ev.fields[k]).join(' ');
      ol.appendChild(el('li', null, fmtDate(ev.at) + ' ' + ev.type + (f ? ' · ' + f : '')));
    }
    showView('archive');
  }
  $('archive-back').addEventListener('click', () => showView(state.view || 'conv'));

  // Search.
  function option(sel, value, label) { const o = el('option', null, label); o.value = value; sel.appendChild(o); }
  function fillSearchForm(me) {
    const g = $('search-group');
    clear(g);
    option(g, '', t('search.any'));
    for (const x of (me.agent.role === 'supervisor' ? me.all_groups : me.agent.groups)) option(g, x, groupName(x));
    const ch = $('search-channel');
    clear(ch);
    option(ch, '', t('search.any'));
    for (const x of ['web', 'wechat', 'telegram']) option(ch, x, channelName(x));
    const lb = $('search-label');
    clear(lb);
    option(lb, '', t('search.any'));
    for (const x of me.labels || []) option(lb, x.id, x.name);
    lb.parentElement.hidden = !(me.labels || []).length;
    const rt = $('search-rating');
    clear(rt);
    option(rt, '', t('search.any'));
    for (let n = 5; n >= 1; n--) option(rt, n + '-' + n, t('archive.rating', n));
    option(rt, '1-2', t('search.rating.low'));
    option(rt, '4-5', t('search.rating.high'));
  }

  // searchParams reads the form; days are the agent's local days.
  function searchParams(page, after) {
    const p = new URLSearchParams();
    const set = (k, v) => { v = v.trim(); if (v) p.set(k, v); };
    set('q', $('search-q').value);
    set('entity', $('search-entity').value);
    set('customer', $('search-customer').value);
    set('agent', $('search-agent').value);
    set('channel', $('search-channel').value);
    set('group', $('search-group').value);
    set('label', $('search-label').value);
    const [lo, hi] = $('search-rating').value.split('-');
    if (lo) { p.set('rating_min', lo); p.set('rating_max', hi); }
    const day = (v, next) => {
      const d = new Date(v + 'T00:00:00');
      if (next) d.setDate(d.getDate() + 1); // "to" includes its day
      return d.toISOString();
    };
    if ($('search-from').value) p.set('from', day($('search-from').value, false));
    if ($('search-to').value) p.set('to', day($('search-to').value, true));
    p.set('page', String(page));
    if (after) p.set('after', after);
    return p;
  }

  // Pages follow cursors: searchAfter[n - 1] is the cursor page n starts
  // after ('' for the first), kept for going back.
  async function runSearch(page) {
    $('search-error').textContent = '';
    if (page === 1) state.searchAfter = [''];
    let r;
    try {
      r = await api('GET', 'archive/search?' + searchParams(page, state.searchAfter[page - 1]).toString());
    } catch (e) { $('search-error').textContent = e.message; return; }
    state.searchPage = r.page;
    state.searchAfter[r.page] = r.next || '';
    $('search-total').textContent = t('search.total', r.total, r.capped);
    $('search-page').textContent = t('search.page', r.page, r.pages, r.capped);
    $('search-prev').disabled = r.page <= 1;
    $('search-next').disabled = !r.next;
    const ul = $('search-results');
    clear(ul);
    for (const x of r.results) ul.appendChild(resultItem(x));
    if (!r.total) ul.appendChild(el('li', 'muted', t('search.none')));
  }
  $('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); runSearch(1); });
  $('search-prev').addEventListener('click', () => runSearch(state.searchPage - 1));
  $('search-next').addEventListener('click', () => runSearch(state.searchPage + 1));
  $('search-open').addEventListener('click', () => { showView('search'); $('search-q').focus(); });
  $('search-close').addEventListener('click', () => showView(state.current ? 'conv' : 'none'));

  // ---- canned replies: the / picker ---------------------------------
  // Typing / (at the start or after a space) and a few letters in the reply
  // box — pinyin initials, full pinyin or Chinese — lists the canned replies
  // (快捷回复) the agent's groups see and the FAQ's answers (客服知识库),
  // searched by the server (GET api/canned) with the variables filled for
  // the open conversation. ↑/↓ move, Enter or a click inserts in place of
  // the /word (the agent may edit it before sending), Esc closes.
  const picker = { open: false, items: [], sel: 0, seq: 0, start: -1, off: -1 };
  // slashToken is the /word before the caret: its start and its query, or null.
  function slashToken() {
    const box = $('reply-text');
    const upto = box.value.slice(0, box.selectionStart);
    // / or, from a Chinese input method, ／ or 、 (what the / key types in
    // Chinese mode), at the start or after a space.
    const m = /(^|\s)[/／、]([^\s/／、]{0,32})$/.exec(upto);
    if (!m) return null;
    return { start: upto.length - m[2].length - 1, q: m[2] };
  }
  function closePicker() {
    picker.open = false;
    picker.items = [];
    picker.seq++;
    $('canned-picker').hidden = true;
    $('reply-text').setAttribute('aria-expanded', 'false');
  }
  function renderPicker() {
    const ul = $('canned-picker');
    clear(ul);
    picker.items.forEach((it, i) => {
      const li = el('li', 'canned-item' + (i === picker.sel ? ' selected' : ''),
        el('span', 'badge canned-kind kind-' + it.kind, t('canned.kind.' + it.kind)),
        el('span', 'canned-title', it.title),
        el('div', 'canned-text', it.text));
      li.id = 'canned-opt-' + i;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === picker.sel));
      li.dataset.idx = String(i);
      li.dataset.kind = it.kind;
      li.addEventListener('mousedown', (ev) => { ev.preventDefault(); pickCanned(i); });
      ul.appendChild(li);
    });
    if (!picker.items.length) ul.appendChild(el('li', 'muted canned-none', t('canned.none')));
    ul.appendChild(el('li', 'muted canned-hint', t('canned.hint')));
    ul.hidden = false;
    $('reply-text').setAttribute('aria-expanded', 'true');
    $('reply-text').setAttribute('aria-activedescendant', picker.items.length ? 'canned-opt-' + picker.sel : '');
    const cur = ul.querySelector('li.selected');
    if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: 'nearest' });
  }
  async function searchCanned(tok) {
    const seq = ++picker.seq;
    const conv = $('reply-text').dataset.conv || '';
    const qs = new URLSearchParams({ q: tok.q });
    if (conv) qs.set('conv', conv);
    let r;
    try { r = await api('GET', 'canned?' + qs.toString()); } catch (e) { if (seq === picker.seq) closePicker(); return; }
    if (seq !== picker.seq || ($('reply-text').dataset.conv || '') !== conv) return; // a later search, or another conversation
    picker.open = true;
    picker.start = tok.start;
    picker.items = r.items || [];
    picker.sel = 0;
    renderPicker();
  }
  function pickCanned(i) {
    const it = picker.items[i];
    const box = $('reply-text');
    const tok = slashToken();
    closePicker();
    if (!it || !tok) return;
    const end = box.selectionStart;
    box.value = box.value.slice(0, tok.start) + it.text + box.value.slice(end);
    const caret = tok.start + it.text.length;
    box.setSelectionRange(caret, caret);
    picker.off = -1;
    if (box.dataset.conv) setDraft(box.dataset.conv, box.value);
    box.focus();
  }
  $('reply-text').addEventListener('input', () => {
    const tok = slashToken();
    if (!tok || tok.start === picker.off) {
      if (!tok) picker.off = -1;
      if (picker.open || !$('canned-picker').hidden) closePicker();
      return;
    }
    searchCanned(tok);
  });
  // Capture on the form: the picker takes its keys before the box's own
  // Enter-sends handler (which skips an event already taken).
  $('reply-form').addEventListener('keydown', (ev) => {
    if (!picker.open || ev.target !== $('reply-text') || ev.isComposing || ev.keyCode === 229) return;
    const n = picker.items.length;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      if (n) picker.sel = (picker.sel + (ev.key === 'ArrowDown' ? 1 : n - 1)) % n;
      renderPicker();
    } else if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      if (n) pickCanned(picker.sel); else closePicker();
    } else if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      const tok = slashToken();
      picker.off = tok ? tok.start : -1; // stays closed for this /word
      closePicker();
    }
  }, true);
  $('reply-text').addEventListener('blur', () => { if (picker.open) closePicker(); });
  // What other scripts of the page (tickets.js) use: they add their
  // views through these and start with the agent (onStart).
  window.kefu = { api, t, el, clear, fmtDate, fmtDur, showView, groupName, nameOf, openArchived, banner, state, option, onStart: [] };

  // ---- boot ------------------------------------------------------------
  api('GET', 'me').then(start).catch(() => showSignIn());
})();
