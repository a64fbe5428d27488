// The admins' pages of the console (township and county admins): donations and allocations,
// overdue and escalated visits, user accounts, and the annual report with its downloads.
// Registered with pages.js at import; they use only ctx (pages_iface: api, download, h, …).
import { page } from './pages.js';

const ADMINS = ['township_admin', 'county_admin'];

const ROLE_NAMES = {
  station_worker: '社工（站点）', township_admin: '乡镇管理员', county_admin: '县级管理员',
  auditor: '审计员', province_viewer: '省级查看', subscriber: '数据订阅',
};
const STATION_ROLES = ['station_worker', 'township_admin'];
const DONATION_KINDS = { money: '资金', goods: '物资' };
const ALLOCATION_STATUS = { active: '有效', reversed: '已冲销' };
const REVERSAL_REASONS = {
  wrong_client: '对象错误', wrong_amount: '数额错误', duplicate: '重复发放',
  not_delivered: '未送达', other: '其他',
};
const ESCALATION = { none: '', township: '督办到乡镇', county: '督办到县' };
const RATINGS = { excellent: '优秀', good: '良好', qualified: '合格', unqualified: '不合格' };

// -- small helpers --------------------------------------------------------------------------
function isCounty(ctx) { return ctx.user.role === 'county_admin'; }

function yuan(fen) {
  if (fen === null || fen === undefined) return '—';
  return (fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
    + ' 元';
}

function grouped(n) { return Number(n).toLocaleString('zh-CN'); }

// the county's townships [{code, name, villages: [{code, name}]}] (/console/vocabulary.json)
function townships(ctx) { return (ctx.vocab && ctx.vocab.townships) || []; }

// the Chinese label of a code in one of the vocabulary's lists (categories, age_groups …)
function vocabLabel(ctx, list, code) {
  const found = ((ctx.vocab && ctx.vocab[list]) || []).find(x => x.code === code);
  return found ? found.label : code;
}

function townName(ctx, code) {
  if (!code) return '县级社工总站';
  const t = townships(ctx).find(x => x.code === code);
  return t ? t.name : code;
}

function villageName(ctx, code) {
  const t = townships(ctx).find(x => code && code.startsWith(x.code));
  const v = t && (t.villages || []).find(x => x.code === code);
  return t ? t.name + (v ? v.name : '') : (code || '—');
}

function county(ctx) {
  const c = (ctx.vocab && ctx.vocab.county) || {};
  const first = townships(ctx)[0];
  return { code: c.code || (first ? first.code.slice(0, 6) : ''), name: c.name || '全县' };
}

function loading(ctx) { return ctx.h('p', { class: 'muted', text: '正在加载…' }); }

function clean(query) {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== '' && v != null));
}

function errorText(err) {
  const text = (err && err.message) || '操作没有成功，请稍后再试。';
  const fields = Object.entries((err && err.fields) || {})
    .map(([name, messages]) => `${name}：${[].concat(messages).join('，')}`);
  return fields.length ? `${text}（${fields.join('；')}）` : text;
}

// a <select> with [value, label] options
function select(ctx, name, options, value, disabled = false) {
  const el = ctx.h('select', { name },
    ...options.map(([v, label]) => ctx.h('option', { value: v, text: label })));
  el.value = value == null ? '' : value;
  el.disabled = disabled;
  return el;
}

function field(ctx, label, control, hint) {
  return ctx.h('div', { class: 'field' }, ctx.h('label', { text: label }), control,
    hint ? ctx.h('div', { class: 'hint', text: hint }) : '');
}

// a table that turns into one card per row on a phone (admin.css); columns: [label, fn(row)]
function table(ctx, columns, rows, onRow, cls = 'list stack') {
  const body = ctx.h('tbody');
  const add = items => items.forEach(row => {
    const tr = ctx.h('tr', onRow ? { class: 'clickable', onClick: () => onRow(row) } : {},
      ...columns.map(([title, fn, cellClass]) => {
        const v = fn(row);
        return ctx.h('td', { 'data-label': title, class: cellClass || '' },
          v instanceof Node ? v : String(v == null || v === '' ? '—' : v));
      }));
    body.append(tr);
  });
  add(rows);
  const el = ctx.h('table', { class: cls },
    ctx.h('thead', {}, ctx.h('tr', {}, ...columns.map(([title, , cellClass]) =>
      ctx.h('th', { text: title, class: cellClass || '' })))), body);
  el.addRows = add;
  return el;
}

// a list of one API route, page by page ("加载更多"), with a message when it is empty
// (`limit: null` for a route that answers all its items at once, as /users does)
async function pagedList(ctx, box, path, query, columns,
  { empty, onRow, decorate, limit = 50 } = {}) {
  box.replaceChildren(loading(ctx));
  let answer;
  try {
    answer = await ctx.api('GET', path, { query: clean({ limit, ...query }) });
  } catch (err) {
    box.replaceChildren(ctx.h('div', { class: 'notice error', text: errorText(err) }));
    return;
  }
  if (!answer.items.length) {
    box.replaceChildren(ctx.h('p', { class: 'muted empty', text: empty || '没有记录。' }));
    return;
  }
  if (decorate) await decorate(answer.items);
  const list = table(ctx, columns, answer.items, onRow);
  const more = ctx.h('button', { class: 'btn secondary', type: 'button', text: '加载更多' });
  let cursor = answer.next_cursor;
  more.hidden = !cursor;
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const next = await ctx.api('GET', path, { query: clean({ limit, ...query, cursor }) });
      if (decorate) await decorate(next.items);
      list.addRows(next.items);
      cursor = next.next_cursor;
      more.hidden = !cursor;
    } catch (err) {
      ctx.toast(errorText(err), 'error');
    } finally {
      more.disabled = false;
    }
  });
  box.replaceChildren(list, ctx.h('div', { class: 'actions' }, more));
}

// the clients' names of a page of records that name them by id (each client fetched once)
async function nameClients(ctx, items, cache) {
  const ids = [...new Set(items.map(i => i.client_id).filter(id => id && !cache.has(id)))];
  await Promise.all(ids.map(async id => {
    try {
      const c = await ctx.api('GET', `/clients/${id}`);
      cache.set(id, c.name);
    } catch (err) {
      cache.set(id, '（无法读取）');
    }
  }));
}

// id → name of the records of a list route (providers, workers): its first 200
async function nameMap(ctx, path, query = {}) {
  try {
    const answer = await ctx.api('GET', path, { query: clean({ limit: 200, ...query }) });
    return new Map(answer.items.map(x => [x.id, x.name]));
  } catch (err) {
    return new Map();
  }
}

// the workers visits are given to: resources' (by name), then the roster's (by their code)
async function workerNames(ctx, township) {
  const names = await nameMap(ctx, '/workers', { township_code: township });
  try {
    const roster = await ctx.api('GET', '/visits/workers',
      { query: clean({ township_code: township }) });
    roster.items.forEach(w => {
      if (!names.has(w.id)) names.set(w.id, `${w.kind === 'volunteer' ? '志愿者' : '社工'} ${w.code}`);
    });
  } catch (err) { /* names stay as resources has them */ }
  return names;
}

// the township filter of a county admin (a township admin sees their own station only)
function townFilter(ctx, value) {
  return select(ctx, 'township_code',
    [['', '全部乡镇'], ...townships(ctx).map(t => [t.code, t.name])], value);
}

function heading(ctx, main, title, sub) {
  main.replaceChildren(ctx.h('h1', { text: title }));
  if (sub) main.append(ctx.h('p', { class: 'muted small', text: sub }));
}

function stationLine(ctx) {
  return isCounty(ctx) ? `${county(ctx).name}全部站点` : `${townName(ctx, ctx.user.township)}社工站`;
}

// -- donations and allocations --------------------------------------------------------------
function donationAmount(d) {
  return d.kind === 'money' ? yuan(d.amount_fen)
    : `${d.item} ${grouped(d.quantity)}${d.unit}（估值 ${yuan(d.value_fen)}）`;
}

function donationLeft(d) {
  return d.kind === 'money' ? yuan(d.remaining_fen)
    : `${grouped(d.remaining_quantity)}${d.unit}（${yuan(d.remaining_fen)}）`;
}

function earmarkText(ctx, e) {
  if (!e) return '';
  const parts = [];
  if (e.category) parts.push(vocabLabel(ctx, 'categories', e.category));
  if (e.township_code) parts.push(townName(ctx, e.township_code));
  if (e.client_id) parts.push('指定对象');
  return parts.length ? `定向：${parts.join('、')}` : '';
}

// what goods a donation holds (item, unit), for its allocations' quantities
async function nameGoods(ctx, items, goods) {
  const ids = [...new Set(items.filter(a => a.kind === 'goods' && !goods.has(a.donation_id))
    .map(a => a.donation_id))];
  await Promise.all(ids.map(async id => {
    try {
      goods.set(id, await ctx.api('GET', `/donations/${id}`));
    } catch (err) {
      goods.set(id, { item: '物资', unit: '件' });
    }
  }));
}

function allocationColumns(ctx, names, goods, withDonation) {
  const cols = [
    ['发放日期', a => a.allocated_on, 'nowrap'],
    ['服务对象', a => names.get(a.client_id) || '—'],
    ['对象类别', a => (a.categories || []).map(c => vocabLabel(ctx, 'categories', c)).join('、')
      + (a.age_group ? `（${vocabLabel(ctx, 'age_groups', a.age_group)}）` : '')],
    ['数额', a => {
      if (a.kind === 'money') return yuan(a.amount_fen);
      const d = goods.get(a.donation_id) || { item: '物资', unit: '件' };
      return `${d.item} ${grouped(a.quantity)}${d.unit}（${yuan(a.value_fen)}）`;
    }, 'num'],
    ['站点', a => townName(ctx, a.township_code)],
    ['状态', a => ctx.h('span', {
      class: a.status === 'reversed' ? 'badge grey' : 'badge',
      text: ALLOCATION_STATUS[a.status] || a.status,
      title: a.reversal_reason ? REVERSAL_REASONS[a.reversal_reason] : '',
    })],
  ];
  if (withDonation) {
    cols.push(['捐赠', a => ctx.h('a', { href: `#/admin-donation?id=${a.donation_id}`,
      text: '查看捐赠' })]);
  }
  return cols;
}

page('admin-donations', {
  title: '捐赠与发放', roles: ADMINS, nav: true, order: 50,
  render: async (main, ctx, params) => {
    heading(ctx, main, '捐赠与发放', stationLine(ctx));
    const tab = params.tab === 'allocations' ? 'allocations' : 'donations';
    main.append(ctx.h('div', { class: 'tabs' },
      ...[['donations', '捐赠登记'], ['allocations', '发放记录']].map(([name, label]) =>
        ctx.h('button', {
          type: 'button', class: name === tab ? 'btn' : 'btn secondary', text: label,
          onClick: () => ctx.go('admin-donations', { ...params, tab: name }),
        }))));
    const box = ctx.h('div', { class: 'list-box' }, loading(ctx));
    if (tab === 'allocations') {
      const status = select(ctx, 'status', [['', '全部'], ['active', '有效'],
        ['reversed', '已冲销']], params.status || '');
      status.addEventListener('change', () =>
        ctx.go('admin-donations', { ...params, status: status.value }));
      main.append(ctx.h('div', { class: 'filters' }, field(ctx, '状态', status)), box);
      const names = new Map();
      const goods = new Map();
      await pagedList(ctx, box, '/allocations', { status: params.status },
        allocationColumns(ctx, names, goods, true), {
          empty: '还没有发放记录。',
          decorate: items => Promise.all([nameClients(ctx, items, names),
            nameGoods(ctx, items, goods)]),
        });
      return;
    }
    const filters = ctx.h('form', { class: 'filters plain' });
    const kind = select(ctx, 'kind', [['', '资金和物资'], ['money', '资金'], ['goods', '物资']],
      params.kind || '');
    const available = select(ctx, 'available', [['', '全部'], ['true', '尚有余额'],
      ['false', '已发完']], params.available || '');
    if (isCounty(ctx)) filters.append(field(ctx, '接收站点', townFilter(ctx, params.township_code)));
    filters.append(field(ctx, '类型', kind), field(ctx, '余额', available));
    filters.addEventListener('change', () => {
      const data = Object.fromEntries(new FormData(filters));
      ctx.go('admin-donations', { tab, ...clean(data) });
    });
    main.append(filters, box);
    const providers = await nameMap(ctx, '/providers');
    await pagedList(ctx, box, '/donations', {
      kind: params.kind, available: params.available, township_code: params.township_code,
    }, [
      ['接收日期', d => d.received_on, 'nowrap'],
      ['捐赠方', d => providers.get(d.provider_id) || '—'],
      ['类型', d => DONATION_KINDS[d.kind] || d.kind, 'nowrap'],
      ['数额', donationAmount, 'num'],
      ['剩余', d => ctx.h('span', { class: d.remaining_fen > 0 ? '' : 'muted',
        text: donationLeft(d) }), 'num'],
      ['接收站点', d => [townName(ctx, d.township_code), earmarkText(ctx, d.earmark)]
        .filter(Boolean).join(' · ')],
    ], {
      empty: '还没有捐赠登记。',
      onRow: d => ctx.go('admin-donation', { id: d.id }),
    });
  },
});

page('admin-donation', {
  title: '捐赠详情', roles: ADMINS, nav: false,
  render: async (main, ctx, params) => {
    heading(ctx, main, '捐赠详情');
    let d;
    try {
      d = await ctx.api('GET', `/donations/${params.id}`);
    } catch (err) {
      main.append(ctx.h('div', { class: 'notice error', text: errorText(err) }));
      return;
    }
    const providers = await nameMap(ctx, '/providers');
    const facts = [
      ['捐赠方', providers.get(d.provider_id) || '—'], ['类型', DONATION_KINDS[d.kind]],
      ['数额', donationAmount(d)], ['剩余', donationLeft(d)], ['接收日期', d.received_on],
      ['接收站点', townName(ctx, d.township_code)], ['定向', earmarkText(ctx, d.earmark) || '不限'],
      ['备注', d.note || '—'],
    ];
    main.append(ctx.h('div', { class: 'card' }, ctx.h('dl', { class: 'facts' },
      ...facts.flatMap(([k, v]) => [ctx.h('dt', { text: k }), ctx.h('dd', { text: v })]))),
    ctx.h('h2', { text: '发放记录' }));
    const box = ctx.h('div', {}, loading(ctx));
    main.append(box, ctx.h('div', { class: 'actions' }, ctx.h('a', {
      class: 'btn secondary', href: '#/admin-donations', text: '返回捐赠列表' })));
    const names = new Map();
    await pagedList(ctx, box, '/allocations', { donation_id: d.id },
      allocationColumns(ctx, names, new Map([[d.id, d]]), false), {
        empty: '这笔捐赠还没有发放。', decorate: items => nameClients(ctx, items, names),
      });
  },
});

// -- overdue and escalated visits -----------------------------------------------------------
const OVERDUE_TABS = [
  ['overdue', '全部逾期', { status: 'overdue' }],
  ['township', '督办到乡镇', { escalation: 'township' }],
  ['county', '督办到县', { escalation: 'county' }],
];

async function summaryCards(ctx, township) {
  let rows;
  try {
    rows = (await ctx.api('GET', '/visits/summary', { query: clean({ township_code: township }) }))
      .items;
  } catch (err) {
    return ctx.h('div', { class: 'notice error', text: errorText(err) });
  }
  const sum = key => rows.reduce((n, r) => n + (r[key] || 0), 0);
  const tiles = [['待走访', sum('due'), ''], ['逾期', sum('overdue'), 'amber'],
    ['督办到乡镇', sum('escalated_to_township'), 'amber'], ['督办到县', sum('escalated_to_county'), 'red'],
    ['未分配社工', sum('unassigned'), 'grey']];
  const box = ctx.h('div', { class: 'tiles' }, ...tiles.map(([label, n, tone]) =>
    ctx.h('div', { class: `tile ${n ? tone : ''}` },
      ctx.h('div', { class: 'n', text: grouped(n) }), ctx.h('div', { class: 'l', text: label }))));
  if (!isCounty(ctx) || township || rows.length < 2) return box;
  const byTown = table(ctx, [
    ['乡镇', r => townName(ctx, r.township_code)], ['待走访', r => r.due, 'num'],
    ['逾期', r => r.overdue, 'num'], ['督办到乡镇', r => r.escalated_to_township, 'num'],
    ['督办到县', r => r.escalated_to_county, 'num'],
  ], rows.filter(r => r.overdue), r => ctx.go('admin-overdue', { township_code: r.township_code }));
  return ctx.h('div', {}, box, rows.some(r => r.overdue)
    ? ctx.h('details', { class: 'by-town' }, ctx.h('summary', { text: '各乡镇逾期情况' }), byTown)
    : '');
}

page('admin-overdue', {
  title: '逾期与督办', roles: ADMINS, nav: true, order: 40,
  render: async (main, ctx, params) => {
    heading(ctx, main, '逾期与督办', stationLine(ctx));
    const tab = OVERDUE_TABS.find(t => t[0] === params.tab) || OVERDUE_TABS[0];
    const township = isCounty(ctx) ? params.township_code : undefined;
    const tiles = ctx.h('div', {}, loading(ctx));
    main.append(tiles, ctx.h('div', { class: 'tabs' }, ...OVERDUE_TABS.map(([name, label]) =>
      ctx.h('button', {
        type: 'button', class: name === tab[0] ? 'btn' : 'btn secondary', text: label,
        onClick: () => ctx.go('admin-overdue', clean({ ...params, tab: name })),
      }))));
    if (isCounty(ctx)) {
      const town = townFilter(ctx, params.township_code);
      town.addEventListener('change', () =>
        ctx.go('admin-overdue', clean({ ...params, township_code: town.value })));
      main.append(ctx.h('div', { class: 'filters' }, field(ctx, '乡镇', town)));
    }
    const box = ctx.h('div', {}, loading(ctx));
    main.append(box);
    tiles.replaceChildren(await summaryCards(ctx, township));
    const workers = await workerNames(ctx, township);
    const names = new Map();
    await pagedList(ctx, box, '/visits', { ...tab[2], township_code: township }, [
      ['应访日期', v => v.due_on, 'nowrap'],
      ['逾期天数', v => ctx.h('span', { class: v.days_late > 30 ? 'late red' : 'late',
        text: `${v.days_late} 天` }), 'num'],
      ['服务对象', v => names.get(v.client_id) || '—'],
      ['村（社区）', v => villageName(ctx, v.village_code)],
      ['负责社工', v => (v.worker_id ? workers.get(v.worker_id) || '—'
        : ctx.h('span', { class: 'badge grey', text: '未分配' }))],
      ['督办', v => (ESCALATION[v.escalation]
        ? ctx.h('span', { class: v.escalation === 'county' ? 'badge red' : 'badge amber',
          text: ESCALATION[v.escalation] }) : '—')],
    ], {
      empty: tab[0] === 'overdue' ? '没有逾期未访的走访。' : '没有督办中的走访。',
      decorate: items => {
        items.sort((a, b) => b.days_late - a.days_late);    // the latest first, page by page
        return nameClients(ctx, items, names);
      },
    });
  },
});

// -- users ----------------------------------------------------------------------------------
function rolesFor(ctx) {
  return isCounty(ctx) ? Object.keys(ROLE_NAMES) : ['station_worker'];
}

// the one-time display of a new or reset password
function passwordBox(ctx, user, password, onDone) {
  const code = ctx.h('code', { class: 'password', text: password });
  const copy = ctx.h('button', { type: 'button', class: 'btn secondary', text: '复制' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(password);
      ctx.toast('已复制');
    } catch (err) {
      ctx.toast('无法复制，请手抄', 'error');
    }
  });
  const done = ctx.h('button', { type: 'button', class: 'btn', text: '我已记下' });
  const box = ctx.h('div', { class: 'card password-box', role: 'alert' },
    ctx.h('div', { class: 'label', text: `${user.display_name}（${user.username}）的初始密码` }),
    code,
    ctx.h('p', { class: 'small', text:
      '此密码只显示这一次，请当面或电话告知本人；本人首次登录时须修改密码。' }),
    ctx.h('div', { class: 'actions' }, copy, done));
  done.addEventListener('click', () => { box.remove(); if (onDone) onDone(); });
  return box;
}

function userForm(ctx, user, onSaved) {
  const creating = !user;
  const form = ctx.h('form', { class: 'user-form', novalidate: '' });
  const roles = rolesFor(ctx);
  if (user && !roles.includes(user.role)) roles.unshift(user.role);
  const role = select(ctx, 'role', roles.map(r => [r, ROLE_NAMES[r]]),
    user ? user.role : 'station_worker', roles.length < 2);
  const town = isCounty(ctx)
    ? select(ctx, 'township', [['', '（不属乡镇）'], ...townships(ctx).map(t => [t.code, t.name])],
      user ? user.township : '')
    : select(ctx, 'township', [[ctx.user.township, townName(ctx, ctx.user.township)]],
      ctx.user.township, true);
  const townField = field(ctx, '所属乡镇', town, '社工和乡镇管理员须选择乡镇');
  const showTown = () => { townField.hidden = !STATION_ROLES.includes(role.value); };
  role.addEventListener('change', showTown);
  showTown();
  const displayName = ctx.h('input', { type: 'text', name: 'display_name', maxlength: '50',
    autocomplete: 'off' });
  displayName.value = user ? user.display_name : '';
  if (creating) {
    form.append(field(ctx, '用户名', ctx.h('input', { type: 'text', name: 'username',
      autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }),
    '登录时使用，字母、数字，创建后不能更改'));
  }
  form.append(field(ctx, '姓名', displayName), field(ctx, '角色', role), townField);
  const save = ctx.h('button', { type: 'submit', class: 'btn',
    text: creating ? '创建账号' : '保存修改' });
  form.append(ctx.h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async event => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const body = { display_name: data.display_name.trim(), role: role.value,
      township: STATION_ROLES.includes(role.value) ? town.value || null : null };
    if (creating) body.username = data.username.trim();
    save.disabled = true;
    try {
      const answer = creating ? await ctx.api('POST', '/users', { body })
        : await ctx.api('PATCH', `/users/${user.id}`, { body });
      ctx.toast(creating ? '账号已创建' : '已保存');
      onSaved(answer);
    } catch (err) {
      ctx.fieldErrors(form, err);
      ctx.toast(errorText(err), 'error');
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function userActions(ctx, user, refresh, reveal) {
  const act = async (body, confirmText, done) => {
    if (confirmText && !window.confirm(confirmText)) return;
    try {
      const answer = await ctx.api('PATCH', `/users/${user.id}`, { body });
      ctx.toast(done);
      if (answer.initial_password) reveal(answer, answer.initial_password);
      else refresh();
    } catch (err) {
      ctx.toast(errorText(err), 'error');
    }
  };
  const self = user.id === ctx.user.id;
  return ctx.h('div', { class: 'actions' },
    ctx.h('button', { type: 'button', class: 'btn secondary', text: '重置密码',
      onClick: () => act({ reset_password: true },
        `确定为“${user.display_name}”重置密码吗？原密码将失效。`, '密码已重置') }),
    self ? '' : user.disabled
      ? ctx.h('button', { type: 'button', class: 'btn secondary', text: '启用账号',
        onClick: () => act({ disabled: false }, null, '账号已启用') })
      : ctx.h('button', { type: 'button', class: 'btn danger', text: '停用账号',
        onClick: () => act({ disabled: true },
          `确定停用“${user.display_name}”的账号吗？停用后立即退出登录，不能再登录。`, '账号已停用') }));
}

function userState(ctx, u) {
  if (u.disabled) return ctx.h('span', { class: 'badge grey', text: '已停用' });
  if (u.locked_until && new Date(u.locked_until) > new Date()) {
    return ctx.h('span', { class: 'badge red', text: '已锁定' });
  }
  if (u.must_change_password) return ctx.h('span', { class: 'badge amber', text: '待改密码' });
  return ctx.h('span', { class: 'badge', text: '正常' });
}

page('admin-users', {
  title: '账号管理', roles: ADMINS, nav: true, order: 60,
  render: async (main, ctx, params) => {
    heading(ctx, main, '账号管理');
    const notices = ctx.h('div', { class: 'notices' });
    const panel = ctx.h('div', { class: 'panel' });
    const box = ctx.h('div', {}, loading(ctx));
    const addBtn = ctx.h('button', { type: 'button', class: 'btn', text: '新建账号' });
    const filters = ctx.h('form', { class: 'filters plain' });
    if (isCounty(ctx)) {
      filters.append(
        field(ctx, '角色', select(ctx, 'role', [['', '全部角色'],
          ...Object.entries(ROLE_NAMES)], params.role)),
        field(ctx, '乡镇', select(ctx, 'township', [['', '全部'],
          ...townships(ctx).map(t => [t.code, t.name])], params.township)));
    }
    filters.append(field(ctx, '状态', select(ctx, 'disabled', [['', '全部'], ['false', '正常使用'],
      ['true', '已停用']], params.disabled)));
    filters.addEventListener('change', () =>
      ctx.go('admin-users', clean(Object.fromEntries(new FormData(filters)))));
    main.append(notices, ctx.h('p', { class: 'muted small', text: isCounty(ctx)
      ? '县级管理员可管理全县所有账号。' : '乡镇管理员可管理本乡镇社工的账号。' }),
    ctx.h('div', { class: 'actions' }, addBtn), panel, ctx.h('h2', { text: '账号列表' }),
    filters, box);
    const reveal = (user, password) => {
      panel.replaceChildren();
      notices.replaceChildren(passwordBox(ctx, user, password, load));
      notices.scrollIntoView({ block: 'start' });
    };
    const edit = user => {
      panel.replaceChildren(ctx.h('h2', { text: `管理账号：${user.display_name}` }),
        ctx.h('p', { class: 'muted small', text: `用户名 ${user.username}` }),
        userForm(ctx, user, () => { panel.replaceChildren(); load(); }),
        userActions(ctx, user, () => { panel.replaceChildren(); load(); }, reveal),
        ctx.h('div', { class: 'actions' }, ctx.h('button', { type: 'button', class: 'btn secondary',
          text: '关闭', onClick: () => panel.replaceChildren() })));
      panel.scrollIntoView({ block: 'start' });
    };
    addBtn.addEventListener('click', () => {
      panel.replaceChildren(ctx.h('h2', { text: '新建账号' }), userForm(ctx, null, answer => {
        reveal(answer, answer.initial_password);
        load();
      }));
      const first = panel.querySelector('input');
      if (first) first.focus();
    });
    async function load() {
      await pagedList(ctx, box, '/users', {
        role: params.role, township: params.township, disabled: params.disabled }, [
        ['姓名', u => u.display_name],
        ['用户名', u => u.username],
        ['角色', u => ROLE_NAMES[u.role] || u.role],
        ['乡镇', u => (u.township ? townName(ctx, u.township) : '—')],
        ['状态', u => userState(ctx, u)],
        ['', u => ctx.h('button', { type: 'button', class: 'btn secondary small', text: '管理',
          onClick: event => { event.stopPropagation(); edit(u); } }), 'act'],
      ], { empty: '没有符合条件的账号。', limit: null });
    }
    await load();
  },
});

// -- the annual report ----------------------------------------------------------------------
function figureValue(f, key) {
  const v = f[key];
  if (v === null || v === undefined) return '—';
  if (f.unit === 'fen') return yuan(v);
  if (f.unit === '%') return `${v}%`;
  return `${grouped(v)} ${f.unit || ''}`.trim();
}

function growthText(g) {
  if (g === null || g === undefined) return '—';
  const n = Number(g);
  return n > 0 ? `+${n}%` : `${n}%`;
}

function reportPlaces(ctx) {
  if (!isCounty(ctx)) return [[ctx.user.township, `${townName(ctx, ctx.user.township)}社工站`]];
  const c = county(ctx);
  return [[c.code, `${c.name}（全县）`], ...townships(ctx).map(t => [t.code, `${t.name}社工站`])];
}

function figureTable(ctx, report, showAll) {
  const year = report.year;
  const rows = Object.entries(report.figures)
    .filter(([, f]) => showAll || f.value || f.previous);
  return table(ctx, [
    ['指标', ([, f]) => f.label],
    [`${year}年`, ([, f]) => figureValue(f, 'value'), 'num'],
    [`${year - 1}年`, ([, f]) => figureValue(f, 'previous'), 'num'],
    ['同比', ([, f]) => ctx.h('span', { class: Number(f.growth_percent) < 0 ? 'down' : 'up',
      text: growthText(f.growth_percent) }), 'num'],
  ], rows, null, 'list figures');
}

page('admin-report', {
  title: '年度报告', roles: ADMINS, nav: true, order: 70,
  render: async (main, ctx, params) => {
    heading(ctx, main, '年度报告');
    const thisYear = new Date().getFullYear();
    const year = Number(params.year) || thisYear;
    const places = reportPlaces(ctx);
    const code = places.some(([c]) => c === params.code) ? params.code : places[0][0];
    const form = ctx.h('form', { class: 'filters plain' },
      field(ctx, '年度', select(ctx, 'year', Array.from({ length: 6 }, (_, i) =>
        [String(thisYear - i), `${thisYear - i}年`]), String(year))),
      field(ctx, '范围', select(ctx, 'code', places, code, places.length < 2)));
    form.addEventListener('change', () => {
      const data = Object.fromEntries(new FormData(form));
      ctx.go('admin-report', { year: data.year, code: data.code || code });
    });
    main.append(form);
    const box = ctx.h('div', { class: 'report' }, ctx.h('p', { class: 'muted', text: '正在生成…' }));
    main.append(box);
    let report;
    try {
      report = await ctx.api('GET', '/reports/annual', { query: { year, code } });
    } catch (err) {
      box.replaceChildren(ctx.h('div', { class: 'notice error', text: errorText(err) }));
      return;
    }
    const download = (format, label) => ctx.h('button', {
      type: 'button', class: 'btn secondary', text: label,
      onClick: async event => {
        event.target.disabled = true;
        try {
          await ctx.download('/reports/annual', { year, code, format },
            `annual-report-${code}-${year}.${format}`);
        } catch (err) {
          ctx.toast(errorText(err), 'error');
        } finally {
          event.target.disabled = false;
        }
      },
    });
    const signed = report.signed_off
      ? ctx.h('span', { class: 'badge', text: '已审定' })
      : ctx.h('span', { class: 'badge amber', text: '未审定' });
    const ratings = Object.entries(report.ratings || {}).filter(([, n]) => n);
    const all = ctx.h('input', { type: 'checkbox', name: 'all' });
    const figures = ctx.h('div', {}, figureTable(ctx, report, false));
    all.addEventListener('change', () =>
      figures.replaceChildren(figureTable(ctx, report, all.checked)));
    box.replaceChildren(
      ctx.h('h2', {}, `${report.name}${report.year}年度统计报告 `, signed),
      ctx.h('div', { class: 'card narrative' },
        ctx.h('p', { text: report.narrative || '本年度暂无数据。' })),
      ctx.h('div', { class: 'actions downloads' }, download('csv', '下载 CSV'),
        download('xlsx', '下载 Excel')),
      ctx.h('h2', { text: '主要指标（与上年比较）' }),
      ctx.h('label', { class: 'small toggle' }, all, ' 显示全部指标（含为零的）'),
      figures,
      ratings.length ? ctx.h('h2', { text: '社工站评定' }) : '',
      ratings.length ? ctx.h('p', { text: ratings.map(([r, n]) => `${RATINGS[r] || r} ${n} 个`)
        .join('，') }) : '');
  },
});
