import { get, query, type Counts, type Overview } from '../api';
import { horizontalBars, stackedColumns, type Series } from '../charts';
import { h, list, table, time } from '../dom';

const DECISIONS: Series[] = [
  { key: 'permit', label: 'permits', className: 'permit' },
  { key: 'deny', label: 'refusals', className: 'deny' },
  { key: 'unknown', label: 'unread', className: 'unknown' },
];

function hourLabel(t: number): string {
  return new Date(t * 1000).toISOString().slice(11, 16);
}

function legend(): HTMLElement {
  return h('ul', { class: 'legend' }, DECISIONS.slice(0, 2).map((se) => h('li', {}, h('span', { class: `swatch ${se.className}`, 'aria-hidden': 'true' }), se.label)));
}

function age(seconds: number): string {
  if (seconds < 0) return 'unknown';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

export async function renderOverview(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const hours = params.get('hours') ?? '24';
  const o = await get<Overview>(`/v1/console/overview${query({ hours })}`);
  const groups = (rows: Counts[], label: (r: Counts) => string) =>
    rows.map((r) => ({ label: label(r), values: { permit: r.permit, deny: r.deny, unknown: r.unknown } }));
  const hoursForm = h(
    'form',
    { class: 'filters', id: 'hours-form' },
    h('label', { for: 'hours' }, 'Window'),
    h('select', { id: 'hours', name: 'hours' },
      [24, 72, 168, 720].map((n) => h('option', { value: n, selected: String(n) === hours }, n === 24 ? 'last 24 hours' : n === 72 ? 'last 3 days' : n === 168 ? 'last 7 days' : 'last 30 days'))),
    h('button', { type: 'submit' }, 'Show'),
  );
  hoursForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = (hoursForm.querySelector('select') as HTMLSelectElement).value;
    location.hash = `#/overview?hours=${v}`;
  });
  const log = o.log;
  main.append(
    h('h1', {}, 'Overview'),
    hoursForm,
    h('section', { class: 'cards', 'aria-label': 'Totals' },
      card('Decisions', o.totals.decisions, `${time(o.window.start)} to ${time(o.window.end)}`),
      card('Firewall refusals', o.totals.firewall_refusals, 'refused by a national firewall rule'),
      card('Answers withdrawn', o.totals.withdrawn_deliveries, 'permits whose answer was not delivered'),
      card('Log size', log.size, log.healthy ? 'healthy' : 'NOT healthy: see the log'),
    ),
    h('section', { 'aria-labelledby': 'h-hourly' },
      h('h2', { id: 'h-hourly' }, 'Decisions per hour'),
      legend(),
      stackedColumns('Decisions per hour', o.per_hour.map((p) => ({ label: hourLabel(p.hour), values: { permit: p.permit, deny: p.deny, unknown: p.unknown } })), DECISIONS),
      h('details', {}, h('summary', {}, 'The numbers'),
        table('Decisions per hour (UTC)', ['Hour', 'Permits', 'Refusals'], o.per_hour.filter((p) => p.permit + p.deny + p.unknown > 0).map((p) => [time(p.hour), p.permit, p.deny]))),
    ),
    h('div', { class: 'two' },
      h('section', { 'aria-labelledby': 'h-type' },
        h('h2', { id: 'h-type' }, 'By requester type'),
        horizontalBars('Decisions by requester type', groups(o.by_requester_type, (r) => (r as Counts & { org_type: string }).org_type), DECISIONS),
        table('By requester type', ['Requester type', 'Permits', 'Refusals'], o.by_requester_type.map((r) => [r.org_type, r.permit, r.deny]), { className: 'compact' })),
      h('section', { 'aria-labelledby': 'h-purpose' },
        h('h2', { id: 'h-purpose' }, 'By purpose'),
        horizontalBars('Decisions by purpose', groups(o.by_purpose, (r) => (r as Counts & { purpose: string }).purpose), DECISIONS),
        table('By purpose', ['Purpose', 'Permits', 'Refusals'], o.by_purpose.map((r) => [r.purpose, r.permit, r.deny]), { className: 'compact' })),
    ),
    h('div', { class: 'two' },
      h('section', { 'aria-labelledby': 'h-fw' }, h('h2', { id: 'h-fw' }, 'Firewall refusals'),
        table('Refusals by firewall rule', ['Rule', 'Refusals'], o.firewall_refusals.map((r) => [h('code', {}, r.rule), r.count]))),
      h('section', { 'aria-labelledby': 'h-ob' }, h('h2', { id: 'h-ob' }, 'Obligations raised'),
        table('Obligations raised on permits', ['Obligation', 'Decisions'], o.obligations.map((r) => [r.obligation, r.count]))),
    ),
    h('div', { class: 'two' },
      h('section', { 'aria-labelledby': 'h-log' }, h('h2', { id: 'h-log' }, 'Log health'),
        h('dl', { class: 'facts' },
          fact('Entries published', log.size), fact('Entries durable', log.sequenced_size),
          fact('Age of the last checkpoint', age(log.checkpoint_age_seconds)),
          fact('Witnesses', log.witnesses_configured ? `${log.cosignatures} cosignatures on the served checkpoint; quorum ${log.witness_quorum} of ${log.witnesses_configured}` : 'none configured'),
          fact('State', log.healthy ? 'healthy' : 'failed or publishing stalled'))),
      h('section', { 'aria-labelledby': 'h-pol' }, h('h2', { id: 'h-pol' }, 'Policy in force'),
        h('dl', { class: 'facts' },
          fact('Hash', h('code', { class: 'hash' }, o.policy.hash)),
          fact('Loaded', `${time(o.policy.loaded_at)} (${o.policy.trigger || 'unknown'})`),
          fact('Guarantees proved at load', `${o.policy.guarantees_proved.length} of ${o.policy.guarantees}`),
          fact('Required firewall rules found unchanged', o.policy.pins_checked.length),
          fact('Packs', list(o.policy.packs.map((p) => p.split('/').slice(-2).join('/')))))),
    ),
  );
}

function card(title: string, value: number, note: string): HTMLElement {
  return h('div', { class: 'card' }, h('p', { class: 'card-title' }, title), h('p', { class: 'card-value' }, value.toLocaleString('en-GB')), h('p', { class: 'card-note' }, note));
}

function fact(term: string, value: Node | string | number): HTMLElement[] {
  return [h('dt', {}, term), h('dd', {}, value)];
}
