// Small DOM helpers every page uses: h (make an element), toast, fieldErrors (an ApiError's
// field messages beside the form's inputs), clear.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); }

export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: 'toast' + (kind === 'error' ? ' error' : ''), role: 'status', text });
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 7000 : 4000);
}

// A field named `consent.date` in an error is looked for as the input named `consent.date`,
// then `consent`; messages with no input go in a notice at the top of the form.
export function fieldErrors(form, err) {
  for (const el of form.querySelectorAll('.error.api')) el.remove();
  for (const el of form.querySelectorAll('.field.invalid')) el.classList.remove('invalid');
  form.querySelector('.notice.api')?.remove();
  const loose = [];
  const flat = {};
  (function walk(prefix, value) {
    if (Array.isArray(value)) {
      if (value.every((m) => typeof m === 'string')) flat[prefix] = value;
      else value.forEach((v, i) => walk(`${prefix}.${i}`, v));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
    } else if (value !== undefined && value !== null) flat[prefix] = [String(value)];
  })('', (err && err.fields) || {});
  for (const [name, messages] of Object.entries(flat)) {
    let input = null;
    for (let n = name; n && !input; n = n.includes('.') ? n.slice(0, n.lastIndexOf('.')) : '') {
      input = form.querySelector(`[name="${CSS.escape(n)}"]`);
    }
    const field = input && (input.closest('.field') || input.parentElement);
    if (field) {
      field.classList.add('invalid');
      field.append(h('div', { class: 'error api', role: 'alert', text: messages.join(' ') }));
    } else loose.push(`${name}: ${messages.join(' ')}`);
  }
  if (!Object.keys(flat).length || loose.length) {
    const text = (err && err.message) || '提交失败。';
    const notice = h('div', { class: 'notice error api', role: 'alert' }, text,
      loose.length ? h('div', { class: 'small', text: loose.join('；') }) : '');
    const title = form.querySelector('h1, h2');
    if (title) title.after(notice); else form.prepend(notice);
  }
  form.querySelector('.field.invalid input, .field.invalid select, .field.invalid textarea')?.focus();
}
