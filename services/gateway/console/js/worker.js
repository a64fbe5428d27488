// The station worker's pages: the day's work, recording a visit (planned or not), registering a
// client, the station's clients and a client's page, and what waits to go up (the outbox).
import { page } from './pages.js';
import * as outbox from './outbox.js';
import * as station from './station.js';
import * as idnumber from './idnumber.js';
import {
  field, input, textarea, select, radios, checks, checked, label, localDate, localDateTime,
  withOffset, shown, villages, villageName,
} from './forms.js';

const WORKERS = ['station_worker', 'township_admin'];
const OPEN = ['scheduled', 'due', 'overdue'];

// what went up is now the hub's: read the station again, so the copy kept for offline has it
outbox.onAnswered((ctx) => station.prefetch(ctx));

// -- shared bits --------------------------------------------------------------------------------
function offlineNotice(h, got) {
  if (!got.offline) return '';
  return h('div', { class: 'notice', 'data-offline': '' }, got.at
    ? `离线：显示的是 ${shown(got.at)} 保存在本机的数据。` : '离线：本机还没有保存这部分数据。');
}

function statusBadge(ctx, v) {
  const { h, vocab } = ctx;
  if (v.status === 'overdue') return h('span', { class: 'badge red', text: `逾期 ${v.days_late || 0} 天` });
  if (v.status === 'due') return h('span', { class: 'badge amber', text: '到期' });
  const grey = ['done', 'missed', 'cancelled'].includes(v.status) ? ' grey' : '';
  return h('span', { class: 'badge' + grey, text: label(vocab.visit_statuses, v.status) });
}

function riskBadge(ctx, level) {
  if (!level) return '';
  const kind = { critical: 'red', high: 'red', medium: 'amber', low: '' }[level];
  return ctx.h('span', { class: 'badge ' + kind, text: '风险' + label(ctx.vocab.risk_levels, level) });
}

function queuedBadge(ctx, state) {
  const text = { waiting: '待上传', rejected: '被退回', conflict: '冲突' }[state] || state;
  return ctx.h('span', { class: 'badge ' + (state === 'waiting' ? 'amber' : 'red'), 'data-queued': state, text });
}

function announce(ctx, result, what) {
  if (result.sent) ctx.toast(`${what}已保存。`);
  else ctx.toast(`${what}已保存在本机，联网后自动上传。`);
}

// the error of a refused operation, as one line (its field messages named)
export function errorText(error) {
  if (!error) return '';
  const parts = [];
  (function walk(prefix, v) {
    if (Array.isArray(v) && v.every((m) => typeof m === 'string')) parts.push(`${prefix}：${v.join(' ')}`);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x);
    else if (v) parts.push(`${prefix}：${v}`);
  })('', error.fields || {});
  return [error.message, ...parts].filter(Boolean).join('；');
}

// -- the day's work -------------------------------------------------------------------------------
page('today', {
  title: '今日工作', roles: WORKERS, nav: true, order: 10,
  render: async (main, ctx, params) => {
    const { h, vocab } = ctx;
    const [visits, clients, queued, pendingClients] = await Promise.all([
      station.openVisits(ctx), station.clients(ctx), station.queuedVisits(), station.queuedClients()]);
    station.workers(ctx).catch(() => {});             // kept for recording offline
    const people = new Map([...(clients.value || []), ...pendingClients].map((c) => [c.id, c]));
    const soon = localDate(new Date(Date.now() + 7 * 86400000));
    const tab = params.tab === 'soon' ? 'soon' : 'due';
    const all = visits.value || [];
    const shownVisits = all.filter((v) => (tab === 'due' ? v.status !== 'scheduled'
      : v.status === 'scheduled' && v.due_on <= soon));
    const count = (t) => all.filter((v) => (t === 'due' ? v.status !== 'scheduled'
      : v.status === 'scheduled' && v.due_on <= soon)).length;
    main.append(h('h1', { text: '今日工作' }),
      h('p', { class: 'muted small', text: `${localDate()} · ${ctx.user.display_name || ctx.user.username}` }),
      offlineNotice(h, visits),
      h('div', { class: 'tabs' },
        h('a', { class: 'btn' + (tab === 'due' ? '' : ' secondary'), href: '#/today', text: `到期和逾期 (${count('due')})` }),
        h('a', { class: 'btn' + (tab === 'soon' ? '' : ' secondary'), href: '#/today?tab=soon', text: `7 天内到期 (${count('soon')})` })));
    if (!shownVisits.length) {
      main.append(h('p', { class: 'muted', text: visits.value ? '没有需要走访的对象。' : '' }));
      return;
    }
    const order = { overdue: 0, due: 1, scheduled: 2 };
    shownVisits.sort((a, b) => order[a.status] - order[b.status] || (b.days_late || 0) - (a.days_late || 0)
      || a.due_on.localeCompare(b.due_on));
    const byVillage = new Map();
    for (const v of shownVisits) {
      if (!byVillage.has(v.village_code)) byVillage.set(v.village_code, []);
      byVillage.get(v.village_code).push(v);
    }
    for (const [village, list] of byVillage) {
      main.append(h('h2', { text: `${villageName(vocab, village)}（${list.length}）` }));
      for (const v of list) {
        const person = people.get(v.client_id);
        const q = queued.get(v.id);
        main.append(h('div', { class: 'card', 'data-visit': v.id },
          h('div', { class: 'row' }, h('strong', { text: person ? person.name : '服务对象' }),
            h('span', {}, statusBadge(ctx, v), ' ', riskBadge(ctx, person?.risk_level))),
          h('div', { class: 'muted small', text: `应访日期 ${v.due_on} · ${label(vocab.visit_kinds, v.kind)}` }),
          q ? h('div', { class: 'small' }, queuedBadge(ctx, q.state), ' 本机已记录') : '',
          h('div', { class: 'actions' },
            q ? '' : h('button', { class: 'btn', type: 'button', text: '记录走访',
              onClick: () => ctx.go('visit', { id: v.id }) }),
            h('button', { class: 'btn secondary', type: 'button', text: '查看档案',
              onClick: () => ctx.go('client', { id: v.client_id }) }))));
      }
    }
  },
});

// -- recording a visit ----------------------------------------------------------------------------
// the fields of a completed visit (also an unplanned one's); `initial` is a queued operation's data
function completedFields(ctx, initial, { verification, client } = {}) {
  const { h, vocab } = ctx;
  const needs = h('div', { class: 'needs' });
  const addNeed = (need = {}) => {
    const i = needs.children.length;
    needs.append(h('div', { class: 'card need' },
      field('需求类别', select(`needs.${i}.kind`, vocab.need_kinds, need.kind)),
      field('需求说明', textarea(`needs.${i}.description`, need.description, { maxlength: 500 })),
      h('button', { class: 'btn secondary', type: 'button', text: '删除此项', onClick: (e) => e.target.closest('.need').remove() })));
  };
  (initial.needs || []).forEach(addNeed);
  const risk = initial.risk_assessment;
  const riskBox = h('div', { class: 'risk', hidden: !risk },
    field('风险等级', select('risk_assessment.risk_level', vocab.risk_levels, risk?.risk_level || client?.risk_level)),
    field('风险因素', checks('risk_assessment.risk_flags', vocab.risk_flags, risk?.risk_flags || client?.risk_flags || [])));
  const riskOn = h('input', { type: 'checkbox', name: 'assess', id: 'f-assess', checked: !!risk,
    onChange: (e) => { riskBox.hidden = !e.target.checked; } });
  const verify = initial.verification;
  return [
    field('走访时间', input('visited_at', { type: 'datetime-local', required: true,
      value: initial.visited_at ? initial.visited_at.slice(0, 16) : localDateTime(), max: localDateTime() })),
    field('走访方式', radios('mode', vocab.visit_modes, initial.mode || 'home')),
    verification ? field('信息核实', h('div', {},
      radios('verification.info_correct', [{ code: 'yes', label: '登记信息无误' }, { code: 'no', label: '信息有变化' }],
        verify ? (verify.info_correct ? 'yes' : 'no') : 'yes'),
      textarea('verification.changes', verify?.changes, { placeholder: '有变化时说明变化', maxlength: 1000 }))) : '',
    field('走访记录', textarea('notes', initial.notes, { maxlength: 2000, placeholder: '见到的情况、交谈内容' })),
    h('div', { class: 'field' }, h('div', { class: 'label', text: '发现的需求' }), needs,
      h('button', { class: 'btn secondary', type: 'button', text: '＋ 添加需求', onClick: () => addNeed() })),
    h('div', { class: 'field' }, h('label', {}, riskOn, ' 重新评估风险'), riskBox),
  ];
}

function completedData(form) {
  const data = { visited_at: withOffset(form.visited_at.value), mode: checked(form, 'mode')[0] || null };
  data.notes = form.notes.value.trim() || null;
  data.needs = [...form.querySelectorAll('.need')].map((el) => ({
    kind: el.querySelector('select').value, description: el.querySelector('textarea').value.trim() }));
  if (form.assess.checked) {
    data.risk_assessment = { risk_level: form['risk_assessment.risk_level'].value,
      risk_flags: checked(form, 'risk_assessment.risk_flags') };
  }
  if (form['verification.changes']) {
    const correct = checked(form, 'verification.info_correct')[0] !== 'no';
    data.verification = { info_correct: correct,
      changes: correct ? null : form['verification.changes'].value.trim() || null };
  }
  return data;
}

// in the browser, before anything is sent: the rules the hub would answer 422 for
function completedProblems(form) {
  const problems = {};
  if (!form.visited_at.value) problems.visited_at = ['请填写走访时间。'];
  else if (new Date(form.visited_at.value) > new Date()) problems.visited_at = ['走访时间不能晚于现在。'];
  form.querySelectorAll('.need textarea').forEach((el) => {
    if (!el.value.trim()) problems[el.name] = ['请说明需求。'];
  });
  return problems;
}

// send (online) or queue (offline) an operation; a queued one being corrected is resent
async function record(ctx, form, params, kind, data, what, done) {
  const problems = kind === 'visit.complete' || kind === 'visit.record' ? completedProblems(form) : {};
  if (Object.keys(problems).length) {
    ctx.fieldErrors(form, { message: '请检查标出的项目。', fields: problems });
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    if (params.op) {
      await outbox.resend(params.op, data);
      ctx.toast(`${what}已改正，等待上传。`);
      ctx.go('outbox');
      return;
    }
    const result = await outbox.submit(kind, data);
    announce(ctx, result, what);
    done(result);
  } catch (err) {
    ctx.fieldErrors(form, err);
  } finally { button.disabled = false; }
}

async function queuedOp(params) {
  return params.op ? (await outbox.find(params.op)) || null : null;
}

page('visit', {
  title: '记录走访', roles: WORKERS, nav: false,
  render: async (main, ctx, params) => {
    const { h, vocab } = ctx;
    const op = await queuedOp(params);
    const visitId = op ? op.data.visit_id : params.id;
    const got = await station.visit(ctx, visitId);
    const v = got.value;
    main.append(h('h1', { text: '记录走访' }), offlineNotice(h, got));
    if (!v) { main.append(h('p', { class: 'muted', text: '找不到这次走访。' })); return; }
    const person = (await station.client(ctx, v.client_id)).value;
    main.append(h('div', { class: 'card' },
      h('div', { class: 'row' }, h('strong', { text: person ? person.name : '服务对象' }), statusBadge(ctx, v)),
      h('div', { class: 'muted small', text: `${villageName(vocab, v.village_code)} · 应访日期 ${v.due_on} · ${label(vocab.visit_kinds, v.kind)}` })));
    if (!OPEN.includes(v.status) && !op) {
      main.append(h('p', { class: 'notice', text: '这次走访已经结束，不能再记录。' }));
      return;
    }
    const missed = op ? op.kind === 'visit.miss' : params.tab === 'missed';
    main.append(h('div', { class: 'tabs' },
      h('button', { class: 'btn' + (missed ? ' secondary' : ''), type: 'button', text: '已走访',
        disabled: !!op, onClick: () => ctx.go('visit', { id: v.id }) }),
      h('button', { class: 'btn' + (missed ? '' : ' secondary'), type: 'button', text: '未遇',
        disabled: !!op, onClick: () => ctx.go('visit', { id: v.id, tab: 'missed' }) })));
    const initial = op ? op.data : {};
    const done = () => ctx.go('today');
    if (missed) {
      const form = h('form', { id: 'missed-form' },
        h('h2', { text: '未能走访' }),
        field('原因', select('reason', vocab.missed_reasons, initial.reason)),
        field('说明', textarea('note', initial.note, { maxlength: 500 })),
        field('日期', input('effective_date', { type: 'date', value: initial.effective_date || localDate(), max: localDate() })),
        h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit', text: '保存' })));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const data = { visit_id: v.id, reason: form.reason.value, note: form.note.value.trim() || null,
          effective_date: form.effective_date.value || null };
        record(ctx, form, params, 'visit.miss', data, '未遇记录', done);
      });
      main.append(form);
      return;
    }
    const form = h('form', { id: 'visit-form' }, h('h2', { text: '走访情况' }),
      ...completedFields(ctx, initial, { verification: v.kind === 'verification', client: person }),
      h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit', text: '保存走访记录' })));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      record(ctx, form, params, 'visit.complete', { visit_id: v.id, ...completedData(form) }, '走访记录', done);
    });
    main.append(form);
  },
});

page('unplanned', {
  title: '计划外走访', roles: WORKERS, nav: true, order: 30,
  render: async (main, ctx, params) => {
    const { h } = ctx;
    const op = await queuedOp(params);
    const initial = op ? op.data : { client_id: params.client };
    const [clients, pending, workers] = await Promise.all([
      station.clients(ctx), station.queuedClients(), station.workers(ctx)]);
    const people = [...(clients.value || []), ...pending]
      .sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'));
    const person = people.find((c) => c.id === initial.client_id);
    main.append(h('h1', { text: '记录计划外走访' }), offlineNotice(h, clients),
      h('p', { class: 'muted small', text: '没有排期、临时进行的走访（如路遇、来电、来站）。' }));
    const form = h('form', { id: 'unplanned-form' },
      field('服务对象', select('client_id', people.map((c) => ({ code: c.id,
        label: `${c.name}（${villageName(ctx.vocab, c.village_code)}）` })), initial.client_id, { empty: '请选择' })),
      field('走访人', select('worker_id', (workers.value || []).map((w) => ({ code: w.id,
        label: `${w.code}（${w.kind === 'volunteer' ? '志愿者' : '社工'}）` })), initial.worker_id)),
      ...completedFields(ctx, initial, { client: person }),
      h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit', text: '保存走访记录' })));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const missing = {};
      if (!form.client_id.value) missing.client_id = ['请选择服务对象。'];
      if (!form.worker_id.value) missing.worker_id = ['请选择走访人（本站还没有登记社工时请联系管理员）。'];
      if (Object.keys(missing).length) { ctx.fieldErrors(form, { message: '请检查标出的项目。', fields: missing }); return; }
      const data = { id: initial.id || outbox.uuid(), client_id: form.client_id.value,
        worker_id: form.worker_id.value, ...completedData(form) };
      record(ctx, form, params, 'visit.record', data, '走访记录', () => ctx.go('client', { id: data.client_id }));
    });
    main.append(form);
  },
});

// -- registering a client -------------------------------------------------------------------------
// what the browser can tell before sending: the ID number, the categories' age rules, a minor's
// guardian, a disability, consent (the same rules as contracts.clients and intake/domain.py)
function registrationProblems(form, vocab) {
  const problems = {};
  const id = idnumber.parse(form.id_number.value);
  if (!form.name.value.trim()) problems.name = ['请填写姓名。'];
  if (!id.ok) problems.id_number = [id.message];
  if (!form.village_code.value) problems.village_code = ['请选择村（社区）。'];
  const categories = checked(form, 'categories');
  if (!categories.length) problems.categories = ['至少选择一个类别。'];
  if (id.ok) {
    const age = idnumber.ageOn(id.birthDate, idnumber.localToday());
    const bad = categories.map((code) => vocab.categories.find((c) => c.code === code)).filter((c) =>
      (c.min_age !== null && age < c.min_age) || (c.max_age !== null && age >= c.max_age));
    if (bad.length) problems.categories = bad.map((c) => `${c.label}不适用于 ${age} 岁的对象。`);
    if (age < vocab.adult_age && !(form['guardian.name'].value.trim() && form['guardian.phone'].value.trim()
        && form['guardian.relation'].value.trim())) {
      problems.guardian = ['未成年人须登记监护人（姓名、电话、关系）。'];
    }
  }
  if (categories.includes(vocab.disability_category) && !form['disability.type'].value) {
    problems['disability.type'] = ['残疾人须填写残疾类别和等级。'];
  }
  if (!form['consent.given'].checked) problems['consent.given'] = ['须取得本人（或监护人）同意后登记。'];
  if (!form['consent.recorded_by'].value.trim()) problems['consent.recorded_by'] = ['请填写记录人。'];
  return problems;
}

page('register', {
  title: '登记服务对象', roles: WORKERS, nav: true, order: 20,
  render: async (main, ctx, params) => {
    const { h, vocab } = ctx;
    const op = await queuedOp(params);
    const d = op ? op.data : {};
    main.append(h('h1', { text: '登记服务对象' }));
    if (op) main.append(h('div', { class: 'notice error', text: '被退回：' + errorText(op.error) }));
    const idInfo = h('div', { class: 'hint', id: 'id-info' });
    const guardian = h('div', { class: 'guardian card', hidden: true },
      h('div', { class: 'label', text: '监护人（未成年人必填）' }),
      field('姓名', input('guardian.name', { value: d.guardian?.name || '', maxlength: 50 })),
      field('电话', input('guardian.phone', { type: 'tel', value: d.guardian?.phone || '' })),
      field('关系', input('guardian.relation', { value: d.guardian?.relation || '', maxlength: 20, placeholder: '如 祖母、父亲' })));
    const disability = h('div', { class: 'disability card', hidden: true },
      field('残疾类别', select('disability.type', vocab.disability_types, d.disability?.type, { empty: '请选择' })),
      field('残疾等级', select('disability.grade', [1, 2, 3, 4].map((g) => ({ code: String(g), label: `${g} 级` })),
        d.disability ? String(d.disability.grade) : '1')));
    const categoryBox = checks('categories', vocab.categories, d.categories || []);
    const form = h('form', { id: 'register-form', novalidate: true },
      field('姓名', input('name', { value: d.name || '', maxlength: 50, autocomplete: 'off' })),
      field('身份证号码', input('id_number', { value: d.id_number || '', maxlength: 18, autocomplete: 'off',
        inputmode: 'text', placeholder: '18 位' })),
      idInfo,
      field('联系电话', input('phone', { type: 'tel', value: d.phone || '' }), '可不填'),
      field('村（社区）', select('village_code', villages(vocab, ctx.user.township), d.village_code, { empty: '请选择' })),
      field('类别', categoryBox, '按年龄只显示适用的类别；可多选'),
      disability, guardian,
      field('风险等级', select('risk_level', vocab.risk_levels, d.risk_level || 'low')),
      field('风险因素', checks('risk_flags', vocab.risk_flags, d.risk_flags || [])),
      h('div', { class: 'card' }, h('div', { class: 'label', text: '知情同意' }),
        h('div', { class: 'field' }, h('label', {}, h('input', { type: 'checkbox', name: 'consent.given',
          id: 'f-consent-given', checked: d.consent ? d.consent.given : false }), ' 本人（或监护人）同意登记并接受服务')),
        field('同意日期', input('consent.date', { type: 'date', value: d.consent?.date || localDate(), max: localDate() })),
        field('记录人', input('consent.recorded_by', { value: d.consent?.recorded_by || ctx.user.display_name || '', maxlength: 50 }))),
      h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit', text: op ? '改正后重新上传' : '登记' })));

    // the ID number tells the age: categories, guardian and disability follow it as it is typed
    const follow = () => {
      const id = idnumber.parse(form.id_number.value);
      const typed = form.id_number.value.trim();
      idInfo.textContent = id.ok ? `出生日期 ${id.birthDate} · ${label(vocab.sexes, id.sex)} · ${idnumber.ageOn(id.birthDate, idnumber.localToday())} 岁`
        : (typed.length >= 18 ? id.message : '');
      idInfo.className = id.ok || typed.length < 18 ? 'hint' : 'error';
      const age = id.ok ? idnumber.ageOn(id.birthDate, idnumber.localToday()) : null;
      for (const box of categoryBox.querySelectorAll('input')) {
        const c = vocab.categories.find((x) => x.code === box.value);
        const fits = age === null || ((c.min_age === null || age >= c.min_age) && (c.max_age === null || age < c.max_age));
        box.closest('label').hidden = !fits;
        if (!fits) box.checked = false;
      }
      guardian.hidden = !(age !== null && age < vocab.adult_age) && !d.guardian;
      disability.hidden = !checked(form, 'categories').includes(vocab.disability_category);
    };
    form.id_number.addEventListener('input', follow);
    categoryBox.addEventListener('change', follow);
    follow();

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const problems = registrationProblems(form, vocab);
      if (Object.keys(problems).length) {
        ctx.fieldErrors(form, { message: '请检查标出的项目。', fields: problems });
        return;
      }
      const categories = checked(form, 'categories');
      const g = ['name', 'phone', 'relation'].map((k) => form['guardian.' + k].value.trim());
      const data = {
        id: d.id || outbox.uuid(), name: form.name.value.trim(),
        id_number: form.id_number.value.trim().toUpperCase(), phone: form.phone.value.trim() || null,
        village_code: form.village_code.value, categories,
        disability: categories.includes(vocab.disability_category)
          ? { type: form['disability.type'].value, grade: Number(form['disability.grade'].value) } : null,
        guardian: g.every(Boolean) ? { name: g[0], phone: g[1], relation: g[2] } : null,
        risk_level: form.risk_level.value, risk_flags: checked(form, 'risk_flags'),
        consent: { given: true, date: form['consent.date'].value, recorded_by: form['consent.recorded_by'].value.trim() },
      };
      record(ctx, form, params, 'client.register', data, '登记', (result) =>
        ctx.go('client', { id: result.sent ? result.answer.id : data.id }));
    });
    main.append(form);
  },
});

// -- the station's clients --------------------------------------------------------------------------
page('clients', {
  title: '服务对象', roles: WORKERS, nav: true, order: 40,
  render: async (main, ctx) => {
    const { h, vocab } = ctx;
    const [got, pending] = await Promise.all([station.clients(ctx), station.queuedClients()]);
    const people = [...pending, ...(got.value || [])];
    const search = h('input', { type: 'search', name: 'q', placeholder: '按姓名查找', 'aria-label': '按姓名查找' });
    const village = select('village', villages(vocab, ctx.user.township), '', { empty: '全部村（社区）' });
    const list = h('div', { class: 'list' });
    const draw = () => {
      list.replaceChildren();
      const q = search.value.trim();
      const shownPeople = people.filter((c) => (!q || c.name.includes(q)) && (!village.value || c.village_code === village.value));
      list.append(h('p', { class: 'muted small', text: `共 ${shownPeople.length} 人` }));
      for (const c of shownPeople.slice(0, 300)) {
        list.append(h('div', { class: 'card clickable', 'data-client': c.id, onClick: () => ctx.go('client', { id: c.id }) },
          h('div', { class: 'row' }, h('strong', { text: c.name }),
            h('span', {}, c.queued ? queuedBadge(ctx, c.queued) : '', ' ', riskBadge(ctx, c.risk_level))),
          h('div', { class: 'muted small', text: [villageName(vocab, c.village_code), c.age !== undefined ? `${c.age} 岁` : '',
            (c.categories || []).map((x) => label(vocab.categories, x)).join('、')].filter(Boolean).join(' · ') })));
      }
    };
    search.addEventListener('input', draw);
    village.addEventListener('change', draw);
    main.append(h('h1', { text: '服务对象' }), offlineNotice(h, got),
      h('form', { class: 'plain', onSubmit: (e) => e.preventDefault() }, h('div', { class: 'field' }, search), h('div', { class: 'field' }, village)),
      list);
    draw();
  },
});

page('client', {
  title: '服务对象档案', roles: WORKERS, nav: false,
  render: async (main, ctx, params) => {
    const { h, vocab } = ctx;
    const [got, history, ops] = await Promise.all([
      station.client(ctx, params.id), station.history(ctx, params.id), outbox.list()]);
    const c = got.value;
    main.append(offlineNotice(h, got));
    if (!c) { main.append(h('h1', { text: '服务对象档案' }), h('p', { class: 'muted', text: '找不到这位服务对象。' })); return; }
    const fact = (k, v) => (v ? [h('dt', { text: k }), h('dd', { text: v })] : []);
    main.append(h('h1', {}, c.name, ' ', c.queued ? queuedBadge(ctx, c.queued) : ''),
      h('div', { class: 'card' }, h('dl', { class: 'facts' },
        fact('性别', label(vocab.sexes, c.sex)), fact('年龄', c.age !== undefined ? `${c.age} 岁` : ''),
        fact('身份证号', c.id_number), fact('电话', c.phone),
        fact('村（社区）', villageName(vocab, c.village_code)),
        fact('类别', (c.categories || []).map((x) => label(vocab.categories, x)).join('、')),
        fact('风险等级', label(vocab.risk_levels, c.risk_level)),
        fact('风险因素', (c.risk_flags || []).map((x) => label(vocab.risk_flags, x)).join('、')),
        fact('残疾', c.disability ? `${label(vocab.disability_types, c.disability.type)} ${c.disability.grade} 级` : ''),
        fact('监护人', c.guardian ? `${c.guardian.name}（${c.guardian.relation}）${c.guardian.phone}` : ''),
        fact('知情同意', c.consent ? `${c.consent.date} · ${c.consent.recorded_by}` : ''),
        fact('登记日期', c.registered_on), fact('状态', label(vocab.statuses, c.status)))),
      h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'button', text: '记录计划外走访',
        onClick: () => ctx.go('unplanned', { client: c.id }) })),
      h('h2', { text: '走访记录' }));
    const queued = ops.filter((o) => o.state !== 'applied' && o.kind.startsWith('visit.')
      && (o.data.client_id === c.id || (history.value || []).some((v) => v.id === o.data.visit_id)));
    for (const o of queued) {
      main.append(h('div', { class: 'card', 'data-op': o.op_id },
        h('div', { class: 'row' }, h('span', { text: o.kind === 'visit.miss' ? '未遇' : `走访（${label(vocab.visit_modes, o.data.mode)}）` }),
          queuedBadge(ctx, o.state)),
        h('div', { class: 'muted small', text: shown(o.data.visited_at) || o.data.effective_date || '' })));
    }
    const visits = [...(history.value || [])].sort((a, b) => (b.visited_on || b.missed_on || b.due_on)
      .localeCompare(a.visited_on || a.missed_on || a.due_on));
    if (!visits.length && !queued.length) main.append(h('p', { class: 'muted', text: '还没有走访记录。' }));
    for (const v of visits) {
      const open = OPEN.includes(v.status);
      main.append(h('div', { class: 'card', 'data-visit': v.id },
        h('div', { class: 'row' }, h('span', { text: v.visited_on ? `${v.visited_on} ${label(vocab.visit_modes, v.mode)}`
          : v.missed_on ? `${v.missed_on} 未遇（${label(vocab.missed_reasons, v.missed_reason)}）` : `应访 ${v.due_on}` }),
          statusBadge(ctx, v)),
        v.notes ? h('div', { class: 'small', text: v.notes }) : '',
        (v.needs || []).length ? h('div', { class: 'small muted', text: '需求：' + v.needs.map((n) =>
          `${label(vocab.need_kinds, n.kind)} ${n.description}`).join('；') }) : '',
        open ? h('div', { class: 'actions' }, h('button', { class: 'btn secondary', type: 'button', text: '记录走访',
          onClick: () => ctx.go('visit', { id: v.id }) })) : ''));
    }
  },
});

// -- what waits to go up ------------------------------------------------------------------------------
const KIND_TITLES = { 'client.register': '登记', 'visit.complete': '走访记录', 'visit.miss': '未遇记录',
  'visit.record': '计划外走访' };
const STATE_TITLES = { waiting: '等待上传', rejected: '被退回（请改正后重发）', conflict: '与系统记录冲突', applied: '已上传' };

function editRoute(op) {
  if (op.kind === 'client.register') return ['register', { op: op.op_id }];
  if (op.kind === 'visit.record') return ['unplanned', { op: op.op_id }];
  return ['visit', { id: op.data.visit_id, op: op.op_id }];
}

page('outbox', {
  title: '同步', roles: WORKERS, nav: true, order: 50, badge: true,
  render: async (main, ctx) => {
    const { h } = ctx;
    const draw = async () => {
      const ops = await outbox.list();
      main.replaceChildren(h('h1', { text: '同步' }),
        h('p', { class: 'muted small', text: navigator.onLine
          ? (outbox.status.at ? `上次同步 ${shown(outbox.status.at)}` : '联网时本机的记录会自动上传。')
          : '当前离线：记录保存在本机，联网后自动上传。' }),
        outbox.status.error ? h('div', { class: 'notice error', text: '上传未完成：' + outbox.status.error }) : '',
        h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'button', id: 'sync-now', text: '立即同步',
          disabled: !navigator.onLine, onClick: async () => { await outbox.flush(); draw(); } })));
      for (const state of ['rejected', 'conflict', 'waiting', 'applied']) {
        const list = ops.filter((o) => o.state === state).reverse();
        if (!list.length) continue;
        main.append(h('h2', { text: `${STATE_TITLES[state]}（${list.length}）` }));
        for (const op of list) {
          const who = op.kind === 'client.register' ? op.data.name : '';
          const actions = [];
          if (state === 'rejected') {
            actions.push(h('button', { class: 'btn', type: 'button', text: '修改后重发',
              onClick: () => ctx.go(...editRoute(op)) }));
            actions.push(h('button', { class: 'btn secondary', type: 'button', text: '原样重发',
              onClick: async () => { await outbox.resend(op.op_id); draw(); } }));
          }
          if (state === 'conflict' && op.existing_client_id) {
            actions.push(h('button', { class: 'btn', type: 'button', text: '查看已登记的对象',
              onClick: () => ctx.go('client', { id: op.existing_client_id }) }));
          }
          if (state === 'rejected' || state === 'conflict') {
            actions.push(h('button', { class: 'btn secondary', type: 'button', text: '删除',
              onClick: async () => { if (confirm('删除这条记录？删除后不会上传。')) { await outbox.dismiss(op.op_id); draw(); } } }));
          }
          main.append(h('div', { class: 'card', 'data-op': op.op_id, 'data-state': state },
            h('div', { class: 'row' }, h('strong', { text: `${KIND_TITLES[op.kind]}${who ? ' · ' + who : ''}` }),
              h('span', { class: 'muted small', text: shown(op.made_at) })),
            op.error ? h('div', { class: 'error', text: errorText(op.error) }) : '',
            state === 'applied' ? h('div', { class: 'muted small', text: `上传于 ${shown(op.answered_at)}` }) : '',
            actions.length ? h('div', { class: 'actions' }, actions) : ''));
        }
      }
      if (!ops.length) main.append(h('p', { class: 'muted', text: '本机没有待上传的记录。' }));
    };
    await draw();
  },
});
