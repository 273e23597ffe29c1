import { get, query, type DecisionDetail, type DecisionPage } from '../api';
import { h, list, table, time } from '../dom';

const FILTERS = ['decision', 'endpoint', 'purpose', 'org_type', 'rule'] as const;

export async function renderDecisions(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const q: Record<string, string> = {};
  for (const f of [...FILTERS, 'before']) {
    const v = params.get(f);
    if (v) q[f] = v;
  }
  const page = await get<DecisionPage>(`/v1/console/decisions${query({ ...q, limit: 50 })}`);
  const form = h('form', { class: 'filters', id: 'decision-filters' },
    select('decision', 'Decision', ['', 'permit', 'deny'], q.decision),
    select('endpoint', 'Endpoint', ['', 'disclosures', 'decisions'], q.endpoint),
    text('purpose', 'Purpose', q.purpose), text('org_type', 'Requester type', q.org_type), text('rule', 'Rule', q.rule),
    h('button', { type: 'submit' }, 'Filter'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const v = String(data.get(f) ?? '').trim();
      if (v) next.set(f, v);
    }
    location.hash = `#/decisions?${next.toString()}`;
  });
  const rows = page.items.map((d) => [
    h('a', { href: `#/decisions/${d.index}` }, String(d.index)),
    time(d.time), d.endpoint, d.org_type, d.purpose,
    h('span', { class: `badge ${d.decision}` }, d.decision),
    h('span', { class: 'codes' }, list(d.rules)), list(d.obligations),
  ]);
  const nav = h('p', { class: 'pager' });
  if (page.next_before !== null) {
    const next = new URLSearchParams(q);
    next.set('before', String(page.next_before));
    nav.append(h('a', { href: `#/decisions?${next.toString()}` }, 'Older decisions'));
  }
  if (q.before) {
    const first = new URLSearchParams(q);
    first.delete('before');
    nav.append(' ', h('a', { href: `#/decisions?${first.toString()}` }, 'Newest decisions'));
  }
  main.append(
    h('h1', {}, 'Decisions'),
    h('p', {}, `Newest first, 50 at a time, from ${page.log_size.toLocaleString('en-GB')} log entries. Codes and pseudonyms only: never a name.`),
    form,
    table('Decision stream', ['Log index', 'Time', 'Endpoint', 'Requester type', 'Purpose', 'Decision', 'Rules', 'Obligations'], rows, { className: 'stream' }),
    nav,
  );
}

function select(name: string, label: string, options: string[], value?: string): HTMLElement {
  return h('span', { class: 'field' }, h('label', { for: `f-${name}` }, label),
    h('select', { id: `f-${name}`, name }, options.map((o) => h('option', { value: o, selected: o === (value ?? '') }, o || 'any'))));
}

function text(name: string, label: string, value?: string): HTMLElement {
  return h('span', { class: 'field' }, h('label', { for: `f-${name}` }, label), h('input', { id: `f-${name}`, name, type: 'text', value: value ?? '', autocomplete: 'off' }));
}

export async function renderDecision(main: HTMLElement, index: string): Promise<void> {
  const d = await get<DecisionDetail>(`/v1/console/decisions/${encodeURIComponent(index)}`);
  const facts: [string, Node | string | number][] = [
    ['Time', time(d.time)], ['Endpoint', d.endpoint],
    ['Requester', d.requester ? `${d.requester.org} (${d.requester.org_type}${d.requester.role ? `, ${d.requester.role}` : ''})` : '—'],
    ['Declared purpose', d.purpose], ['Effective purpose', d.effective_purpose ?? '—'],
    ['Action', d.action ?? '—'], ['Legal basis', d.legal_basis ?? '—'],
    ['Categories asked', list(d.asked)], ['Disclosed', list(d.disclosed)],
    ['Decision', h('span', { class: `badge ${d.decision}` }, d.decision)],
    ['Rules that decided', h('span', { class: 'codes' }, list(d.rules))],
    ['Obligations', list(d.obligations)],
    ['Policy', h('code', { class: 'hash' }, d.policy_hash)],
    ['Receipt', h('code', {}, d.receipt)],
  ];
  main.append(
    h('p', {}, h('a', { href: '#/decisions' }, 'All decisions')),
    h('h1', {}, `Decision at log index ${d.index}`),
    d.opened ? '' : h('p', { class: 'warn' }, 'This entry\'s sealed part could not be opened with the gateway\'s audit keys.'),
    h('dl', { class: 'facts' }, facts.map(([t, v]) => [h('dt', {}, t), h('dd', {}, v)])),
    d.reasons.length
      ? table('Why: the reasons of the rules that decided', ['Rule', 'Reason'], d.reasons.map((r) => [h('code', {}, r.rule), r.because]))
      : h('p', { class: 'note' }, 'The policy that decided is no longer in force: its rules\' reasons are in its pack.'),
  );
  if (d.subject) {
    const sub = d.subject;
    const str = (k: string) => (sub[k] === undefined || sub[k] === null ? '—' : Array.isArray(sub[k]) ? list(sub[k] as string[]) : String(sub[k]));
    main.append(
      h('h2', {}, 'The subject, in codes'),
      h('dl', { class: 'facts' },
        [['Pseudonym', h('code', { class: 'hash' }, str('subject'))], ['Unresolved', str('unresolved')], ['Roles', str('roles')],
         ['Flags', str('flags')], ['Immigration concern', str('immigration_concern')]].map(([t, v]) => [h('dt', {}, t as string), h('dd', {}, v as Node | string)])),
      table('Cases (type, status, role)', ['Type', 'Status', 'Role', 'Flags'],
        ((sub.cases as Record<string, unknown>[] | undefined) ?? []).map((c) => [String(c.type ?? ''), String(c.status ?? ''), String(c.role ?? ''), list(c.flags as string[])])),
      table('Per-record provenance: one evaluation per source record', ['Collected as', 'Case', 'Decision', 'Disclosed', 'Rules'],
        (d.records ?? []).map((r) => [r.collected_as ?? '—', r.case_type ? `${r.case_type} (${r.case_status ?? ''})` : 'no case', r.decision ?? '—', list(r.disclosed), h('span', { class: 'codes' }, list(r.rules))])),
    );
  } else {
    main.append(h('p', { class: 'note' }, 'Your scope (oversight) sees how the policy decided, not whom it was about: no pseudonym, roles, cases or records.'));
  }
  main.append(h('p', {}, h('a', { href: `#/log?index=${d.index}` }, 'Inclusion proof for this entry')));
}
