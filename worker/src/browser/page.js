// Functions the worker calls in an isolated world of the page (the page's own
// scripts cannot see or change them). Each is one function declaration, cut
// out by name in page.rs. Never given a secret except `mask`, which needs the
// values to find them on the page.

//== snapshot
function (limit) {
  const REF = 'data-claudeops-ref';
  for (const e of document.querySelectorAll('[' + REF + ']')) e.removeAttribute(REF);
  let n = 0;
  const lines = [];
  const isToken = (w) => /^[A-Za-z0-9_-]{20,}$/.test(w) && /[0-9]/.test(w) && /[A-Za-z]/.test(w);
  const hasToken = (t) => t.split(/[^A-Za-z0-9_-]+/).some(isToken);
  const clean = (t) => (t || '').replace(/\s+/g, ' ').trim();
  const visible = (el) => {
    if (el.hidden || el.getAttribute('aria-hidden') === 'true') return false;
    const s = getComputedStyle(el);
    return s.display !== 'none' && s.visibility !== 'hidden';
  };
  const label = (el) => {
    const aria = el.getAttribute('aria-label');
    if (aria) return clean(aria);
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const t = by.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map((e) => e.textContent).join(' ');
      if (clean(t)) return clean(t);
    }
    if (el.id) {
      const l = document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
      if (l) return clean(l.textContent);
    }
    const wrap = el.closest('label');
    if (wrap) return clean(wrap.textContent);
    return clean(el.getAttribute('placeholder') || el.getAttribute('title') || el.getAttribute('name') || '');
  };
  const ref = (el) => { n += 1; const r = 'e' + n; el.setAttribute(REF, r); return '[' + r + '] '; };
  // Quoted as is, never escaped or cut here: the worker redacts secrets from
  // the text first, and an escaped or cut secret would not be found.
  const q = (s) => '"' + s + '"';
  const walk = (node) => {
    if (lines.length >= limit) return;
    if (node.nodeType === Node.TEXT_NODE) {
      const t = clean(node.textContent);
      if (!t) return;
      const p = node.parentElement;
      if (p && hasToken(t) && !p.hasAttribute(REF)) lines.push(ref(p) + 'text ' + q(t));
      else lines.push('text ' + q(t));
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const el = node;
    const tag = el.tagName.toLowerCase();
    if (['script', 'style', 'noscript', 'template', 'head'].includes(tag) || !visible(el)) return;
    const role = el.getAttribute('role');
    if (tag === 'iframe' || tag === 'frame') { lines.push('frame ' + q(el.src || '(inline)') + ' (its contents are not read)'); return; }
    if (/^h[1-6]$/.test(tag)) { lines.push('heading ' + q(clean(el.innerText))); return; }
    if (tag === 'a' && el.hasAttribute('href')) { lines.push(ref(el) + 'link ' + q(clean(el.innerText) || label(el)) + ' -> ' + el.href); return; }
    if (tag === 'button' || role === 'button' || (tag === 'input' && ['submit', 'button', 'reset'].includes(el.type))) {
      lines.push(ref(el) + 'button ' + q(clean(el.innerText || el.value) || label(el)) + (el.disabled ? ' (disabled)' : ''));
      return;
    }
    if (tag === 'input' && el.type !== 'hidden') {
      const t = el.type;
      if (t === 'checkbox' || t === 'radio') { lines.push(ref(el) + t + ' ' + q(label(el)) + (el.checked ? ' (checked)' : ' (not checked)')); return; }
      const value = t === 'password' ? (el.value ? '(filled)' : '(empty)') : (el.value ? 'value=' + q(el.value) : '(empty)');
      lines.push(ref(el) + (t === 'password' ? 'password field ' : 'textbox ') + q(label(el)) + ' ' + value + (el.readOnly ? ' (read-only)' : ''));
      return;
    }
    if (tag === 'textarea') { lines.push(ref(el) + 'textarea ' + q(label(el)) + ' ' + (el.value ? 'value=' + q(el.value) : '(empty)')); return; }
    if (tag === 'select') {
      const o = el.options[el.selectedIndex];
      lines.push(ref(el) + 'select ' + q(label(el)) + ' selected=' + q(o ? clean(o.text) : '') + ' options=' + q(Array.from(el.options).map((x) => clean(x.text)).join(' | ')));
      return;
    }
    for (const child of el.childNodes) walk(child);
    if (el.shadowRoot) for (const child of el.shadowRoot.childNodes) walk(child);
  };
  if (document.body) walk(document.body);
  return { url: location.href, title: document.title, lines, truncated: lines.length >= limit };
}

//== element
function (ref) {
  const el = document.querySelector('[data-claudeops-ref="' + ref + '"]');
  if (!el) return null;
  return { tag: el.tagName.toLowerCase(), type: (el.type || '').toLowerCase() };
}

//== click
function (ref) {
  const el = document.querySelector('[data-claudeops-ref="' + ref + '"]');
  if (!el) return false;
  el.scrollIntoView({ block: 'center' });
  el.click();
  return true;
}

//== type_text
function (ref, value) {
  // Checks the field and types the model's text in one task: focus cannot
  // move between them. The scope (the field's form, or the whole document
  // when it has none) is marked as one the model typed into, and refused
  // if it holds a credential.
  const el = document.querySelector('[data-claudeops-ref="' + ref + '"]');
  if (!el) return 'missing';
  const scope = el.form || el.closest('form') || document.documentElement;
  if (scope.hasAttribute('data-claudeops-credential') || document.documentElement.hasAttribute('data-claudeops-credential')) return 'credential';
  const tag = el.tagName;
  const type = (el.type || '').toLowerCase();
  if (el.readOnly || el.disabled) return 'field';
  scope.setAttribute('data-claudeops-typed', '');
  el.focus();
  if (tag === 'SELECT') {
    const o = Array.from(el.options).find((x) => x.text.trim() === value || x.value === value);
    if (!o) return 'option';
    el.value = o.value;
  } else {
    const text = tag === 'TEXTAREA' || (tag === 'INPUT' && ['', 'text', 'email', 'search', 'tel', 'url', 'number'].includes(type));
    if (!text) return 'field';
    const proto = tag === 'TEXTAREA' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }
  el.dispatchEvent(new Event('change', { bubbles: true }));
  return 'ok';
}

//== tokens
function () {
  // Every key-like word the page shows now, in text or in a field: a key
  // captured later must not have been among them before the last click.
  const isToken = (w) => /^[A-Za-z0-9_-]{20,}$/.test(w) && /[0-9]/.test(w) && /[A-Za-z]/.test(w);
  const found = new Set();
  const add = (t) => { for (const w of (t || '').split(/[^A-Za-z0-9_-]+/)) if (isToken(w)) found.add(w.toLowerCase()); };
  if (document.body) add(document.body.innerText);
  for (const el of document.querySelectorAll('input, textarea')) add(el.value);
  add(location.href);
  return Array.from(found).slice(0, 2000);
}

//== fill_secret
function (ref, value, origins, mode) {
  // The origin check and the typing in one task of this document: no
  // navigation comes between them.
  if (!origins.includes(location.origin)) return 'origin';
  const el = document.querySelector('[data-claudeops-ref="' + ref + '"]');
  if (!el) return 'missing';
  const tag = el.tagName;
  const type = (el.type || '').toLowerCase();
  const text = tag === 'TEXTAREA' || (tag === 'INPUT' && ['', 'text', 'password', 'email', 'search', 'tel', 'url', 'number'].includes(type));
  if (!text || el.readOnly || el.disabled) return 'field';
  // `password`: a password field only; `text`: any; `captured`: never a
  // password field (a key the model saw come could become a password it knows).
  if (mode === 'password' && type !== 'password') return 'password';
  if (mode === 'captured' && type === 'password') return 'captured';
  const scope = el.form || el.closest('form') || document.documentElement;
  if (scope.hasAttribute('data-claudeops-typed') || document.documentElement.hasAttribute('data-claudeops-typed')) return 'typed';
  scope.setAttribute('data-claudeops-credential', '');
  el.focus();
  const proto = tag === 'TEXTAREA' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
  return 'ok';
}

//== read
function (ref) {
  const el = document.querySelector('[data-claudeops-ref="' + ref + '"]');
  if (!el) return null;
  const v = ('value' in el && el.tagName !== 'BUTTON') ? el.value : el.innerText;
  return (v || '').trim();
}

//== title
function () {
  return document.title;
}

//== mask
function (secrets) {
  const isToken = (w) => /^[A-Za-z0-9_-]{20,}$/.test(w) && /[0-9]/.test(w) && /[A-Za-z]/.test(w);
  const hit = (t) => !!t && (secrets.some((s) => t.includes(s)) || t.split(/[^A-Za-z0-9_-]+/).some(isToken));
  const css = '[data-claudeops-masked]{color:transparent!important;-webkit-text-fill-color:transparent!important;fill:#000!important;text-shadow:none!important;background:#000!important;-webkit-text-security:disc!important;caret-color:transparent!important}';
  let count = 0;
  const mark = (el) => { if (!el.hasAttribute('data-claudeops-masked')) { el.setAttribute('data-claudeops-masked', ''); count += 1; } };
  // The document and every open shadow root, each with the style in it.
  const roots = [document];
  for (let i = 0; i < roots.length; i += 1) {
    const root = roots[i];
    const style = document.createElement('style');
    style.setAttribute('data-claudeops-mask', '');
    style.textContent = css;
    (root === document ? document.documentElement : root).appendChild(style);
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if ((el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') && (el.type === 'password' || hit(el.value))) mark(el);
    }
    const start = root === document ? document.body : root;
    if (!start) continue;
    const walker = document.createTreeWalker(start, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const t = walker.currentNode;
      if (t.parentElement && hit(t.textContent)) mark(t.parentElement);
    }
    // A key split over several inline elements: mark the block that joins it.
    for (const el of root.querySelectorAll('p, li, td, dd, pre, code, div, span')) {
      if (!el.hasAttribute('data-claudeops-masked') && el.children.length > 0 && el.children.length < 64 && hit((el.textContent || '').replace(/\s+/g, ''))) mark(el);
    }
  }
  return count;
}

//== unmask
function () {
  const roots = [document];
  for (let i = 0; i < roots.length; i += 1) {
    for (const el of roots[i].querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (el.hasAttribute('data-claudeops-masked')) el.removeAttribute('data-claudeops-masked');
      if (el.tagName === 'STYLE' && el.hasAttribute('data-claudeops-mask')) el.remove();
    }
  }
  return true;
}
