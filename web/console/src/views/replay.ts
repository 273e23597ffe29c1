// The Policies view's replay (admin only): the last N logged decisions
// decided again under a candidate pack, every one that would change.
import { post, type PolicyReplay, type ReplaySide } from '../api';
import { h, list, table, time } from '../dom';

function side(s: ReplaySide): HTMLElement {
  return h('div', {},
    h('span', { class: `badge ${s.decision}` }, s.decision),
    h('div', {}, 'Rules: ', s.rules.length ? s.rules.map((r, i) => [i ? ', ' : '', h('code', {}, r)]) : 'none (default refusal)'),
    h('div', {}, 'Disclosed: ', list(s.disclosed)),
    s.obligations.length ? h('div', {}, 'Obligations: ', list(s.obligations)) : '');
}

function renderReplay(r: PolicyReplay): HTMLElement {
  const counts = `${r.considered} decision${r.considered === 1 ? '' : 's'} read (the newest ${r.last} asked for): ${r.replayed} replayed`
    + `${r.unresolved ? ` (${r.unresolved} about a person not found, refused under any pack)` : ''}, `
    + `${r.changed} would change, ${r.not_replayed} could not be replayed.`;
  return h('div', { class: 'replay', 'data-changed': String(r.changed) },
    h('p', {}, counts, ' Candidate ', h('code', { class: 'hash' }, r.candidate_hash), '.'),
    r.not_replayed_reasons.length
      ? table('Decisions that could not be replayed, by reason', ['Reason', 'Decisions'],
        r.not_replayed_reasons.map((x) => [x.reason, String(x.count)]))
      : '',
    r.changes.length
      ? table(`Decisions the candidate would change (${r.changes.length})`,
        ['Log index', 'Time', 'Requester type', 'Purpose', 'Policy in force', 'Candidate'],
        r.changes.map((c) => [String(c.index), time(c.time), c.requester_type ?? '—', h('code', {}, c.purpose), side(c.live), side(c.candidate)]),
        { className: 'compact' })
      : h('p', {}, 'No decision would change: the candidate decides every replayed request as it was decided.'));
}

export function replayForm(): HTMLElement {
  const out = h('div', { id: 'replay-result', 'aria-live': 'polite' });
  const form = h('form', { id: 'replay-form', class: 'stacked' },
    h('label', { for: 'replay-packs' }, 'Candidate pack directories on the gateway, one per line'),
    h('textarea', { id: 'replay-packs', name: 'packs', rows: 2, cols: 80, spellcheck: 'false', required: true }),
    h('label', { for: 'replay-last' }, 'How many of the newest logged decisions to replay (1 to 10,000)'),
    h('input', { id: 'replay-last', name: 'last', type: 'number', min: 1, max: 10000, step: 1, value: 1000, required: true }),
    h('button', { type: 'submit' }, 'Replay against the candidate'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const packs = (form.querySelector('textarea') as HTMLTextAreaElement).value.split('\n').map((x) => x.trim()).filter(Boolean);
    const last = Number((form.querySelector('input') as HTMLInputElement).value);
    out.replaceChildren(h('p', { role: 'status' }, 'Replaying (each logged request decided again under the candidate)…'));
    post<PolicyReplay>('/v1/console/policies/replay', { packs, last })
      .then((r) => out.replaceChildren(renderReplay(r)))
      .catch((e: Error) => out.replaceChildren(h('p', { class: 'warn', role: 'alert' }, `No replay: ${e.message}`)));
  });
  return h('section', { 'aria-labelledby': 'h-replay' },
    h('h2', { id: 'h-replay' }, 'Replay logged requests against a candidate pack'),
    h('p', {}, 'The newest logged decisions, opened with the gateway\'s audit key and decided again under the candidate; every decision whose outcome, categories disclosed or obligations would change.'),
    form, out);
}
