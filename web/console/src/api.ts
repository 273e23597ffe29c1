// The console's JSON API (docs/openapi.yaml). The browser presents the
// holder's client certificate on the TLS connection; nothing is stored here.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function get<T>(path: string): Promise<T> {
  const r = await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try {
      const body = await r.json();
      if (body?.error?.message) message = body.error.message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(r.status, message);
  }
  return (await r.json()) as T;
}

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface Counts { permit: number; deny: number; unknown: number }
export interface Whoami { org: string; name: string; scope: string; sees_subjects: boolean; views: string[] }
export interface Overview {
  generated_at: number;
  window: { hours: number; start: number; end: number };
  totals: { decisions: number; firewall_refusals: number; withdrawn_deliveries: number };
  per_hour: (Counts & { hour: number })[];
  by_requester_type: (Counts & { org_type: string })[];
  by_purpose: (Counts & { purpose: string })[];
  firewall_refusals: { rule: string; count: number }[];
  obligations: { obligation: string; count: number }[];
  log: {
    size: number; sequenced_size: number; checkpoint_age_seconds: number; witnesses_configured: number;
    witness_quorum: number; cosignatures: number; healthy: boolean;
  };
  policy: {
    hash: string; packs: string[]; loaded_at: number | null; trigger: string; guarantees_proved: string[];
    pins_checked: string[]; guarantees: number;
  };
}
export interface DecisionItem {
  index: number; time: number; endpoint: string; org: string; org_type: string; purpose: string;
  decision: string; rules: string[]; obligations: string[];
}
export interface DecisionPage { items: DecisionItem[]; next_before: number | null; log_size: number }
export interface DecisionDetail {
  index: number; time: number; endpoint: string; requester?: { org: string; org_type: string; role?: string };
  purpose: string; action?: string; legal_basis?: string; asked?: string[]; disclosed?: string[]; decision: string;
  policy_hash: string; receipt: string; opened: boolean; effective_purpose?: string; obligations?: string[];
  rules?: string[]; rules_not_listed?: number; reasons: { rule: string; because: string }[];
  subject?: Record<string, unknown>;
  records?: { collected_as?: string; case_type?: string; case_status?: string; decision?: string; disclosed?: string[]; rules?: string[] }[];
  records_not_listed?: number;
}
export interface Policies {
  hash: string; pack_dirs: string[];
  packs: { name: string; layer: string; title: string }[];
  rules: { name: string; kind: string; layer: string; pack: string; location: string; because: string; source: string }[];
  guarantees: { name: string; pack: string; location: string; because: string; status: string; proved_at: number | null }[];
  loads: { index: number; time: number; hash: string; trigger: string }[];
  refused_reloads: number;
}
export interface Agreement {
  name: string; pack: string; location: string; parties: string[]; purposes: string[]; data: string[];
  withheld: string[]; lawful_basis: string[]; retention: string; security: string; review: string; owner: string;
  review_warning: string; permits_this_month: number; refusals_this_month: number; because: string; source: string;
}
export interface Agreements { month_start: number; policy_hash: string; agreements: Agreement[] }
export interface LogView {
  origin: string; size: number; root_hash: string; checkpoint: string;
  signatures: { name: string; role: string }[]; witnesses_configured: number; witness_quorum: number;
  policy_changes: { index: number; time: number; hash: string }[];
}
export interface Proof { index: number; size: number; entry: Record<string, unknown>; tlog_proof: string }
export interface PolicyDiff {
  live_hash: string; candidate_hash: string; candidate_packs: string[]; equivalent: boolean; millis: number;
  differences: {
    kind: string; outcome: string; reason?: string;
    witnesses: { summary: string; request: Record<string, unknown>; live: string; candidate: string; live_permits: boolean; candidate_permits: boolean }[];
  }[];
}
export interface ReplaySide { decision: 'permit' | 'deny'; rules: string[]; disclosed: string[]; obligations: string[] }
export interface PolicyReplay {
  live_hash?: string; candidate_hash: string; candidate_packs: string[]; last: number; considered: number;
  replayed: number; unresolved: number; changed: number; not_replayed: number;
  not_replayed_reasons: { reason: string; count: number }[];
  changes: {
    index: number; time?: number; requester_type?: string; purpose: string; endpoint: string;
    live: ReplaySide; candidate: ReplaySide;
  }[];
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  const r = await fetch(path, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => undefined);
  if (!r.ok) throw new ApiError(r.status, data?.error?.message ?? `${r.status} ${r.statusText}`);
  return data as T;
}

// Transparency releases (docs/reports.md).
export interface ReleaseSummary {
  id: string; holder: string; period: string; from: string; to: string; epsilon: string; cap: number;
  mechanism: string; cells: number; half_width: number; output_hash: string; created: number; log_index: number;
}
export interface ReleaseList { releases: ReleaseSummary[]; configured: boolean; yearly_budget: string; spent_this_year: string }
export interface Release {
  release: string; holder: string; period: string; from: string; to: string; epsilon: string; cap_per_subject: number;
  privacy_unit?: string; mechanism: string; interval95_half_width: number; pack_hash?: string; statements_note?: string;
  unreadable_entries?: number; created: number; output_sha256: string;
  numbers: {
    vocabulary: { periods: string[]; requester_types: string[]; purposes: string[]; decisions: string[]; roles: string[] };
    cells: number[]; outside_vocabulary: number;
    statements: { guarantee: string; text: string; because: string; source: string; from: string }[];
  };
}
export interface ReleaseMade { release: Release; log_index: number; logged_now: boolean }
