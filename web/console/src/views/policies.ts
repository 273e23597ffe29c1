import { get, type Policies } from '../api';
import { h, table, time } from '../dom';

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
    h('p', { class: 'note' }, 'Comparing the live policy with a candidate pack, and replaying logged requests against one, are done with ',
      h('code', {}, 'firebreak diff'), ' and ', h('code', {}, 'firebreak audit'), ' for now; the console does not run them yet.'),
  );
}
