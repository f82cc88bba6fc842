// kefu agent console: the Tickets view (工单) and 转工单 from a
// conversation. It works through app.js's helpers (window.kefu); what it
// says comes from messages.js. Everything a customer or agent wrote is put
// on the page as text, never as HTML.
'use strict';
(function () {
  const K = window.kefu;
  if (!K) return;
  const { api, t, el, clear, fmtDate, fmtDur, groupName, option } = K;
  const $ = (id) => document.getElementById(id);
  // skew: the server's clock minus this browser's (each answer gives its
  // "now"): time left is counted on the server's clock, as its due states.
  const T = { me: null, current: 0, agents: [], list: [], skew: 0 };
  function synced(r) { if (r && r.now) T.skew = new Date(r.now).getTime() - Date.now(); return r; }

  const stateName = (s) => t('ticket.state.' + s);
  const reasonText = (r) => { const m = t('ticket.reason.' + r); return m === 'ticket.reason.' + r ? r : m; };
  function ownerName(o) {
    if (!o) return t('ticket.nobody');
    const a = T.agents.find((x) => x.id === o);
    if (a) return a.name + ' (' + a.id + ')';
    return groupName(o);
  }
  function waitingName(w) { return w === 'customer' ? t('ticket.waiting.customer') : groupName(w); }
  const groups = () => (T.me.agent.role === 'supervisor' ? T.me.all_groups : T.me.agent.groups);

  // dueText is a ticket's due time with the time left, or past it, or
  // paused while pending.
  function dueNode(x) {
    if (!x.due) return el('span', 'muted', t('ticket.no_due'));
    const left = new Date(x.due).getTime() - (Date.now() + T.skew);
    const cls = 'due ' + (x.due_state === 'overdue' ? 'overdue' : x.due_state === 'soon' ? 'soon' : '');
    let text;
    if (x.due_state === 'paused') text = t('ticket.due_paused', fmtDate(x.due));
    else if (x.state === 'solved' || x.state === 'closed') text = t('ticket.due_at', fmtDate(x.due));
    else if (left < 0) text = t('ticket.overdue', fmtDur(-left));
    else text = t('ticket.left', fmtDur(left), fmtDate(x.due));
    const s = el('span', cls, text);
    s.dataset.dueState = x.due_state || '';
    return s;
  }

  // ---- the filters -----------------------------------------------------
  function fillFilters() {
    const st = $('tickets-state');
    clear(st);
    option(st, 'active', t('tickets.f.active'));
    option(st, '', t('tickets.any'));
    for (const s of ['open', 'pending', 'solved', 'closed']) option(st, s, stateName(s));
    const ow = $('tickets-owner');
    clear(ow);
    option(ow, '', t('tickets.any'));
    option(ow, T.me.agent.id, t('tickets.f.me'));
    for (const g of groups()) option(ow, g, groupName(g));
    const d = $('tickets-dept');
    clear(d);
    option(d, '', t('tickets.any'));
    for (const g of groups()) option(d, g, groupName(g));
    const due = $('tickets-due');
    clear(due);
    option(due, '', t('tickets.any'));
    option(due, 'overdue', t('tickets.f.overdue'));
    option(due, 'soon', t('tickets.f.soon'));
    // The detail's choices.
    const dept = $('ticket-dept');
    clear(dept);
    option(dept, '', '—');
    for (const g of T.me.all_groups) option(dept, g, groupName(g));
    const wt = $('ticket-waiting');
    clear(wt);
    option(wt, 'customer', t('ticket.waiting.customer'));
    for (const g of T.me.all_groups) option(wt, g, groupName(g));
    const td = $('toticket-dept');
    clear(td);
    for (const g of T.me.all_groups) option(td, g, groupName(g));
  }
  function fillOwners() {
    const o = $('ticket-owner');
    clear(o);
    option(o, '', '—');
    for (const g of T.me.all_groups) option(o, g, groupName(g));
    for (const a of T.agents) option(o, a.id, a.name + ' (' + a.id + ')');
  }

  function params() {
    const p = new URLSearchParams();
    const st = $('tickets-state').value;
    if (st && st !== 'active') p.set('state', st);
    if ($('tickets-owner').value) p.set('owner', $('tickets-owner').value);
    if ($('tickets-dept').value) p.set('department', $('tickets-dept').value);
    if ($('tickets-due').value) p.set('due', $('tickets-due').value);
    return p;
  }

  // ---- the list ----------------------------------------------------------
  async function loadList() {
    $('tickets-error').textContent = '';
    let r;
    try {
      r = synced(await api('GET', 'tickets?' + params().toString()));
    } catch (e) { $('tickets-error').textContent = e.message; return; }
    // "Active" (the default) is what is still to do: open and pending.
    let list = r.tickets;
    if ($('tickets-state').value === 'active') list = list.filter((x) => x.state === 'open' || x.state === 'pending');
    T.list = list;
    $('tickets-count').textContent = t('tickets.count', list.length);
    const ul = $('tickets-list');
    clear(ul);
    for (const x of list) ul.appendChild(item(x));
    if (!list.length) ul.appendChild(el('li', 'muted', t('tickets.none')));
  }

  function item(x) {
    const li = el('li', 'ticket' + (x.id === T.current ? ' active' : ''));
    li.dataset.id = String(x.id);
    li.dataset.state = x.state;
    const head = el('div', 'item-head');
    head.appendChild(el('span', 'conv-id', '#' + x.id));
    head.appendChild(el('span', 'badge state-' + x.state, stateName(x.state) + (x.waiting_on ? ' · ' + waitingName(x.waiting_on) : '')));
    if (x.priority !== 'normal') head.appendChild(el('span', 'badge prio prio-' + x.priority + (x.priority === 'urgent' ? ' urgent' : ''), t('prio.' + x.priority)));
    head.appendChild(el('span', 'muted', groupName(x.department) || '—'));
    head.appendChild(el('span', 'muted', ownerName(x.owner)));
    head.appendChild(dueNode(x));
    li.appendChild(head);
    li.appendChild(el('div', 'preview', (reasonText(x.reason) + (x.text ? '：' + x.text : '')).slice(0, 200)));
    li.addEventListener('click', () => openTicket(x.id));
    return li;
  }

  // ---- one ticket ----------------------------------------------------------
  async function openTicket(id) {
    let r;
    try {
      r = synced(await api('GET', 'tickets/' + id));
    } catch (e) { $('tickets-error').textContent = e.message; return; }
    T.current = id;
    show(r.ticket);
    for (const li of $('tickets-list').children) li.classList.toggle('active', li.dataset.id === String(id));
  }

  function show(x) {
    $('ticket-detail').hidden = false;
    $('ticket-detail').dataset.id = String(x.id);
    $('ticket-detail').dataset.state = x.state;
    $('ticket-error').textContent = '';
    $('ticket-title').textContent = t('ticket.title', x.id);
    const meta = $('ticket-meta');
    clear(meta);
    meta.appendChild(el('span', 'badge state-' + x.state, stateName(x.state) + (x.waiting_on ? ' · ' + t('ticket.waiting', waitingName(x.waiting_on)) : '')));
    meta.appendChild(el('span', 'badge prio prio-' + x.priority, t('prio.' + x.priority)));
    meta.appendChild(el('span', null, t('ticket.department') + '：' + (groupName(x.department) || '—')));
    meta.appendChild(el('span', null, t('ticket.owner') + '：' + ownerName(x.owner)));
    meta.appendChild(el('span', 'muted', reasonText(x.reason) + ' · ' + fmtDate(x.created)));
    const due = $('ticket-due');
    clear(due);
    due.appendChild(el('span', null, t('ticket.due') + '：'));
    due.appendChild(dueNode(x));
    if (x.due_state === 'soon') due.appendChild(el('strong', 'warn', ' ' + t('ticket.warn_soon')));
    if (x.due_state === 'overdue') due.appendChild(el('strong', 'warn', ' ' + t('ticket.warn_overdue')));
    $('ticket-text').textContent = x.text || t('ticket.no_text');
    $('ticket-contact').textContent = x.contact ? t('ticket.contact', x.contact) : '';
    const cv = $('ticket-convs');
    clear(cv);
    for (const c of x.convs) {
      const li = el('li', 'ticket-conv', c);
      li.dataset.conv = c;
      li.addEventListener('click', () => K.openArchived(c));
      cv.appendChild(li);
    }
    if (!x.convs.length) cv.appendChild(el('li', 'muted', t('ticket.no_convs')));
    const notes = $('ticket-notes');
    clear(notes);
    for (const n of x.notes || []) {
      const li = el('li', 'note');
      li.appendChild(el('div', 'muted', fmtDate(n.at) + ' · ' + ownerName(n.author)));
      li.appendChild(el('div', 'preview', n.text));
      notes.appendChild(li);
    }
    if (!(x.notes || []).length) notes.appendChild(el('li', 'muted', t('ticket.no_notes')));
    const ol = $('ticket-events');
    clear(ol);
    for (const e of x.events || []) {
      const li = el('li', 'ticket-event', fmtDate(e.at) + ' · ' + eventText(e) + (e.by ? ' · ' + ownerName(e.by) : ''));
      li.dataset.type = e.type;
      ol.appendChild(li);
    }
    $('ticket-owner').value = '';
    $('ticket-dept').value = '';
    const open = x.state === 'open', pending = x.state === 'pending', solved = x.state === 'solved', closed = x.state === 'closed';
    $('ticket-pending-btn').disabled = !open;
    $('ticket-open-btn').disabled = !(pending || solved);
    $('ticket-solve-btn').disabled = !(open || pending);
    $('ticket-close-btn').disabled = closed;
    $('ticket-assign-btn').disabled = closed;
    $('ticket-note-btn').disabled = false;
  }

  function eventText(e) {
    let s = t('ticket.ev.' + e.type);
    if (s === 'ticket.ev.' + e.type) s = e.type;
    if (e.type === 'pending' && e.detail) {
      const [w, ...rest] = e.detail.split(' ');
      return s + '（' + waitingName(w) + (rest.length ? ' ' + rest.join(' ') : '') + '）';
    }
    if (e.type === 'assigned' && e.detail) return s + '（' + e.detail.split(' ').map((o) => ownerName(o)).join(' · ') + '）';
    if ((e.type === 'due_soon' || e.type === 'overdue') && e.detail) return s + '（' + fmtDate(e.detail) + '）';
    return e.detail ? s + '（' + e.detail + '）' : s;
  }

  // act runs one action on the open ticket and shows the result.
  async function act(path, body) {
    const id = T.current;
    if (!id) return;
    $('ticket-error').textContent = '';
    let r;
    try {
      r = synced(await api('POST', 'tickets/' + id + '/' + path, body));
    } catch (e) { $('ticket-error').textContent = e.message; return; }
    if (T.current === id) show(r.ticket);
    loadList();
    refreshAlert();
  }
  $('ticket-assign-btn').addEventListener('click', () => {
    const owner = $('ticket-owner').value, department = $('ticket-dept').value;
    if (!owner && !department) { $('ticket-error').textContent = t('ticket.assign_none'); return; }
    act('assign', { owner, department });
  });
  $('ticket-pending-btn').addEventListener('click', () => act('state', { state: 'pending', waiting_on: $('ticket-waiting').value }));
  $('ticket-open-btn').addEventListener('click', () => act('state', { state: 'open' }));
  $('ticket-solve-btn').addEventListener('click', () => act('state', { state: 'solved' }));
  $('ticket-close-btn').addEventListener('click', () => act('state', { state: 'closed' }));
  $('ticket-note-btn').addEventListener('click', async () => {
    const text = $('ticket-note-text').value.trim();
    if (!text) return;
    await act('note', { text });
    if (!$('ticket-error').textContent) $('ticket-note-text').value = '';
  });

  // ---- the view and its tab ----------------------------------------------
  for (const id of ['tickets-state', 'tickets-owner', 'tickets-dept', 'tickets-due']) $(id).addEventListener('change', loadList);
  $('tickets-filter').addEventListener('submit', (ev) => { ev.preventDefault(); loadList(); });
  $('tickets-refresh').addEventListener('click', () => { loadList(); if (T.current) openTicket(T.current); });
  $('tickets-open').addEventListener('click', () => { K.showView('tickets'); loadList(); });
  $('tickets-close').addEventListener('click', () => K.showView(K.state.current ? 'conv' : 'none'));

  // The tab shows how many tickets are overdue or due soon (the reminders,
  // which also go to the team's group bots).
  async function refreshAlert() {
    let r;
    try { r = await api('GET', 'tickets?due=alert'); } catch (e) { $('tickets-alert').hidden = true; return; }
    const n = r.overdue + r.soon;
    const b = $('tickets-alert');
    b.hidden = n === 0;
    b.textContent = String(n);
    b.title = t('tickets.alert', r.overdue, r.soon);
  }

  // ---- 转工单: a ticket from the open conversation -------------------------
  $('toticket').addEventListener('toggle', () => {
    if (!$('toticket').open) return;
    $('toticket-result').textContent = '';
    $('toticket-result').className = '';
    const m = K.state.mine && K.state.mine.get(K.state.current);
    if (m && m.group && !$('toticket-dept').dataset.touched) $('toticket-dept').value = m.group;
  });
  $('toticket-dept').addEventListener('change', () => { $('toticket-dept').dataset.touched = '1'; });
  $('toticket-btn').addEventListener('click', async () => {
    const conv = K.state.current;
    if (!conv) return;
    const res = $('toticket-result');
    res.textContent = '';
    const body = {
      id: conv + ':' + Date.now(), conv, department: $('toticket-dept').value,
      text: $('toticket-text').value.trim(), note: $('toticket-note').value.trim(),
    };
    if ($('toticket-due').value) body.due = new Date($('toticket-due').value).toISOString();
    $('toticket-btn').disabled = true;
    try {
      const r = await api('POST', 'tickets', body);
      res.className = 'ok';
      res.textContent = t('toticket.done', r.ticket.id);
      res.dataset.id = String(r.ticket.id);
      $('toticket-text').value = '';
      $('toticket-note').value = '';
      $('toticket-due').value = '';
      delete $('toticket-dept').dataset.touched;
      refreshAlert();
    } catch (e) {
      res.className = 'error';
      res.textContent = e.message;
    } finally {
      $('toticket-btn').disabled = false;
    }
  });

  K.onStart.push(async (me) => {
    T.me = me;
    fillFilters();
    try { T.agents = (await api('GET', 'tickets/agents')).agents; } catch (e) { T.agents = []; }
    fillOwners();
    refreshAlert();
    if (T.timer) clearInterval(T.timer);
    T.timer = setInterval(refreshAlert, 60000);
  });
})();
