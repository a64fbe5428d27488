// Resident ID numbers (GB 11643), checked in the browser by the rule of
// services/contracts/idnumber.py (tests/browser/test_console.py runs both on the same numbers).
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';

// why a number is refused (the reasons of idnumber.parse, in the same order)
export const REASONS = {
  length: '身份证号码应为 18 位。',
  shape: '身份证号码应为 17 位数字加 1 位数字或 X。',
  check: '校验位不符，请核对是否输错。',
  date: '出生日期部分不是有效日期。',
  range: '出生日期部分超出范围。',
};

export function checkCharacter(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

function isoDate(y, m, d) {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

// {ok: true, number, birthDate: 'YYYY-MM-DD', sex: 'male'|'female', regionCode}
// or {ok: false, reason, message}; `today` is 'YYYY-MM-DD' (default: this device's date)
export function parse(value, today) {
  const fail = (reason) => ({ ok: false, reason, message: REASONS[reason] });
  if (typeof value !== 'string') return fail('length');
  const number = value.trim().toUpperCase();
  if (number.length !== 18) return fail('length');
  if (!/^[0-9]{17}[0-9X]$/.test(number)) return fail('shape');
  if (checkCharacter(number.slice(0, 17)) !== number[17]) return fail('check');
  const y = Number(number.slice(6, 10)); const m = Number(number.slice(10, 12));
  const d = Number(number.slice(12, 14));
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);       // (Date.UTC takes 0-99 as 1900-1999)
  if (y < 1 || m < 1 || m > 12 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1
      || date.getUTCDate() !== d) return fail('date');
  const birthDate = isoDate(y, m, d);
  if (birthDate > (today || localToday()) || y < 1890) return fail('range');
  return { ok: true, number, birthDate, sex: Number(number[16]) % 2 ? 'male' : 'female',
    regionCode: number.slice(0, 6) };
}

export function localToday() {
  const t = new Date();
  return isoDate(t.getFullYear(), t.getMonth() + 1, t.getDate());
}

// age in whole years on `on` (contracts.clients.age_on)
export function ageOn(birthDate, on) {
  const [by, bm, bd] = birthDate.split('-').map(Number);
  const [y, m, d] = on.split('-').map(Number);
  return y - by - ((m < bm || (m === bm && d < bd)) ? 1 : 0);
}
