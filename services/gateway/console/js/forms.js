// Form parts the pages share: a labelled field, inputs, choices from the vocabulary, dates.
import { h } from './ui.js';

export function field(label, control, hint) {
  const id = control.id || control.querySelector?.('input, select, textarea')?.id;
  return h('div', { class: 'field' },
    control.matches?.('input, select, textarea') ? h('label', { for: id, text: label })
      : h('div', { class: 'label', text: label }),
    control, hint ? h('div', { class: 'hint', text: hint }) : '');
}

export function input(name, attrs = {}) {
  return h('input', { type: 'text', name, id: 'f-' + name.replace(/\./g, '-'), ...attrs });
}

export function textarea(name, value, attrs = {}) {
  const el = h('textarea', { name, id: 'f-' + name.replace(/\./g, '-'), ...attrs });
  el.value = value || '';
  return el;
}

// options: [{code, label}]
export function select(name, options, value, { empty } = {}) {
  const el = h('select', { name, id: 'f-' + name.replace(/\./g, '-') },
    empty !== undefined ? h('option', { value: '', text: empty }) : '',
    options.map((o) => h('option', { value: o.code, text: o.label })));
  el.value = value ?? (empty !== undefined ? '' : options[0]?.code ?? '');
  return el;
}

export function radios(name, options, value) {
  return h('div', { class: 'choices', role: 'radiogroup' }, options.map((o) => h('label', {},
    h('input', { type: 'radio', name, value: o.code, checked: o.code === value }), o.label)));
}

export function checks(name, options, values = []) {
  return h('div', { class: 'choices' }, options.map((o) => h('label', {},
    h('input', { type: 'checkbox', name, value: o.code, checked: values.includes(o.code) }), o.label)));
}

export const checked = (form, name) =>
  [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((el) => el.value);

export const label = (list, code) => (list || []).find((o) => o.code === code)?.label || code;

const pad = (n) => String(n).padStart(2, '0');

// 'YYYY-MM-DDTHH:MM' for a datetime-local input (this device's time)
export function localDateTime(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function localDate(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// a datetime-local value as ISO 8601 with this device's offset (what the API takes)
export function withOffset(value) {
  const d = new Date(value);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${value.length === 16 ? value + ':00' : value}${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

// an ISO timestamp shown as 'YYYY-MM-DD HH:MM' of this device
export function shown(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? iso : `${localDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function villages(vocab, township) {
  return (vocab.townships || []).filter((t) => !township || t.code === township)
    .flatMap((t) => t.villages.map((v) => ({ code: v.code, label: township ? v.name : `${t.name} ${v.name}` })));
}

export function villageName(vocab, code) {
  for (const t of vocab.townships || []) {
    const v = t.villages.find((x) => x.code === code);
    if (v) return v.name;
  }
  return code || '';
}
