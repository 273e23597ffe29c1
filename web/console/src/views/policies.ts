import { get, post, type Policies, type PolicyDiff } from '../api';
import { h, table, time } from '../dom';
import { replayForm } from './replay';

export async function renderPolicies(main: HTMLElement): Promise<void> {
  const p = await get<Policies>('/v1/console/policies');
  const proved = p.guarantees.filter((g) => g.status === 'proved').length;
  main.append(
    h('h1', {}, 'Policies'),
    h('p', {}, 'Policy in force: ', h('code', { class: 'hash' }, p.hash), `. ${proved} of ${p.guarantees.length} guarantees proved by the verifier when it was loaded; ${p.refused_reloads} reloads refused since the log began.`),
    table('Packs and layers in force', ['Pack', 'Layer', 'Title'], p.packs.map((k) => [h('code', {}, k.name), k.layer, k.title])),
    table('Guarantees and their proof status', ['Guarantee', 'Status', 'Proved', 'Pack', 'Source', 'Why'],
      p.guarantees.map((g) => [h('code', {}, g.name), h('span', { class: `badge ${g.status === 'proved' ? 'permit' : 'deny'}` }, g.status), time(g.proved_at), g.pack, h('code', {}, g.location), g.because])),
    table('Rules', ['Rule', 'Kind', 'Layer', 'Pack', 'Source', 'Why'],
      p.rules.map((r) => [h('code', {}, r.name), r.kind, r.layer, r.pack, h('code', {}, r.location), r.because]), { className: 'compact' }),
    table('Policy loads (newest first)', ['Log index', 'Time', 'Trigger', 'Hash'],
      p.loads.map((l) => [String(l.index), time(l.time), l.trigger, h('code', { class: 'hash' }, l.hash)])),
    ...(document.body.dataset.scope === 'admin' ? [compareForm(), replayForm()]
      : [h('p', { class: 'note' }, 'Comparing the policy in force with a candidate pack, and replaying logged requests against one, are for the DPO (admin scope).')]),
  );
}

const KIND: Record<string, string> = {
  'live-permits-candidate-denies': 'The policy in force permits, the candidate refuses',
  'candidate-permits-live-denies': 'The candidate permits, the policy in force refuses',
  'different-disclosure': 'Both permit, different categories disclosed',
  'different-obligations': 'Same decision, different obligations',
};

function compareForm(): HTMLElement {
  const out = h('div', { id: 'diff-result', 'aria-live': 'polite' });
  const form = h('form', { id: 'diff-form', class: 'stacked' },
    h('label', { for: 'diff-packs' }, 'Candidate pack directories on the gateway, one per line (empty: the configured shadow candidate)'),
    h('textarea', { id: 'diff-packs', name: 'packs', rows: 2, cols: 80, spellcheck: 'false' }),
    h('button', { type: 'submit' }, 'Compare with the policy in force'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const packs = (form.querySelector('textarea') as HTMLTextAreaElement).value.split('\n').map((x) => x.trim()).filter(Boolean);
    out.replaceChildren(h('p', { role: 'status' }, 'Comparing (the verifier checks every possible request)…'));
    post<PolicyDiff>('/v1/console/policies/diff', packs.length ? { packs } : {})
      .then((d) => out.replaceChildren(renderDiff(d)))
      .catch((e: Error) => out.replaceChildren(h('p', { class: 'warn', role: 'alert' }, `No comparison: ${e.message}`)));
  });
  return h('section', { 'aria-labelledby': 'h-diff' }, h('h2', { id: 'h-diff' }, 'Compare with a candidate pack'), form, out);
}

function renderDiff(d: PolicyDiff): HTMLElement {
  return h('div', { class: 'diff', 'data-equivalent': String(d.equivalent) },
    h('p', {}, d.equivalent ? 'Equivalent: the candidate decides every possible request as the policy in force does.'
      : 'Different: the verifier found requests the two decide differently.', ` (${d.millis} ms; candidate `, h('code', { class: 'hash' }, d.candidate_hash), ')'),
    d.differences.map((k) => h('section', { class: 'diff-kind', 'data-kind': k.kind },
      h('h3', {}, `${KIND[k.kind] ?? k.kind}: ${k.outcome === 'none' ? 'never' : k.outcome === 'found' ? `${k.witnesses.length} example${k.witnesses.length === 1 ? '' : 's'}` : `unknown (${k.reason ?? ''})`}`),
      k.witnesses.length ? table(KIND[k.kind] ?? k.kind, ['Request', 'Policy in force', 'Candidate'],
        k.witnesses.map((w) => [w.summary, w.live, w.candidate])) : '')),
  );
}
