// The Reports view: the transparency releases made through the gateway
// (docs/reports.md), one release's noisy counts with their 95 % intervals
// and the statements the proofs make true, and for the DPO (admin scope) the
// form that makes a release.
import { ApiError, get, post, type Release, type ReleaseList, type ReleaseMade } from '../api';
import { horizontalBars, type Series } from '../charts';
import { h, table, time } from '../dom';

const DECISIONS: Series[] = [
  { key: 'permit', label: 'permits (noisy)', className: 'permit' },
  { key: 'deny', label: 'refusals (noisy)', className: 'deny' },
];

export async function renderReports(main: HTMLElement): Promise<void> {
  const l = await get<ReleaseList>('/v1/console/reports');
  const admin = document.body.dataset.scope === 'admin';
  main.append(
    h('h1', {}, 'Transparency reports'),
    h('p', {}, 'Counts of decisions by period, requester type, purpose, decision and protected role, with differential-privacy noise added to every cell, and the statements the policy\'s proofs make true for every possible request. Each release is written into the decision log before it is shown; asking for the same release again returns the same numbers.'),
    h('p', { role: 'status' }, l.configured
      ? `Privacy budget this year: ε ${l.spent_this_year} spent of ${l.yearly_budget}.`
      : 'This gateway has no reports directory configured (`reports_dir`): releases cannot be made here.'),
    table('Releases, newest first', ['Release', 'Periods', 'ε', 'Cap per subject', 'Cells', '95 % interval', 'Made', 'Log entry'],
      l.releases.map((r) => [
        h('a', { href: `#/reports/${r.id}` }, h('code', {}, r.id.slice(0, 12))),
        r.from === r.to ? r.from : `${r.from} to ${r.to}`, r.epsilon, r.cap, r.cells, `± ${r.half_width}`,
        time(r.created), String(r.log_index),
      ])),
    admin && l.configured ? releaseForm() : '',
  );
}

function field(id: string, label: string, input: HTMLElement, hint: string): HTMLElement {
  return h('span', { class: 'field' }, h('label', { for: id }, label), input, h('small', { id: `${id}-hint` }, hint));
}

function releaseForm(): HTMLElement {
  const out = h('div', { id: 'release-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'stacked', id: 'release-form' },
    h('h2', {}, 'Make a release'),
    h('p', {}, 'The periods must have ended. ε is charged to this year\'s budget once; a release with the same parameters is returned as stored.'),
    field('r-period', 'Period', h('select', { id: 'r-period', name: 'period', 'aria-describedby': 'r-period-hint' },
      h('option', { value: 'month' }, 'month'), h('option', { value: 'year' }, 'year')), 'Months (2026-01) or years (2026).'),
    field('r-from', 'From', h('input', { id: 'r-from', name: 'from', type: 'text', required: true, autocomplete: 'off', 'aria-describedby': 'r-from-hint' }), 'The first period, e.g. 2026-01.'),
    field('r-to', 'To', h('input', { id: 'r-to', name: 'to', type: 'text', required: true, autocomplete: 'off', 'aria-describedby': 'r-to-hint' }), 'The last period, inclusive.'),
    field('r-epsilon', 'ε (epsilon)', h('input', { id: 'r-epsilon', name: 'epsilon', type: 'text', required: true, value: '1/4', autocomplete: 'off', 'aria-describedby': 'r-epsilon-hint' }), 'A fraction such as 1/4: smaller is more private and noisier.'),
    field('r-cap', 'Cap per subject', h('input', { id: 'r-cap', name: 'cap', type: 'number', min: 1, max: 1000, value: 1, required: true, 'aria-describedby': 'r-cap-hint' }), 'Decisions one person may add to the release.'),
    h('button', { type: 'submit' }, 'Make the release'),
    out,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const body = {
      period: String(d.get('period')), from: String(d.get('from')).trim(), to: String(d.get('to')).trim(),
      epsilon: String(d.get('epsilon')).trim(), cap: Number(d.get('cap')),
    };
    out.replaceChildren(h('p', { role: 'status' }, 'Making the release…'));
    post<ReleaseMade>('/v1/console/reports', body).then(
      (m) => { location.hash = `#/reports/${m.release.release}`; },
      (e: unknown) => {
        const msg = e instanceof ApiError ? e.message : String(e);
        out.replaceChildren(h('p', { role: 'alert', class: 'error' }, `Not released: ${msg}`));
      },
    );
  });
  return form;
}

export async function renderRelease(main: HTMLElement, id: string, params: URLSearchParams): Promise<void> {
  const { release: r, log_index } = await get<{ release: Release; log_index: number }>(`/v1/console/reports/${encodeURIComponent(id)}`);
  const v = r.numbers.vocabulary;
  const hw = r.interval95_half_width;
  const at = (p: number, t: number, u: number, d: number, role: number) =>
    r.numbers.cells[(((p * v.requester_types.length + t) * v.purposes.length + u) * v.decisions.length + d) * v.roles.length + role] ?? 0;
  const period = Math.max(0, v.periods.indexOf(params.get('period') ?? v.periods[0]));
  const type = Math.max(0, v.requester_types.indexOf(params.get('type') ?? v.requester_types[0]));

  // Sums of noisy cells per purpose over the whole release, for the chart.
  const byPurpose = v.purposes.map((purpose, u) => {
    const values: Record<string, number> = {};
    v.decisions.forEach((dec, d) => {
      let sum = 0;
      for (let p = 0; p < v.periods.length; p++)
        for (let t = 0; t < v.requester_types.length; t++)
          for (let role = 0; role < v.roles.length; role++) sum += at(p, t, u, d, role);
      values[dec] = sum;
    });
    return { label: purpose, values };
  });
  const chartRows = byPurpose.map((b) => ({ label: b.label, values: Object.fromEntries(Object.entries(b.values).map(([k, n]) => [k, Math.max(0, n)])) }));

  const picker = h('form', { class: 'filters', id: 'cell-filter' },
    h('span', { class: 'field' }, h('label', { for: 'c-period' }, 'Period'),
      h('select', { id: 'c-period', name: 'period' }, v.periods.map((x, i) => h('option', { value: x, selected: i === period }, x)))),
    h('span', { class: 'field' }, h('label', { for: 'c-type' }, 'Requester type'),
      h('select', { id: 'c-type', name: 'type' }, v.requester_types.map((x, i) => h('option', { value: x, selected: i === type }, x)))),
    h('button', { type: 'submit' }, 'Show'),
  );
  picker.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const d = new FormData(picker);
    location.hash = `#/reports/${r.release}?${new URLSearchParams({ period: String(d.get('period')), type: String(d.get('type')) }).toString()}`;
  });
  const rows: (string | number)[][] = [];
  v.purposes.forEach((purpose, u) => v.decisions.forEach((dec, d) => v.roles.forEach((role, k) => {
    const n = at(period, type, u, d, k);
    rows.push([purpose, dec, role, n, `${n - hw} to ${n + hw}`]);
  })));

  main.append(
    h('h1', {}, `Transparency report ${r.from === r.to ? r.from : `${r.from} to ${r.to}`}`),
    h('p', { class: 'exports' },
      h('a', { href: '#/reports' }, 'All releases'), ' · ',
      h('a', { href: `/v1/console/reports/${r.release}?format=html`, class: 'button' }, 'Standalone page (HTML)'), ' ',
      h('a', { href: `/v1/console/reports/${r.release}?format=csv`, download: `release-${r.release.slice(0, 12)}.csv`, class: 'button' }, 'Export as CSV'), ' ',
      h('a', { href: `/v1/console/reports/${r.release}`, download: `release-${r.release.slice(0, 12)}.json`, class: 'button' }, 'Export as JSON')),
    h('dl', { class: 'facts' },
      ([
        ['Holder', r.holder], ['Release', r.release], ['Mechanism', r.mechanism], ['ε', r.epsilon],
        ['Cap per subject', String(r.cap_per_subject)], ['Privacy unit', r.privacy_unit ?? ''],
        ['95 % interval', `every count ± ${hw}`], ['Output hash', r.output_sha256],
        ['Log entry', `index ${log_index} (kind release)`], ['Made', time(r.created)], ['Policy in force', r.pack_hash ?? ''],
      ] as [string, string][]).map(([t, x]) => [h('dt', {}, t), h('dd', {}, x)])),
    h('section', { 'aria-labelledby': 'proved' },
      h('h2', { id: 'proved' }, 'From the proofs, not the data'),
      h('p', {}, 'These statements are exact: the verifier proved them for every possible request under the policy in force. They carry no noise.'),
      r.numbers.statements.length
        ? h('ul', { class: 'statements' }, r.numbers.statements.map((s) =>
          h('li', {}, h('strong', {}, s.text), h('span', { class: 'tag' }, ' [proved]'), h('br', {}), h('small', {}, `${s.because} (guarantee ${s.guarantee}, ${s.source})`))))
        : h('p', {}, r.statements_note || 'No guarantee was proved for this release.')),
    h('section', { 'aria-labelledby': 'counts' },
      h('h2', { id: 'counts' }, 'Noisy counts'),
      h('p', {}, `Every count has discrete Laplace noise added; the true count is within ± ${hw} of it with probability at least 95 %. Counts can be negative. The chart sums the noisy counts per purpose over the whole release (negative sums drawn as zero); the table gives every cell.`),
      horizontalBars('Decisions per purpose, sums of noisy counts', chartRows, DECISIONS),
      table('Sums of noisy counts per purpose', ['Purpose', ...v.decisions], byPurpose.map((b) => [b.label, ...v.decisions.map((d) => b.values[d])]), { className: 'compact' }),
      picker,
      table(`Cells for ${v.periods[period]}, requester type ${v.requester_types[type]}`, ['Purpose', 'Decision', 'Protected role', 'Noisy count', '95 % interval'], rows, { className: 'compact' }),
      h('p', {}, `Outside the schema's vocabularies (noisy): ${r.numbers.outside_vocabulary}. Entries that could not be read: ${r.unreadable_entries ?? 0}.`)),
  );
}
