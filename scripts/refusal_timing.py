#!/usr/bin/env python3
"""Can the gateway's outward refusals be told apart by timing?

Every refusal of POST /v1/disclosures is answered 403 with the same shape,
whatever its cause (docs/api.md): a person the firewall protects, a person the
holder does not know, identity details that match several people, a request
no agreement covers. The body hides the cause; this benchmark asks whether
the time to answer does.

It opens ONE keep-alive TLS connection with Immigration Enforcement's client
certificate (org `ie-ice-south` of a demo force made by `firebreak demo`) and
sends the five refusal kinds below, interleaved in a shuffled order, timing
each request from just before it is sent to the end of reading the response
(time.perf_counter_ns). Every request is `purpose immigration-enforcement,
action disclose, legal_basis iaa-1999-s20, user_role immigration-officer,
categories [address, contact]` unless said otherwise:

  protected           subject {"reference": "DEMO-R05"}: a planted
                      domestic-abuse victim, refused by the strict firewall
                      (A1/A2); one case, one record.
  unknown-reference   a reference the holder does not hold, new per request
                      (DEMO-NX-<random digits>).
  unknown-identity    given name, family name and date of birth matching
                      nobody, new per request (random letters no demo name uses).
  ambiguous-identity  identity details shared by two or more subjects, found
                      read-only in the demo's store.db (subjects.identity_key);
                      rotated over every such identity found (at most 50).
  no-agreement        a known subject the firewall does not protect,
                      DEMO-R16 (an offender in a concluded burglary; one case,
                      one record, like DEMO-R05), asked under a legal basis no
                      agreement lists (dpa-2018-sch2-para4, the immigration
                      exemption): nothing forbids it, nothing covers it, so it
                      is refused by the default deny alone ("no agreement
                      covers this request"). The same request under
                      iaa-1999-s20 is permitted (agreement B4), which is why
                      the legal basis, and only it, differs from `protected`.

Before measuring it sends each kind once and stops unless every one is
answered 403 "refused" (a permit would make the comparison meaningless), and,
if the holder's certificate is in the demo directory, asks the holder's
decision API (POST /v1/decisions, requester = the holder) why, to check that
each kind is refused for the intended reason (404 unknown, 409 ambiguous, a
forbid for the protected person, no rule at all for no-agreement). Those
pre-check requests are logged by the gateway like any other.

Output: per kind n, min, median, p90, p99 (microseconds, nearest rank) and the
distinct response body sizes; then for every pair of kinds the Mann-Whitney U
statistic of the first kind, its two-sided p-value (normal approximation with
tie and continuity correction), the probability A = U/(n1*n2) that a request
of the first kind is slower than one of the second (0.5 = indistinguishable),
and the difference of medians; and finally `separable pairs at p<0.01: K of
10`. With thousands of samples a tiny shift is "significant": read A and the
median difference for the size of the effect.

Exit codes: 0 the run completed (the result is a measurement, not a
pass/fail); 1 the pre-check found a kind that is not refused, or refused for
another reason, so nothing was measured; 2 usage, file or connection errors.

Python 3 standard library only.
"""

import argparse
import gc
import http.client
import itertools
import json
import math
import os
import random
import socket
import sqlite3
import ssl
import statistics
import string
import sys
import time
import urllib.parse

EXIT_OK, EXIT_NOT_REFUSED, EXIT_USAGE = 0, 1, 2

IE_ORG = "ie-ice-south"               # demo::kOrgImmigrationEnforcement
HOLDER_ORG = "example-constabulary"   # demo::kOrgRecordsSystem (scope holder)
PATH = "/v1/disclosures"

KINDS = ["protected", "unknown-reference", "unknown-identity", "ambiguous-identity", "no-agreement"]

# The common request (docs/api.md, the walk-through's request 1).
BASE = {
    "purpose": "immigration-enforcement",
    "action": "disclose",
    "categories": ["address", "contact"],
    "legal_basis": "iaa-1999-s20",
    "user_role": "immigration-officer",
}

# `protected`: DEMO-R05, "rows 5 and 13: DA victim, perpetrator charged,
# status record confirmed" (src/demo/demo.cc). Under the strict firewall A1
# (firewall purpose, protected role) and A2 (Immigration Enforcement, protected
# role, locating categories) both refuse it.
DEFAULT_PROTECTED_REF = "DEMO-R05"

# `no-agreement`: DEMO-R16, "an offender in a concluded burglary (no firewall
# role)". Not protected (offender is not in protected_roles), so no firewall
# or forbid of strict-firewall / npcc-2020-core matches it; under
# iaa-1999-s20 agreement B4_ie_lookup_s20 would permit the address. Asked
# under dpa-2018-sch2-para4 (the immigration exemption, which no agreement or
# permit of the UK packs lists) nothing covers it and it is refused by the
# combining rules' default deny (docs/language.md "Combining", step 3) and by
# nothing else. Like DEMO-R05 it has exactly one case and one record, so the
# store work before the decision is the same shape for both.
DEFAULT_NO_AGREEMENT_REF = "DEMO-R16"
NO_AGREEMENT_LEGAL_BASIS = "dpa-2018-sch2-para4"

MAX_AMBIGUOUS = 50


class UsageError(Exception):
    """A usage, file or connection problem: exit 2."""


class NotRefused(Exception):
    """The pre-check failed: exit 1."""


# ---------------------------------------------------------------------------
# Statistics (no scipy).

def mann_whitney_u(x, y, continuity=True):
    """Two-sided Mann-Whitney U test, normal approximation.

    Returns (u, p) where u is U of the first sample, the number of pairs
    (xi, yj) with xi > yj plus half the ties, computed from the average ranks
    of the pooled sample: U1 = R1 - n1(n1+1)/2. Under the null hypothesis
    E[U1] = n1 n2 / 2 and, with ties t_k,
    Var[U1] = n1 n2 / 12 * ((N + 1) - sum(t_k^3 - t_k) / (N (N - 1))).
    z = (|U1 - E| - 0.5) / sd (continuity correction, as scipy's default),
    p = erfc(z / sqrt 2) = 2 (1 - Phi(z)). A sample whose values are all
    equal (variance 0) gives p = 1.
    """
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    pooled = sorted([(v, 0) for v in x] + [(v, 1) for v in y], key=lambda t: t[0])
    n = n1 + n2
    r1 = 0.0
    tie_term = 0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        t = j - i + 1
        rank = (i + 1 + j + 1) / 2.0  # the average of ranks i+1 .. j+1
        r1 += rank * sum(1 for k in range(i, j + 1) if pooled[k][1] == 0)
        if t > 1:
            tie_term += t * t * t - t
        i = j + 1
    u1 = r1 - n1 * (n1 + 1) / 2.0
    mean = n1 * n2 / 2.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return u1, 1.0
    d = abs(u1 - mean)
    if continuity:
        d = max(0.0, d - 0.5)
    z = d / math.sqrt(var)
    return u1, min(1.0, math.erfc(z / math.sqrt(2.0)))


def u_by_pairs(x, y):
    """U of x by definition (O(n1 n2)), to check the rank computation."""
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]


def self_test():
    failures = []

    def check(name, cond, detail=""):
        print(f"  {'ok  ' if cond else 'FAIL'} {name}{(': ' + detail) if detail else ''}")
        if not cond:
            failures.append(name)

    def close(a, b, tol):
        return abs(a - b) <= tol

    print("Mann-Whitney U self-test")
    # 1. Identical samples: U = n1 n2 / 2, p = 1.
    a = list(range(20))
    u, p = mann_whitney_u(a, list(a))
    check("identical samples 0..19 vs 0..19", u == 200.0 and p == 1.0, f"U={u} p={p}")
    u, p = mann_whitney_u([7] * 20, [7] * 20)
    check("constant samples (all tied, variance 0)", u == 200.0 and p == 1.0, f"U={u} p={p}")

    # 2. Fully separated, 20 each: U = 0, E = 200, Var = 20*20*41/12 = 1366.67,
    # z = (200 - 0.5) / 36.968 = 5.3965, p = erfc(z/sqrt2) ~ 6.8e-8 (by hand:
    # 2 phi(z)/z (1 - 1/z^2) = 2 * 1.893e-7 / 5.3965 * 0.9657 = 6.77e-8).
    lo, hi = [float(v) for v in range(20)], [float(v) for v in range(100, 120)]
    u, p = mann_whitney_u(lo, hi)
    check("fully separated 20 vs 20: U", u == 0.0, f"U={u}")
    check("fully separated 20 vs 20: p ~ 6.8e-8", 6.6e-8 < p < 7.0e-8 and p < 1e-6, f"p={p:.4g}")
    u2, p2 = mann_whitney_u(hi, lo)
    check("swapped samples: U2 = n1 n2 - U1, same p", u2 == 400.0 and p2 == p, f"U={u2} p={p2:.4g}")

    # 3. x = [1,2,3], y = [4,5,6] by hand: ranks of x 1,2,3, R1 = 6, U1 = 0;
    # E = 4.5, Var = 3*3*7/12 = 5.25, z = (4.5 - 0.5)/2.2913 = 1.7457,
    # Phi(1.7457) = 0.95957 (table: 1.74 -> 0.95907, 1.75 -> 0.95994),
    # p = 2 (1 - 0.95957) = 0.0809.
    u, p = mann_whitney_u([1, 2, 3], [4, 5, 6])
    check("[1,2,3] vs [4,5,6]: U = 0, p = 0.0809", u == 0.0 and close(p, 0.0809, 2e-4), f"U={u} p={p:.5f}")

    # 4. With ties, by hand: x = [1,2,2,3], y = [2,3,4,4]. Pooled sorted
    # 1,2,2,2,3,3,4,4: rank 1 -> 1; the three 2s share ranks 2..4 -> 3; the
    # two 3s 5..6 -> 5.5; the two 4s 7..8 -> 7.5. R1 = 1 + 3 + 3 + 5.5 = 12.5,
    # U1 = 12.5 - 10 = 2.5 (by pairs: 0 + 0.5 + 0.5 + 1.5). Ties t = 3, 2, 2:
    # sum(t^3 - t) = 24 + 6 + 6 = 36; Var = 16/12 * (9 - 36/56) = 11.142857,
    # sd = 3.33809, z = (5.5 - 0.5)/3.33809 = 1.49786,
    # Phi(1.49786) = 0.93292 (1.49 -> 0.93189, 1.50 -> 0.93319), p = 0.1342.
    x, y = [1, 2, 2, 3], [2, 3, 4, 4]
    u, p = mann_whitney_u(x, y)
    check("ties [1,2,2,3] vs [2,3,4,4]: U = 2.5", u == 2.5 and u_by_pairs(x, y) == 2.5, f"U={u}")
    check("ties [1,2,2,3] vs [2,3,4,4]: p = 0.1342", close(p, 0.1342, 2e-4), f"p={p:.5f}")

    # 5. The tie-corrected variance is the exact variance of U1 over every
    # split of the pooled (tied) values: enumerate all C(8,4) = 70 splits.
    pooled = x + y
    us = []
    for idx in itertools.combinations(range(8), 4):
        xs = [pooled[i] for i in idx]
        ys = [pooled[i] for i in range(8) if i not in idx]
        us.append(u_by_pairs(xs, ys))
    exact_mean = sum(us) / len(us)
    exact_var = sum((v - exact_mean) ** 2 for v in us) / len(us)
    check("tie-corrected variance = exact permutation variance (70 splits)",
          close(exact_mean, 8.0, 1e-12) and close(exact_var, 16 / 12 * (9 - 36 / 56), 1e-9),
          f"mean={exact_mean} var={exact_var:.6f} formula={16 / 12 * (9 - 36 / 56):.6f}")

    # 6. Rank-based U equals U by pairs on random tied data, and p is symmetric.
    rng = random.Random(7)
    ok = True
    for _ in range(200):
        xs = [rng.randint(0, 9) for _ in range(rng.randint(1, 25))]
        ys = [rng.randint(0, 9) for _ in range(rng.randint(1, 25))]
        ua, pa = mann_whitney_u(xs, ys)
        ub, pb = mann_whitney_u(ys, xs)
        if ua != u_by_pairs(xs, ys) or not close(ua + ub, len(xs) * len(ys), 1e-9) or not close(pa, pb, 1e-12):
            ok = False
            break
    check("200 random tied samples: U by ranks = U by pairs, U1 + U2 = n1 n2, p symmetric", ok)

    # 7. Under the null the p-values are roughly uniform: about 1% below 0.01.
    rng = random.Random(11)
    below = 0
    trials = 400
    for _ in range(trials):
        xs = [rng.gauss(0, 1) for _ in range(60)]
        ys = [rng.gauss(0, 1) for _ in range(60)]
        below += mann_whitney_u(xs, ys)[1] < 0.01
    check("null samples: p < 0.01 in about 1% of 400 trials", below <= 12, f"{below} of {trials}")

    # 8. Percentiles (nearest rank).
    v = list(range(1, 101))
    check("nearest-rank percentiles of 1..100",
          percentile(v, 50) == 50 and percentile(v, 90) == 90 and percentile(v, 99) == 99
          and percentile([5], 99) == 5)

    print(f"self-test: {'all passed' if not failures else str(len(failures)) + ' FAILED'}")
    return EXIT_OK if not failures else EXIT_NOT_REFUSED


# ---------------------------------------------------------------------------
# The demo force.

def demo_paths(demo_dir, org):
    paths = {
        "ca": os.path.join(demo_dir, "pki", "ca.pem"),
        "cert": os.path.join(demo_dir, "pki", "clients", org + ".pem"),
        "key": os.path.join(demo_dir, "pki", "clients", org + ".key"),
    }
    return paths


def tls_context(demo_dir, org):
    p = demo_paths(demo_dir, org)
    for what, path in p.items():
        if not os.path.isfile(path):
            raise UsageError(f"{path} not found: is {demo_dir} a directory made by `firebreak demo`?")
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=p["ca"])
    ctx.load_cert_chain(p["cert"], p["key"])
    return ctx


def find_ambiguous(demo_dir):
    """Identity details shared by several subjects, from store.db (read-only).

    The store keeps names in clear plus `identity_key`, the folded
    "given|family|date" the gateway matches on (store.cc IdentityKey), so a
    group of rows with one identity_key is an ambiguous identity; sending one
    row's given_name, family_name and date_of_birth folds to that key.
    Planted subjects (DEMO-...) come first. Returns a list of dicts.
    """
    path = os.path.join(demo_dir, "store.db")
    if not os.path.isfile(path):
        raise UsageError(f"{path} not found")
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=10)
        try:
            cols = {r[1] for r in con.execute("PRAGMA table_info(subjects)")}
            need = {"given_name", "family_name", "date_of_birth", "reference"}
            if not need <= cols:
                raise UsageError(f"{path}: table subjects has no {sorted(need - cols)}; pass --ambiguous")
            key = "identity_key" if "identity_key" in cols else \
                "lower(given_name) || '|' || lower(family_name) || '|' || date_of_birth"
            groups = con.execute(
                f"SELECT {key} AS k, COUNT(*) AS n, MAX(reference LIKE 'DEMO-%') AS planted "
                f"FROM subjects GROUP BY k HAVING n > 1 ORDER BY planted DESC, k LIMIT ?",
                (MAX_AMBIGUOUS,)).fetchall()
            out = []
            for k, n, _ in groups:
                rows = con.execute(
                    f"SELECT given_name, family_name, date_of_birth, reference FROM subjects "
                    f"WHERE {key} = ? ORDER BY id", (k,)).fetchall()
                g, f, d, _ = rows[0]
                out.append({"given_name": g, "family_name": f, "date_of_birth": d,
                            "references": [r[3] for r in rows]})
            return out
        finally:
            con.close()
    except sqlite3.Error as e:
        raise UsageError(f"reading {path}: {e}")


# ---------------------------------------------------------------------------
# Requests.

class Kinds:
    """Builds the request body of each kind."""

    def __init__(self, args, ambiguous, rng):
        self.args = args
        self.ambiguous = ambiguous
        self.rng = rng
        self.kinds = [k for k in KINDS if not (k == "ambiguous-identity" and not ambiguous)]

    def body(self, kind):
        r = dict(BASE)
        rng = self.rng
        if kind == "protected":
            r["subject"] = {"reference": self.args.protected_ref}
        elif kind == "unknown-reference":
            r["subject"] = {"reference": f"DEMO-NX-{rng.randrange(10**10):010d}"}
        elif kind == "unknown-identity":
            # Letters only (the store folds away anything else); no demo name
            # starts with "Qx"/"Zq", so this matches nobody.
            letters = string.ascii_lowercase
            r["subject"] = {
                "given_name": "Qx" + "".join(rng.choice(letters) for _ in range(6)),
                "family_name": "Zq" + "".join(rng.choice(letters) for _ in range(7)),
                "date_of_birth": f"{rng.randint(1945, 2012):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            }
        elif kind == "ambiguous-identity":
            a = rng.choice(self.ambiguous)
            r["subject"] = {"given_name": a["given_name"], "family_name": a["family_name"],
                            "date_of_birth": a["date_of_birth"]}
        elif kind == "no-agreement":
            r["legal_basis"] = NO_AGREEMENT_LEGAL_BASIS
            r["subject"] = {"reference": self.args.no_agreement_ref}
        else:
            raise ValueError(kind)
        return json.dumps(r, separators=(",", ":")).encode()

    def describe(self):
        amb = ", ".join(f"{a['given_name']} {a['family_name']} {a['date_of_birth']} ({len(a['references'])}: "
                        f"{' '.join(a['references'][:3])}{' ...' if len(a['references']) > 3 else ''})"
                        for a in self.ambiguous[:3])
        if len(self.ambiguous) > 3:
            amb += f", ... {len(self.ambiguous)} identities in all"
        d = {
            "protected": f"reference {self.args.protected_ref}",
            "unknown-reference": "reference DEMO-NX-<10 random digits>, new per request",
            "unknown-identity": "identity Qx<6 letters> Zq<7 letters> <random date>, new per request",
            "ambiguous-identity": f"identity shared by several subjects: {amb}" if self.ambiguous else "absent",
            "no-agreement": f"reference {self.args.no_agreement_ref}, legal_basis {NO_AGREEMENT_LEGAL_BASIS}",
        }
        return {k: d[k] for k in self.kinds}


class Client:
    """One keep-alive HTTPS connection."""

    def __init__(self, url, ctx, timeout):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "https" or not u.hostname:
            raise UsageError(f"--url must be https://HOST:PORT, not {url!r}")
        self.host, self.port = u.hostname, u.port or 443
        self.conn = http.client.HTTPSConnection(self.host, self.port, context=ctx, timeout=timeout)
        self.connects = 0
        self.headers = {"Content-Type": "application/json"}

    def connect(self):
        """Connects (outside any timed section) if not connected."""
        if self.conn.sock is None:
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connects += 1

    def post(self, path, body):
        """Returns (status, body bytes, nanoseconds); the connection is open before timing."""
        self.connect()
        conn = self.conn
        t0 = time.perf_counter_ns()
        conn.request("POST", path, body=body, headers=self.headers)
        resp = conn.getresponse()
        data = resp.read()
        t1 = time.perf_counter_ns()
        if resp.will_close:
            conn.close()
        return resp.status, data, t1 - t0

    def get(self, path):
        self.connect()
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self.conn.close()
        return resp.status, data

    def close(self):
        self.conn.close()


def short(data, n=300):
    s = data.decode("utf-8", "replace")
    return s if len(s) <= n else s[:n] + "..."


def precheck(client, kinds, holder):
    """Each kind once: 403 "refused"; then, with the holder's view, why."""
    print("pre-check (each kind once):")
    for kind in kinds.kinds:
        status, data, _ = client.post(PATH, kinds.body(kind))
        try:
            decision = json.loads(data).get("decision")
        except ValueError:
            decision = None
        print(f"  {kind:<20} {status} {decision}")
        if status != 403 or decision != "refused":
            raise NotRefused(
                f"kind `{kind}` was answered {status} (expected 403 \"refused\"): {short(data)}\n"
                f"A kind that is not refused makes the comparison meaningless; nothing was measured.")
    if holder is None:
        print("  (no holder certificate or --no-cause-check: causes not checked)")
        return {}
    # The holder's decision API tells why. The requester there is the holder
    # (police-force), not Immigration Enforcement, but for these requests the
    # outcome's cause is the same: unresolved subjects are 404/409, DEMO-R05 is
    # caught by firewall A1 (firewall purpose, protected role), and the
    # no-agreement request matches no rule of any kind.
    print("  holder's view (POST /v1/decisions, requester = the holder):")
    causes = {}
    problems = []
    for kind in kinds.kinds:
        status, data, _ = holder.post("/v1/decisions", kinds.body(kind))
        try:
            doc = json.loads(data)
        except ValueError:
            doc = {}
        rules = doc.get("rules")
        if status == 200:
            cause = f"{doc.get('decision')} rules={rules}"
        else:
            cause = f"{status} {(doc.get('error') or {}).get('message', '')}"
        causes[kind] = {"status": status, "decision": doc.get("decision"), "rules": rules}
        print(f"  {kind:<20} {cause}")
        expected = {
            "unknown-reference": lambda: status == 404,
            "unknown-identity": lambda: status == 404,
            "ambiguous-identity": lambda: status == 409,
            "protected": lambda: status == 200 and doc.get("decision") == "deny" and bool(rules),
            "no-agreement": lambda: status == 200 and doc.get("decision") == "deny" and rules == [],
        }[kind]
        if not expected():
            problems.append(kind)
    if problems:
        raise NotRefused(
            f"kind(s) {', '.join(problems)} are not refused for the intended reason (see the holder's view "
            f"above: expected 404 for unknown subjects, 409 for an ambiguous identity, a deny naming a forbid "
            f"for the protected person, a deny naming no rule for no-agreement). Use --no-cause-check to "
            f"measure anyway.")
    return causes


def run(args):
    rng = random.Random(args.seed)
    if args.ambiguous:
        parts = args.ambiguous.split("|")
        if len(parts) != 3:
            raise UsageError("--ambiguous takes GIVEN|FAMILY|YYYY-MM-DD")
        ambiguous = [{"given_name": parts[0], "family_name": parts[1], "date_of_birth": parts[2],
                      "references": ["(given)"]}]
    elif args.skip_ambiguous:
        ambiguous = []
    else:
        ambiguous = find_ambiguous(args.demo)
        if not ambiguous:
            raise UsageError(
                f"{os.path.join(args.demo, 'store.db')} holds no two subjects with the same name and date of "
                f"birth, so there is no ambiguous identity to ask about. Pass --skip-ambiguous to measure the "
                f"other four kinds, or --ambiguous GIVEN|FAMILY|YYYY-MM-DD.")
    kinds = Kinds(args, ambiguous, rng)

    client = Client(args.url, tls_context(args.demo, IE_ORG), args.timeout)
    holder = None
    if not args.no_cause_check and os.path.isfile(demo_paths(args.demo, HOLDER_ORG)["cert"]):
        holder = Client(args.url, tls_context(args.demo, HOLDER_ORG), args.timeout)

    print(f"refusal timing: {args.url}, org {IE_ORG}, {args.per_kind} per kind, warmup {args.warmup}, "
          f"seed {args.seed}")
    print("kinds:")
    for k, d in kinds.describe().items():
        print(f"  {k:<20} {d}")
    try:
        try:
            client.connect()
        except (OSError, ssl.SSLError) as e:
            raise UsageError(f"cannot connect to {args.url}: {e}")
        causes = precheck(client, kinds, holder)
        if holder is not None:
            holder.close()

        # Warm-up: interleaved, not recorded.
        for i in range(args.warmup):
            client.post(PATH, kinds.body(kinds.kinds[rng.randrange(len(kinds.kinds))]))

        # The schedule: every request built before timing starts, all kinds mixed.
        schedule = [(k, kinds.body(k)) for k in kinds.kinds for _ in range(args.per_kind)]
        rng.shuffle(schedule)
        samples = {k: [] for k in kinds.kinds}
        sizes = {k: {} for k in kinds.kinds}
        unexpected = {k: {} for k in kinds.kinds}
        connects_before = client.connects
        gc_was_enabled = gc.isenabled()
        gc.disable()
        started_unix = time.time()
        started = time.monotonic()
        try:
            for kind, body in schedule:
                status, data, ns = client.post(PATH, body)
                if status != 403:
                    unexpected[kind][status] = unexpected[kind].get(status, 0) + 1
                    if status < 400 or status >= 500:
                        print(f"warning: {kind} answered {status}: {short(data, 160)}", file=sys.stderr)
                    continue
                samples[kind].append(ns / 1000.0)
                sizes[kind][len(data)] = sizes[kind].get(len(data), 0) + 1
        finally:
            if gc_was_enabled:
                gc.enable()
        elapsed = time.monotonic() - started
        reconnects = client.connects - connects_before
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        raise UsageError(f"connection to {args.url} failed: {e!r}")
    finally:
        client.close()

    # Summary.
    print(f"measured {len(schedule)} requests in {elapsed:.1f} s on one connection"
          f" ({reconnects} reconnect{'s' if reconnects != 1 else ''}, not timed)")
    per_kind = {}
    print()
    print(f"{'kind':<20} {'n':>6} {'min_us':>9} {'median_us':>10} {'p90_us':>9} {'p99_us':>9}  body_bytes")
    for k in kinds.kinds:
        s = sorted(samples[k])
        st = {"n": len(s),
              "min_us": s[0] if s else None,
              "median_us": statistics.median(s) if s else None,
              "p90_us": percentile(s, 90) if s else None,
              "p99_us": percentile(s, 99) if s else None,
              "body_bytes": {str(b): c for b, c in sorted(sizes[k].items())},
              "non_403": {str(c): n for c, n in sorted(unexpected[k].items())}}
        per_kind[k] = st
        if s:
            print(f"{k:<20} {st['n']:>6} {st['min_us']:>9.0f} {st['median_us']:>10.1f} {st['p90_us']:>9.0f} "
                  f"{st['p99_us']:>9.0f}  {','.join(sorted(st['body_bytes'], key=int))}")
        else:
            print(f"{k:<20} {0:>6}  (no 403 answers)")
        if unexpected[k]:
            print(f"  warning: {k}: non-403 answers excluded: {st['non_403']}")

    print()
    print("pairs: Mann-Whitney U of the first kind, two-sided p (normal approximation, tie and continuity")
    print("correction), A = U/(n1 n2) = P(first slower), difference of medians (first - second)")
    print(f"{'first':<20} {'second':<20} {'U':>11} {'p':>10} {'A':>6} {'d_median_us':>12}")
    pairs = []
    separable = 0
    for a, b in itertools.combinations(kinds.kinds, 2):
        x, y = samples[a], samples[b]
        if not x or not y:
            continue
        u, p = mann_whitney_u(x, y)
        eff = u / (len(x) * len(y))
        dmed = statistics.median(x) - statistics.median(y)
        sep = p < 0.01
        separable += sep
        pairs.append({"first": a, "second": b, "u": u, "p": p, "a": eff, "median_diff_us": dmed,
                      "separable_p_lt_0_01": sep})
        print(f"{a:<20} {b:<20} {u:>11.1f} {p:>10.3g} {eff:>6.3f} {dmed:>12.1f}{'  *' if sep else ''}")
    total_pairs = len(kinds.kinds) * (len(kinds.kinds) - 1) // 2
    print()
    if not ambiguous:
        print("note: ambiguous-identity is absent (no duplicate identity in the store, or --skip-ambiguous)")
    print(f"separable pairs at p<0.01: {separable} of {total_pairs}")

    if args.json:
        doc = {
            "url": args.url, "org": IE_ORG, "per_kind": args.per_kind, "warmup": args.warmup,
            "seed": args.seed, "elapsed_s": elapsed, "reconnects": reconnects,
            "started_unix": started_unix,
            "request": BASE, "kinds": kinds.describe(),
            "ambiguous_identities": ambiguous, "holder_view": causes,
            "per_kind": per_kind, "pairs": pairs,
            "separable_pairs_p_lt_0_01": separable, "pairs_total": total_pairs,
            "samples_us": {k: samples[k] for k in kinds.kinds},
        }
        try:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)
                f.write("\n")
        except OSError as e:
            raise UsageError(f"writing {args.json}: {e}")
        print(f"wrote {args.json}")
    return EXIT_OK


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="refusal_timing.py",
        description=__doc__.split("\n\n")[0] + " Times the five kinds of 403 refusal of "
        "POST /v1/disclosures on one keep-alive connection and tests every pair with Mann-Whitney U.",
        epilog=__doc__[__doc__.index("\n\n") + 2:],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", metavar="DIR", help="demo directory made by `firebreak demo --dir DIR`")
    ap.add_argument("--url", metavar="URL", help="the gateway, https://127.0.0.1:PORT")
    ap.add_argument("--per-kind", type=int, default=2000, metavar="N", help="measured requests per kind (default 2000)")
    ap.add_argument("--warmup", type=int, default=200, metavar="N", help="unrecorded requests first (default 200)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the order and of the random subjects (default 1)")
    ap.add_argument("--json", metavar="FILE", help="also write the summary and raw samples (µs) as JSON")
    ap.add_argument("--protected-ref", default=DEFAULT_PROTECTED_REF, metavar="REF",
                    help=f"the protected subject (default {DEFAULT_PROTECTED_REF})")
    ap.add_argument("--no-agreement-ref", default=DEFAULT_NO_AGREEMENT_REF, metavar="REF",
                    help=f"the unprotected subject of no-agreement (default {DEFAULT_NO_AGREEMENT_REF})")
    ap.add_argument("--ambiguous", metavar="GIVEN|FAMILY|DATE",
                    help="identity details matching several subjects (default: found in DIR/store.db)")
    ap.add_argument("--skip-ambiguous", action="store_true",
                    help="measure without ambiguous-identity if the store has no duplicate identity")
    ap.add_argument("--no-cause-check", action="store_true",
                    help="do not ask the holder's decision API why each kind is refused")
    ap.add_argument("--timeout", type=float, default=30.0, metavar="S", help="socket timeout (default 30)")
    ap.add_argument("--self-test", action="store_true", help="check the statistics and exit")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return EXIT_OK if e.code == 0 else EXIT_USAGE
    if args.self_test:
        return self_test()
    try:
        if not args.demo or not args.url:
            raise UsageError("--demo DIR and --url https://HOST:PORT are required (or --self-test)")
        if not os.path.isdir(args.demo):
            raise UsageError(f"{args.demo} is not a directory")
        if args.per_kind < 1 or args.warmup < 0:
            raise UsageError("--per-kind must be >= 1 and --warmup >= 0")
        return run(args)
    except UsageError as e:
        print(f"refusal_timing.py: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NotRefused as e:
        print(f"refusal_timing.py: {e}", file=sys.stderr)
        return EXIT_NOT_REFUSED
    except KeyboardInterrupt:
        print("refusal_timing.py: interrupted", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
