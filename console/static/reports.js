// kefu console: the supervisors' Reports page. It reads GET api/reports
// (the archive's rollups, as `kefu report --json` prints them) and draws
// them with Chart.js (vendored in static/vendor: no CDN). Chinese by
// default; English when the browser prefers it.
'use strict';
(function () {
  const MSG = {
    zh: {
      title: '报表', back: '返回工作台', from: '从', to: '到', by: '维度', go: '查询',
      last7: '近 7 天', last30: '近 30 天', last90: '近 90 天',
      'by.day': '按日', 'by.week': '按周', 'by.month': '按月', 'by.hour': '按小时', 'by.channel': '按渠道',
      'by.group': '按技能组', 'by.agent': '按客服', 'by.intent': '按意图',
      'chart.conversations': '会话量', 'chart.containment': '机器人独立解决率', 'chart.frt': '首次响应时间（秒）',
      'chart.csat': '满意度（4–5 分占比）', 'bar.channel': '各渠道会话量', 'bar.group': '各技能组会话量',
      'bar.agent': '各客服接待量', table: '明细', csv: '导出 CSV',
      'bar.reason': '转人工原因', 'bar.sla': '服务水平达成率', agents: '客服绩效', sla: '服务水平（SLA）达成：按技能组',
      reasons: '转人工原因', reason: '原因', 'sla.first_response': '首次响应', 'sla.next_response': '后续响应', 'sla.resolution': '解决',
      note: '每个会话计入其开始当天（报表时区）；比率为 0–1，时间单位为秒；“—”表示没有数据。',
      none: '（无）', total: '合计', p50: '中位数', p90: '90 分位', handled: '人工接待',
      'err.signin': '请先登录工作台。', 'err.role': '只有主管可以查看报表。', 'err.load': '报表加载失败：',
      'ch.web': '网页', 'ch.wechat': '微信', 'ch.telegram': 'Telegram',
      col: {
        key: '维度', conversations: '会话', bot_only: '仅机器人', contained: '机器人解决', containment_rate: '机器人解决率',
        handoffs: '转人工', handoff_rate: '转人工率', abandoned: '排队放弃', queue_wait_p50_s: '排队 P50', queue_wait_p90_s: '排队 P90',
        first_response_p50_s: '首响 P50', first_response_p90_s: '首响 P90', first_response_mean_s: '首响均值',
        resolved: '已解决', resolution_p50_s: '解决时长 P50', resolution_p90_s: '解决时长 P90', reopened: '重开',
        fcr_rate: '首次解决率', surveys_sent: '发出评价', csat_responses: '评价数', csat_score: '满意率', csat_mean: '平均分',
        complaint_rate: '投诉率',
        queue_wait_p50_bh_s: '排队 P50（工作时间）', queue_wait_p90_bh_s: '排队 P90（工作时间）',
        first_response_p50_bh_s: '首响 P50（工作时间）', first_response_p90_bh_s: '首响 P90（工作时间）',
        first_response_mean_bh_s: '首响均值（工作时间）', resolution_p50_bh_s: '解决时长 P50（工作时间）',
        resolution_p90_bh_s: '解决时长 P90（工作时间）', handled: '人工接待', agent_messages: '客服消息', transfers_out: '转出',
        handling_time_p50_s: '处理时长 P50', handling_time_mean_s: '处理时长均值', csat_response_rate: '评价率',
        sla_first_response_measured: '首响考核', sla_first_response_breached: '首响超时', sla_first_response_met_rate: '首响达标率',
        sla_next_response_measured: '续响考核', sla_next_response_breached: '续响超时', sla_next_response_met_rate: '续响达标率',
        sla_resolution_measured: '解决考核', sla_resolution_breached: '解决超时', sla_resolution_met_rate: '解决达标率',
        handoffs_by_reason: '转人工原因'
      }
    },
    en: {
      title: 'Reports', back: 'Back to the console', from: 'From', to: 'To', by: 'By', go: 'Show',
      last7: 'Last 7 days', last30: 'Last 30 days', last90: 'Last 90 days',
      'by.day': 'Day', 'by.week': 'Week', 'by.month': 'Month', 'by.hour': 'Hour', 'by.channel': 'Channel',
      'by.group': 'Group', 'by.agent': 'Agent', 'by.intent': 'Intent',
      'chart.conversations': 'Conversations', 'chart.containment': 'Containment rate', 'chart.frt': 'First response (s)',
      'chart.csat': 'CSAT (share of 4–5)', 'bar.channel': 'Conversations by channel', 'bar.group': 'Conversations by group',
      'bar.agent': 'Conversations by agent', table: 'Table', csv: 'Export CSV',
      'bar.reason': 'Hand-offs by reason', 'bar.sla': 'Service levels met', agents: 'Agents', sla: 'Service levels (SLA) met, by group',
      reasons: 'Hand-offs by reason', reason: 'Reason', 'sla.first_response': 'First response', 'sla.next_response': 'Next response', 'sla.resolution': 'Resolution',
      note: 'Each conversation counts on the day it started (report time zone); rates 0–1, times in seconds; "—": no data.',
      none: '(none)', total: 'Total', p50: 'p50', p90: 'p90', handled: 'Handled',
      'err.signin': 'Sign in to the console first.', 'err.role': 'Only supervisors see the reports.', 'err.load': 'Could not load the report: ',
      'ch.web': 'Web', 'ch.wechat': 'WeChat', 'ch.telegram': 'Telegram',
      col: null
    }
  };
  const langs = navigator.languages || [navigator.language || ''];
  const first = langs.find((l) => /^(zh|en)/i.test(l)) || 'zh';
  const lang = /^en/i.test(first) ? 'en' : 'zh';
  const msg = (k) => (MSG[lang][k] !== undefined && MSG[lang][k] !== null ? MSG[lang][k] : MSG.zh[k]);
  const COLS = Object.keys(MSG.zh.col);
  const TARGETS = ['first_response', 'next_response', 'resolution'];
  const AGENT_COLS = ['key', 'handled', 'agent_messages', 'first_response_p50_s', 'handling_time_p50_s', 'handling_time_mean_s',
    'csat_responses', 'csat_score', 'csat_mean', 'transfers_out'].concat(TARGETS.map((t) => 'sla_' + t + '_met_rate'));
  const SLA_COLS = ['key'].concat(...TARGETS.map((t) => ['measured', 'breached', 'met_rate'].map((w) => 'sla_' + t + '_' + w)));
  const colName = (c) => (lang === 'zh' ? MSG.zh.col[c] : c);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = 'kefu ' + msg('title');
  document.querySelectorAll('[data-msg]').forEach((el) => { el.textContent = msg(el.dataset.msg); });

  const $ = (id) => document.getElementById(id);
  const state = { reports: {}, charts: {}, names: {} };
  // reasonName: the configuration's name (console.names), else the
  // console's message catalogue's (messages.js), else the id.
  function reasonName(r) {
    if (r === '') return msg('none');
    if (state.names[r]) return state.names[r];
    const cat = window.KEFU_MESSAGES || {};
    const v = (cat[lang] && cat[lang]['reason.' + r]) || (cat.zh && cat.zh['reason.' + r]);
    return typeof v === 'string' ? v : r;
  }
  const isTime = (by) => by === 'day' || by === 'week' || by === 'month';

  function keyLabel(by, k) {
    if (k === 'total') return msg('total');
    if (k === '') return msg('none');
    if (by === 'channel' && MSG[lang]['ch.' + k]) return msg('ch.' + k);
    if (by === 'hour') return k + ':00';
    return k;
  }
  function fmt(v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'object') return reasonsCell(v, true);
    if (Number.isInteger(v)) return String(v);
    return (Math.round(v * 1000) / 1000).toString();
  }
  function showError(text) {
    const p = $('rp-error');
    p.textContent = text;
    p.hidden = !text;
  }
  async function get(path) {
    const res = await fetch('api/' + path, { credentials: 'same-origin' });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const code = data && data.error ? data.error.code : 'http_' + res.status;
      const err = new Error(data && data.error ? data.error.message : res.statusText);
      err.status = res.status;
      err.code = code;
      throw err;
    }
    return data;
  }
  const day = (d) => d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
  function lastDays(n) {
    const to = new Date();
    const from = new Date(to.getTime() - (n - 1) * 86400000);
    $('rp-from').value = day(from);
    $('rp-to').value = day(to);
  }

  function chart(id, type, labels, datasets, opts) {
    if (state.charts[id]) state.charts[id].destroy();
    state.charts[id] = new window.Chart($(id), {
      type,
      data: { labels, datasets },
      options: Object.assign({ animation: false, responsive: true, maintainAspectRatio: false, spanGaps: true,
        plugins: { legend: { display: datasets.length > 1 } } }, opts || {})
    });
  }
  const series = (rep, f) => rep.rows.map((r) => (r[f] === undefined ? null : r[f]));
  // reasonsCell is handoffs_by_reason in one cell: "name=n;…", most first.
  function reasonsCell(by, named) {
    return Object.keys(by || {}).sort((a, b) => by[b] - by[a] || (a < b ? -1 : 1))
      .map((k) => (named ? reasonName(k) : k) + '=' + by[k]).join(';');
  }

  // spec is one of the page's tables: its columns, its rows (the total
  // last) and how a row's key reads. which: table (the chosen dimension),
  // agents, sla (by group), reasons, or a bar chart's (channel, group,
  // agent: the full figures).
  function spec(which) {
    const R = state.reports;
    const full = (rep, cols) => ({ by: rep.by, from: rep.from, to: rep.to, cols: cols || COLS,
      rows: rep.rows.concat([rep.total]), label: (r) => keyLabel(rep.by, r.key) });
    switch (which) {
      case 'table': return full(R.table);
      case 'agents': return Object.assign(full(R.agent, AGENT_COLS), { file: 'agents' });
      case 'sla': return Object.assign(full(R.group, SLA_COLS), { file: 'sla-group' });
      case 'reasons': {
        const t = R.table.total;
        const by = t.handoffs_by_reason || {};
        const rows = Object.keys(by).sort((a, b) => by[b] - by[a] || (a < b ? -1 : 1))
          .map((k) => ({ key: k, handoffs: by[k], handoff_rate: (t.handoff_rate_by_reason || {})[k] }));
        rows.push({ key: 'total', handoffs: t.handoffs, handoff_rate: t.handoff_rate });
        return { by: 'reason', file: 'reasons', from: R.table.from, to: R.table.to, cols: ['key', 'handoffs', 'handoff_rate'], rows,
          label: (r) => (r.key === 'total' ? msg('total') : reasonName(r.key)) };
      }
    }
    return full(R[which]);
  }
  const header = (sp, c) => (c === 'key' ? (sp.by === 'reason' ? msg('reason') : msg('by.' + sp.by)) : colName(c));

  function fill(id, sp) {
    const thead = $(id).querySelector('thead');
    const tbody = $(id).querySelector('tbody');
    thead.replaceChildren();
    tbody.replaceChildren();
    const hr = document.createElement('tr');
    for (const c of sp.cols) {
      const th = document.createElement('th');
      th.textContent = header(sp, c);
      th.title = c;
      hr.appendChild(th);
    }
    thead.appendChild(hr);
    sp.rows.forEach((r, i) => {
      const tr = document.createElement('tr');
      if (i === sp.rows.length - 1) tr.className = 'total';
      for (const c of sp.cols) {
        const td = document.createElement('td');
        td.textContent = c === 'key' ? sp.label(r) : fmt(r[c]);
        td.dataset.col = c;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    });
  }

  function draw() {
    const trend = state.reports.trend;
    const labels = trend.rows.map((r) => keyLabel(trend.by, r.key));
    chart('chart-conversations', 'line', labels, [{ label: msg('chart.conversations'), data: series(trend, 'conversations'), borderColor: '#2f6fde' }]);
    chart('chart-containment', 'line', labels, [{ label: msg('chart.containment'), data: series(trend, 'containment_rate'), borderColor: '#1b9e77' }],
      { scales: { y: { min: 0, max: 1 } } });
    chart('chart-frt', 'line', labels, [
      { label: msg('p50'), data: series(trend, 'first_response_p50_s'), borderColor: '#d95f02' },
      { label: msg('p90'), data: series(trend, 'first_response_p90_s'), borderColor: '#7570b3' }]);
    chart('chart-csat', 'line', labels, [{ label: msg('chart.csat'), data: series(trend, 'csat_score'), borderColor: '#e7298a' }],
      { scales: { y: { min: 0, max: 1 } } });
    for (const by of ['channel', 'group', 'agent']) {
      const rep = state.reports[by];
      chart('bar-' + by, 'bar', rep.rows.map((r) => keyLabel(by, r.key)),
        [{ label: msg('chart.conversations'), data: series(rep, 'conversations'), backgroundColor: '#2f6fde' }]);
    }
    const reasons = spec('reasons');
    const rr = reasons.rows.slice(0, -1);
    chart('bar-reason', 'bar', rr.map(reasons.label), [{ label: colName('handoffs'), data: rr.map((r) => r.handoffs), backgroundColor: '#d95f02' }]);
    const tot = state.reports.table.total;
    chart('bar-sla', 'bar', TARGETS.map((t) => msg('sla.' + t)),
      [{ label: msg('bar.sla'), data: TARGETS.map((t) => tot['sla_' + t + '_met_rate']), backgroundColor: '#1b9e77' }],
      { scales: { y: { min: 0, max: 1 } } });
    fill('rp-table', spec('table'));
    fill('rp-agents', spec('agents'));
    fill('rp-sla', spec('sla'));
    fill('rp-reasons', reasons);
  }

  async function load() {
    const from = $('rp-from').value, to = $('rp-to').value, by = $('rp-by').value;
    const q = (b) => 'reports?from=' + encodeURIComponent(from) + '&to=' + encodeURIComponent(to) + '&by=' + b;
    showError('');
    document.body.dataset.state = 'loading';
    try {
      const [trend, channel, group, agent, table, me] = await Promise.all([
        get(q(isTime(by) ? by : 'day')), get(q('channel')), get(q('group')), get(q('agent')), get(q(by)),
        get('me').catch(() => null)]);
      state.names = (me && me.names && me.names.reasons) || {};
      state.reports = { trend, channel, group, agent, table };
      draw();
      document.body.dataset.state = 'ready';
    } catch (e) {
      document.body.dataset.state = 'error';
      if (e.status === 401) showError(msg('err.signin'));
      else if (e.status === 403) showError(msg('err.role'));
      else showError(msg('err.load') + e.message);
    }
  }

  // csv downloads a table as CSV (UTF-8 with a byte-order mark, so that
  // spreadsheet programs read the Chinese): the main table, or a bar
  // chart's figures, with the table's column names.
  function csv(which) {
    if (!state.reports.table) return;
    const sp = spec(which);
    const cell = (v) => {
      const s = v === null || v === undefined ? '' : typeof v === 'object' ? reasonsCell(v, false) : String(v);
      return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    const lines = [sp.cols.map((c) => cell(header(sp, c))).join(',')];
    for (const r of sp.rows) {
      lines.push(sp.cols.map((c) => cell(c === 'key' ? sp.label(r) : r[c])).join(','));
    }
    const rep = { by: sp.file || sp.by, from: sp.from, to: sp.to };
    document.body.dataset.csv = which;
    const blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'kefu-report-' + rep.by + '-' + rep.from + '-' + rep.to + '.csv';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  document.querySelectorAll('button[data-days]').forEach((b) => b.addEventListener('click', () => { lastDays(Number(b.dataset.days)); load(); }));
  document.querySelectorAll('button[data-csv]').forEach((b) => b.addEventListener('click', () => csv(b.dataset.csv)));
  $('rp-form').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  const params = new URLSearchParams(location.search);
  lastDays(30);
  if (params.get('from')) $('rp-from').value = params.get('from');
  if (params.get('to')) $('rp-to').value = params.get('to');
  if (params.get('by')) $('rp-by').value = params.get('by');
  load();
})();
