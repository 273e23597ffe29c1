// The console's entry point: a hash router over six views, each filled
// from the gateway's JSON API (docs/console.md).
import './style.css';
import { ApiError, get, type Whoami } from './api';
import { h } from './dom';
import { renderAgreements } from './views/agreements';
import { renderDecision, renderDecisions } from './views/decisions';
import { renderLog } from './views/log';
import { renderOverview } from './views/overview';
import { renderPolicies } from './views/policies';
import { renderRelease, renderReports } from './views/reports';

const main = document.getElementById('main') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;
let signedIn = false;

async function signIn(): Promise<boolean> {
  try {
    const w = await get<Whoami>('/v1/console/whoami');
    who.textContent = `Signed in as ${w.name} (${w.org}), scope ${w.scope}`;
    document.body.dataset.scope = w.scope;
    return true;
  } catch (e) {
    who.textContent = 'Not signed in';
    main.replaceChildren(
      h('h1', {}, 'Sign in with your client certificate'),
      h('p', {}, e instanceof ApiError && e.status === 403
        ? `Your certificate is not for the console: ${e.message}.`
        : 'The console is for the holder\'s data protection officer, its analysts and oversight bodies. Open it in a browser that holds the client certificate the holder issued you, and reload.'),
    );
    return false;
  }
}

async function route(): Promise<void> {
  if (!signedIn) signedIn = await signIn();
  if (!signedIn) return;
  const raw = location.hash.replace(/^#\/?/, '') || 'overview';
  const [path, qs] = raw.split('?', 2);
  const params = new URLSearchParams(qs ?? '');
  const [view, arg] = path.split('/', 2);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  const page = h('div', { class: 'view', 'data-view': view });
  try {
    if (view === 'decisions' && arg) await renderDecision(page, arg);
    else if (view === 'decisions') await renderDecisions(page, params);
    else if (view === 'policies') await renderPolicies(page);
    else if (view === 'agreements') await renderAgreements(page);
    else if (view === 'log') await renderLog(page, params);
    else if (view === 'reports' && arg) await renderRelease(page, arg, params);
    else if (view === 'reports') await renderReports(page);
    else await renderOverview(page, params);
    main.replaceChildren(page);
    document.title = `${page.querySelector('h1')?.textContent ?? 'Console'} · Firebreak console`;
    main.dataset.ready = view;
  } catch (e) {
    main.replaceChildren(h('h1', {}, 'This view could not be loaded'), h('p', { role: 'alert' }, (e as Error).message));
  }
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', () => void route());
void route();
