import { get, type LogView, type Proof } from '../api';
import { h, table, time } from '../dom';

export async function renderLog(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const l = await get<LogView>('/v1/console/log');
  const form = h('form', { class: 'filters', id: 'proof-form' },
    h('label', { for: 'proof-index' }, 'Log index'),
    h('input', { id: 'proof-index', name: 'index', type: 'number', min: 0, max: Math.max(0, l.size - 1), value: params.get('index') ?? '', required: true }),
    h('button', { type: 'submit' }, 'Look up the proof'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/log?index=${(form.querySelector('input') as HTMLInputElement).value}`;
  });
  const witnesses = l.signatures.filter((s) => s.role === 'witness');
  main.append(
    h('h1', {}, 'Log'),
    h('dl', { class: 'facts' },
      [['Origin', l.origin], ['Size', l.size.toLocaleString('en-GB')], ['Root hash', h('code', { class: 'hash' }, l.root_hash)],
       ['Witnesses', l.witnesses_configured ? `${witnesses.length} cosignatures on the served checkpoint (quorum ${l.witness_quorum} of ${l.witnesses_configured})` : 'none configured']]
        .map(([t, v]) => [h('dt', {}, t as string), h('dd', {}, v as Node | string)])),
    h('h2', {}, 'The checkpoint served'),
    h('pre', { class: 'note-text', tabindex: 0, 'aria-label': 'Signed checkpoint' }, l.checkpoint),
    table('Signatures on the checkpoint', ['Key name', 'Signer'], l.signatures.map((s) => [h('code', {}, s.name), s.role])),
    table('Policy changes (newest first)', ['Log index', 'Time', 'Hash'], l.policy_changes.map((c) => [String(c.index), time(c.time), h('code', { class: 'hash' }, c.hash)])),
    h('h2', {}, 'Inclusion proof'),
    form,
  );
  const index = params.get('index');
  if (index !== null && index !== '') {
    const out = h('section', { 'aria-live': 'polite', id: 'proof' });
    main.append(out);
    try {
      const p = await get<Proof>(`/v1/console/log/entries/${encodeURIComponent(index)}`);
      out.append(
        h('h3', {}, `Entry ${p.index} of ${p.size.toLocaleString('en-GB')}`),
        h('p', {}, 'The entry as the public log holds it (its sealed part stays sealed), and a C2SP tlog-proof any verifier can check against the checkpoint.'),
        h('pre', { class: 'note-text', tabindex: 0, 'aria-label': 'The entry' }, JSON.stringify(p.entry, null, 2)),
        h('pre', { class: 'note-text', tabindex: 0, 'aria-label': 'The proof' }, p.tlog_proof),
      );
    } catch (e) {
      out.append(h('p', { class: 'warn', role: 'alert' }, `No proof: ${(e as Error).message}`));
    }
  }
}
