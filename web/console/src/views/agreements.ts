import { get, type Agreements } from '../api';
import { h, list, table } from '../dom';

export async function renderAgreements(main: HTMLElement): Promise<void> {
  const a = await get<Agreements>('/v1/console/agreements');
  const month = new Date(a.month_start * 1000).toLocaleDateString('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' });
  const warnings = a.agreements.filter((x) => x.review_warning);
  main.append(
    h('h1', {}, 'Agreements register'),
    h('p', {}, `Every data-sharing agreement in the policy in force, with the fields the ICO's Data Sharing Code asks for, and the requests each decided in ${month}.`),
    h('p', { class: 'exports' },
      h('a', { href: '/v1/console/agreements?format=csv', download: 'agreements.csv', class: 'button' }, 'Export as CSV'), ' ',
      h('a', { href: '/v1/console/agreements?format=json', download: 'agreements.json', class: 'button' }, 'Export as JSON')),
    warnings.length
      ? h('div', { class: 'warn', role: 'status' }, h('h2', {}, 'Reviews due'), h('ul', {}, warnings.map((w) => h('li', {}, h('code', {}, w.name), `: review ${w.review} (${w.review_warning})`))))
      : h('p', { role: 'status' }, 'No agreement is due for review within 90 days.'),
    ...a.agreements.map((x) =>
      h('section', { class: 'agreement', 'aria-labelledby': `ag-${x.name}` },
        h('h2', { id: `ag-${x.name}` }, h('code', {}, x.name)),
        h('p', {}, x.because),
        h('dl', { class: 'facts' },
          ([
            ['Parties', list(x.parties)], ['Purposes', list(x.purposes)], ['Data shared', list(x.data)],
            ['Withheld', list(x.withheld)], ['Lawful basis', list(x.lawful_basis)], ['Retention', x.retention],
            ['Security', x.security], ['Review date', `${x.review}${x.review_warning ? ` (${x.review_warning})` : ''}`],
            ['Owner', x.owner], [`Decided in ${month}`, `${x.permits_this_month} permits, ${x.refusals_this_month} refusals`],
            ['Pack', `${x.pack} (${x.location})`], ['Source', x.source],
          ] as [string, string][]).map(([t, v]) => [h('dt', {}, t), h('dd', {}, v)]))),
    ),
    a.agreements.length ? '' : table('Agreements', ['Name'], []),
  );
}
