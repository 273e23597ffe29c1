#include "verify/verify.h"

#include <algorithm>
#include <chrono>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "policy/parser.h"
#include "verify/internal/encoding.h"

namespace firebreak::verify {

using engine::Decision;
using engine::Engine;
using engine::Request;
using internal::RequestVars;
using internal::SetEncoding;
using policy::EnumKind;
using policy::Mask;
using policy::PolicySet;

namespace {

using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A solver over one request space, with the domain asserted and, when
// minimising, one indicator per preference so models can be made small.
class Session {
 public:
  struct Answer {
    z3::check_result result = z3::unknown;
    std::optional<z3::model> model;
    std::string reason;
  };

  Session(z3::context& c, const RequestVars& v, const Options& o)
      : c_(c), s_(c), minimise_(o.minimise) {
    s_.add(v.Domain());
    if (o.timeout_ms) {
      z3::params p(c);
      p.set("timeout", unsigned(o.timeout_ms));
      s_.set(p);
    }
    if (minimise_) {
      std::vector<z3::expr> prefs = v.Preferences();
      for (size_t i = 0; i < prefs.size(); ++i) {
        z3::expr ind = c.bool_const(fmt::format("prefer!{}", i).c_str());
        s_.add(z3::implies(ind, prefs[i]));
        indicators_.push_back(ind);
      }
    }
  }

  void Push() { s_.push(); }
  void Pop() { s_.pop(); }
  void Add(const z3::expr& e) { s_.add(e); }

  // Checks the current assertions; when sat and minimising, gives up the
  // least important preferences until the rest can hold together.
  Answer Check(const std::vector<z3::expr>& extra = {}) {
    Answer a;
    a.result = s_.check();
    if (a.result == z3::unknown) a.reason = s_.reason_unknown();
    if (a.result != z3::sat) return a;
    a.model = s_.get_model();
    if (!minimise_) return a;
    // `extra` preferences come first (most important); their indicators
    // live in the caller's scope.
    std::vector<z3::expr> assume;
    for (const z3::expr& e : extra) {
      z3::expr ind = c_.bool_const(fmt::format("prefer-extra!{}", extra_count_++).c_str());
      s_.add(z3::implies(ind, e));
      assume.push_back(ind);
    }
    assume.insert(assume.end(), indicators_.begin(), indicators_.end());
    for (size_t round = 0; round <= assume.size(); ++round) {
      z3::expr_vector av(c_);
      for (const z3::expr& e : assume) av.push_back(e);
      z3::check_result r = s_.check(av);
      if (r == z3::sat) {
        a.model = s_.get_model();
        return a;
      }
      if (r != z3::unsat) break;
      z3::expr_vector core = s_.unsat_core();
      int drop = -1;
      for (size_t i = 0; i < assume.size(); ++i) {
        for (unsigned k = 0; k < core.size(); ++k) {
          if (z3::eq(assume[i], core[k])) drop = int(i);
        }
      }
      if (drop < 0) break;
      assume.erase(assume.begin() + drop);
    }
    return a;  // the first model, unminimised
  }

 private:
  z3::context& c_;
  z3::solver s_;
  bool minimise_;
  std::vector<z3::expr> indicators_;
  size_t extra_count_ = 0;
};

std::string Json(const Request& r, const policy::Schema& s) {
  return boost::json::serialize(engine::RequestToJson(r, s));
}

// The request as `firebreak eval` would see it: printed in the wire form and
// parsed back.
Result<Request> RoundTrip(const Request& r, const policy::Schema& s) {
  auto parsed = engine::ParseRequest(engine::RequestToJson(r, s), s);
  if (!parsed) {
    return tl::make_unexpected(
        Internal(fmt::format("a verifier request does not parse back ({}): {}", parsed.error().message(),
                             Json(r, s))));
  }
  return parsed;
}

std::string Human(std::string s) {
  std::replace(s.begin(), s.end(), '-', ' ');
  return s;
}

std::string List(const policy::Schema& s, EnumKind k, Mask m) {
  std::vector<std::string> names = s.Names(k, m);
  return "[" + fmt::format("{}", fmt::join(names, ", ")) + "]";
}

std::string RuleNames(const Decision& d, const PolicySet& set) {
  std::vector<std::string> names;
  for (uint32_t i : d.rules) names.push_back(set.rules[i].name);
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string WhyDenied(const Decision& d, const PolicySet& set) {
  if (d.conflicting_normalisations) return "conflicting normalisations";
  if (d.rules.empty()) return "no agreement covers it";
  return RuleNames(d, set);
}

bool SameSchema(const policy::Schema& a, const policy::Schema& b) {
  if (a.values != b.values || a.context.size() != b.context.size()) return false;
  for (size_t i = 0; i < a.context.size(); ++i) {
    const policy::ContextVar &x = a.context[i], &y = b.context[i];
    if (x.name != y.name || x.type != y.type || x.required != y.required ||
        ((x.type == policy::ValueType::kEnum || x.type == policy::ValueType::kEnumSet) && x.kind != y.kind)) {
      return false;
    }
  }
  return true;
}

std::string Location(const PolicySet& set, const policy::Span& span) {
  if (!set.sources || span.file >= set.sources->size()) return "";
  return fmt::format("{}:{}:{}", set.sources->path(span.file), span.line, span.column);
}

}  // namespace

bool EngineViolates(const Engine& e, const policy::Guarantee& g, const Request& r, const Decision& d) {
  bool applies = e.Evaluate(g.cond, r, d.purpose) != engine::Truth::kFalse;
  switch (g.kind) {
    case policy::GuaranteeKind::kNeverPermit: return applies && d.permit;
    case policy::GuaranteeKind::kNeverDisclose: return applies && (d.disclosed & g.mask) != 0;
    case policy::GuaranteeKind::kAlwaysObligations:
      return applies && d.permit && (d.obligations & g.mask) != g.mask;
    case policy::GuaranteeKind::kAlwaysPermit:
      return e.Evaluate(g.cond, r, d.purpose) == engine::Truth::kTrue && !d.permit;
  }
  return false;
}


const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kProved: return "proved";
    case Outcome::kRefuted: return "refuted";
    case Outcome::kUnknown: return "unknown";
  }
  return "unknown";
}

const char* DiffKindName(DiffKind k) {
  switch (k) {
    case DiffKind::kOnlyAPermits: return "a-permits-b-denies";
    case DiffKind::kOnlyBPermits: return "b-permits-a-denies";
    case DiffKind::kDisclosedDiffers: return "different-disclosure";
    case DiffKind::kObligationsDiffer: return "different-obligations";
  }
  return "";
}

const char* LintKindName(LintKind k) {
  switch (k) {
    case LintKind::kNeverMatches: return "never-matches";
    case LintKind::kAlwaysOverridden: return "always-overridden";
    case LintKind::kReviewOverdue: return "review-overdue";
    case LintKind::kVacuousGuarantee: return "vacuous-guarantee";
    case LintKind::kUnknown: return "unknown";
  }
  return "";
}

bool VerifyReport::all_proved() const {
  return std::all_of(guarantees.begin(), guarantees.end(),
                     [](const GuaranteeResult& g) { return g.outcome == Outcome::kProved; });
}

bool DiffReport::equivalent() const {
  return std::all_of(kinds.begin(), kinds.end(),
                     [](const DiffKindResult& k) { return k.outcome == Outcome::kProved; });
}

bool DiffReport::any_unknown() const {
  return std::any_of(kinds.begin(), kinds.end(),
                     [](const DiffKindResult& k) { return k.outcome == Outcome::kUnknown; });
}

// ---------------------------------------------------------------------------
// Guarantees

Result<VerifyReport> VerifyGuarantees(std::shared_ptr<const PolicySet> set, const Options& options) {
  if (!set) return tl::make_unexpected(InvalidArgument("no policy set"));
  return internal::Z3Guard([&]() -> Result<VerifyReport> {
    VerifyReport report;
    auto t0 = Clock::now();
    z3::context c;
    RequestVars v(c, *set->schema, internal::QuantifierInstances(*set),
                  internal::CollectIds({set.get()}));
    SetEncoding enc(v, *set);
    Session session(c, v, options);
    auto engine = Engine::Compile(set);
    report.encode_millis = MillisSince(t0);
    for (size_t i = 0; i < set->guarantees.size(); ++i) {
      const policy::Guarantee& g = set->guarantees[i];
      auto t1 = Clock::now();
      GuaranteeResult out;
      out.name = g.name;
      session.Push();
      session.Add(enc.Violation(i));
      Session::Answer a = session.Check();
      session.Pop();
      if (a.result == z3::unsat) {
        out.outcome = Outcome::kProved;
      } else if (a.result == z3::unknown) {
        out.outcome = Outcome::kUnknown;
        out.reason = a.reason;
      } else {
        out.outcome = Outcome::kRefuted;
        FB_ASSIGN_OR_RETURN(Request model_request, v.Extract(*a.model));
        FB_ASSIGN_OR_RETURN(Request r, RoundTrip(model_request, *set->schema));
        out.decision = engine->Decide(r);
        if (!EngineViolates(*engine, g, r, out.decision)) {
          return tl::make_unexpected(Internal(fmt::format(
              "verifier and engine disagree: the verifier says {} violates guarantee {}, the engine "
              "decides {}",
              Json(r, *set->schema), g.name, boost::json::serialize(engine->ToJson(out.decision, r)))));
        }
        out.counterexample = std::move(r);
      }
      out.millis = MillisSince(t1);
      report.guarantees.push_back(std::move(out));
    }
    return report;
  });
}

Status CheckDeployable(std::shared_ptr<const PolicySet> set, const Options& options) {
  FB_ASSIGN_OR_RETURN(VerifyReport report, VerifyGuarantees(std::move(set), options));
  std::vector<std::string> refuted, unknown;
  for (const GuaranteeResult& g : report.guarantees) {
    if (g.outcome == Outcome::kRefuted) refuted.push_back(g.name);
    if (g.outcome == Outcome::kUnknown) unknown.push_back(fmt::format("{} ({})", g.name, g.reason));
  }
  if (!refuted.empty()) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "policy set not deployable: guarantees refuted: {}{}", fmt::join(refuted, ", "),
        unknown.empty() ? "" : fmt::format("; not proved: {}", fmt::join(unknown, ", ")))));
  }
  if (!unknown.empty()) {
    return tl::make_unexpected(Unavailable(
        fmt::format("policy set not deployable: guarantees not proved: {}", fmt::join(unknown, ", "))));
  }
  return Ok();
}

// ---------------------------------------------------------------------------
// Diff

namespace {

bool ShowsDifference(DiffKind k, const Decision& a, const Decision& b) {
  switch (k) {
    case DiffKind::kOnlyAPermits: return a.permit && !b.permit;
    case DiffKind::kOnlyBPermits: return b.permit && !a.permit;
    case DiffKind::kDisclosedDiffers: return a.permit && b.permit && a.disclosed != b.disclosed;
    case DiffKind::kObligationsDiffer: return a.permit == b.permit && a.obligations != b.obligations;
  }
  return false;
}

std::string Summary(DiffKind k, const Request& r, const Decision& a, const Decision& b,
                    const PolicySet& sa, const PolicySet& sb, const DiffOptions& o) {
  const policy::Schema& s = *sa.schema;
  // Both sets decide the same request; name the purpose a normalisation
  // judged it as (in either set) when that is not the declared one.
  int judged = a.conflicting_normalisations ? -1 : int(a.purpose);
  if (judged == int(r.purpose) && !b.conflicting_normalisations) judged = int(b.purpose);
  std::string what = DescribeRequest(r, s, judged);
  switch (k) {
    case DiffKind::kOnlyAPermits:
      return fmt::format("{} permits {} (by {}); {} does not ({}).", o.label_a, what, RuleNames(a, sa),
                         o.label_b, WhyDenied(b, sb));
    case DiffKind::kOnlyBPermits:
      return fmt::format("{} permits {} (by {}); {} does not ({}).", o.label_b, what, RuleNames(b, sb),
                         o.label_a, WhyDenied(a, sa));
    case DiffKind::kDisclosedDiffers:
      return fmt::format("Both permit {}, but {} discloses {} and {} discloses {}.", what, o.label_a,
                         List(s, EnumKind::kCategory, a.disclosed), o.label_b,
                         List(s, EnumKind::kCategory, b.disclosed));
    case DiffKind::kObligationsDiffer:
      return fmt::format("Both {} {}, but {} attaches obligations {} and {} attaches {}.",
                         a.permit ? "permit" : "deny", what, o.label_a,
                         List(s, EnumKind::kObligation, a.obligations), o.label_b,
                         List(s, EnumKind::kObligation, b.obligations));
  }
  return "";
}

}  // namespace

Result<DiffReport> DiffSets(std::shared_ptr<const PolicySet> a, std::shared_ptr<const PolicySet> b,
                            const DiffOptions& options) {
  if (!a || !b) return tl::make_unexpected(InvalidArgument("no policy set"));
  if (!SameSchema(*a->schema, *b->schema)) {
    return tl::make_unexpected(InvalidArgument(fmt::format(
        "cannot compare policy sets over different schemas (`{}` and `{}`, or different values)",
        a->schema->name, b->schema->name)));
  }
  return internal::Z3Guard([&]() -> Result<DiffReport> {
    DiffReport report;
    auto t0 = Clock::now();
    z3::context c;
    RequestVars v(c, *a->schema,
                  internal::QuantifierInstances(*a) + internal::QuantifierInstances(*b),
                  internal::CollectIds({a.get(), b.get()}));
    SetEncoding ea(v, *a), eb(v, *b);
    Session session(c, v, options);
    auto engine_a = Engine::Compile(a), engine_b = Engine::Compile(b);
    const policy::Schema& s = *a->schema;
    for (size_t ki = 0; ki < kDiffKindCount; ++ki) {
      DiffKind kind = DiffKind(ki);
      DiffKindResult& out = report.kinds[ki];
      out.kind = kind;
      z3::expr differs = c.bool_val(false);
      switch (kind) {
        case DiffKind::kOnlyAPermits: differs = ea.permit && !eb.permit; break;
        case DiffKind::kOnlyBPermits: differs = eb.permit && !ea.permit; break;
        case DiffKind::kDisclosedDiffers: {
          z3::expr_vector any(c);
          for (size_t k = 0; k < ea.disclosed.size(); ++k) any.push_back(ea.disclosed[k] != eb.disclosed[k]);
          differs = ea.permit && eb.permit && z3::mk_or(any);
          break;
        }
        case DiffKind::kObligationsDiffer: {
          z3::expr_vector any(c);
          for (size_t k = 0; k < ea.obligations.size(); ++k) {
            any.push_back(ea.obligations[k] != eb.obligations[k]);
          }
          differs = ea.permit == eb.permit && (any.empty() ? c.bool_val(false) : z3::mk_or(any));
          break;
        }
      }
      // A witness reads best when the permitting set discloses what it asks.
      std::vector<z3::expr> prefer;
      auto discloses_all = [&](const SetEncoding& e) {
        z3::expr_vector any(c), none(c);
        for (size_t k = 0; k < e.disclosed.size(); ++k) {
          any.push_back(e.disclosed[k]);
          none.push_back(!e.withheld[k]);
        }
        return z3::mk_or(any) && z3::mk_and(none);
      };
      if (kind == DiffKind::kOnlyAPermits) prefer.push_back(discloses_all(ea));
      if (kind == DiffKind::kOnlyBPermits) prefer.push_back(discloses_all(eb));
      session.Push();
      session.Add(differs);
      Session::Answer first = session.Check(prefer);
      if (first.result != z3::sat) {
        out.outcome = first.result == z3::unsat ? Outcome::kProved : Outcome::kUnknown;
        out.reason = first.reason;
        session.Pop();
        continue;
      }
      out.outcome = Outcome::kRefuted;
      std::optional<z3::model> model = first.model;
      while (model && out.witnesses.size() < options.max_witnesses) {
        FB_ASSIGN_OR_RETURN(Request m, v.Extract(*model));
        FB_ASSIGN_OR_RETURN(Request r, RoundTrip(m, s));
        DiffWitness w;
        w.kind = kind;
        w.a = engine_a->Decide(r);
        w.b = engine_b->Decide(r);
        if (!ShowsDifference(kind, w.a, w.b)) {
          return tl::make_unexpected(Internal(fmt::format(
              "verifier and engine disagree: the verifier says {} shows {} ({} vs {}), the engines "
              "decide {} and {}",
              Json(r, s), DiffKindName(kind), options.label_a, options.label_b,
              boost::json::serialize(engine_a->ToJson(w.a, r)),
              boost::json::serialize(engine_b->ToJson(w.b, r)))));
        }
        w.summary = Summary(kind, r, w.a, w.b, *a, *b, options);
        w.request = std::move(r);
        out.witnesses.push_back(std::move(w));
        if (out.witnesses.size() >= options.max_witnesses) break;
        // Diversity: the next witness differs from every earlier one in at
        // least two of purpose, requester type, action and subject roles;
        // failing that, in at least one.
        model.reset();
        for (unsigned need : {2u, 1u}) {
          session.Push();
          for (const DiffWitness& prev : out.witnesses) {
            const Request& p = prev.request;
            z3::expr_vector f(c);
            f.push_back(v.purpose != v.EnumConst(EnumKind::kPurpose, p.purpose));
            f.push_back(v.org_type != v.EnumConst(EnumKind::kOrgType, p.org_type));
            f.push_back(v.action != v.EnumConst(EnumKind::kAction, p.action));
            z3::expr_vector roles(c);
            roles.push_back(v.subject != c.bool_val(p.has_subject));
            for (size_t i = 0; i < v.roles.size(); ++i) {
              roles.push_back(v.roles[i] != c.bool_val(p.has_subject && (p.roles >> i & 1)));
            }
            f.push_back(z3::mk_or(roles));
            session.Add(z3::atleast(f, need));
          }
          Session::Answer next = session.Check(prefer);
          session.Pop();
          if (next.result == z3::sat) {
            model = next.model;
            break;
          }
        }
      }
      session.Pop();
    }
    report.millis = MillisSince(t0);
    return report;
  });
}

// ---------------------------------------------------------------------------
// Lint

Result<std::vector<LintFinding>> Lint(std::shared_ptr<const PolicySet> set, const LintOptions& options) {
  if (!set) return tl::make_unexpected(InvalidArgument("no policy set"));
  return internal::Z3Guard([&]() -> Result<std::vector<LintFinding>> {
    std::vector<LintFinding> findings;
    Options plain = options;
    plain.minimise = false;
    z3::context c;
    RequestVars v(c, *set->schema, internal::QuantifierInstances(*set),
                  internal::CollectIds({set.get()}));
    SetEncoding enc(v, *set);
    Session session(c, v, plain);
    auto check = [&](const z3::expr& e, std::string* reason) {
      session.Push();
      session.Add(e);
      Session::Answer a = session.Check();
      session.Pop();
      if (a.result == z3::unknown) *reason = a.reason;
      return a.result;
    };
    auto unknown = [&](const std::string& item, const policy::Span& span, const std::string& q,
                       const std::string& reason) {
      findings.push_back({LintKind::kUnknown, item, Location(*set, span),
                          fmt::format("could not decide whether {} ({})", q, reason)});
    };
    for (size_t i = 0; i < set->rules.size(); ++i) {
      const policy::Rule& r = set->rules[i];
      std::string reason;
      z3::expr matches = !enc.conflict && enc.rule_matches[i];
      z3::check_result can = check(matches, &reason);
      if (can == z3::unknown) {
        unknown(r.name, r.span, "it can match", reason);
        continue;
      }
      if (can == z3::unsat) {
        findings.push_back({LintKind::kNeverMatches, r.name, Location(*set, r.span),
                            fmt::format("{} `{}` can never match: no request satisfies its condition{}",
                                        policy::RuleKindName(r.kind), r.name,
                                        r.kind == policy::RuleKind::kAgreement
                                            ? " together with its parties, purposes and legal basis"
                                            : "")});
        continue;
      }
      if (policy::IsForbid(r.kind)) continue;
      z3::check_result free = check(matches && !enc.any_forbid, &reason);
      if (free == z3::unknown) {
        unknown(r.name, r.span, "a forbid always overrides it", reason);
        continue;
      }
      if (free == z3::sat) continue;
      std::vector<std::string> by;
      for (size_t f = 0; f < set->rules.size(); ++f) {
        if (!policy::IsForbid(set->rules[f].kind)) continue;
        std::string ignored;
        if (check(matches && !enc.rule_matches[f], &ignored) == z3::unsat) by.push_back(set->rules[f].name);
      }
      findings.push_back(
          {LintKind::kAlwaysOverridden, r.name, Location(*set, r.span),
           fmt::format("{} `{}` never decides anything: every request it matches is denied by a forbid{}",
                       policy::RuleKindName(r.kind), r.name,
                       by.empty() ? "" : fmt::format(" ({})", fmt::join(by, ", ")))});
    }
    for (const policy::Rule& r : set->rules) {
      if (!r.agreement || r.agreement->review >= options.today) continue;
      findings.push_back({LintKind::kReviewOverdue, r.name, Location(*set, r.span),
                          fmt::format("agreement `{}` was due for review on {} (today is {})", r.name,
                                      policy::FormatTimestamp(r.agreement->review, true),
                                      policy::FormatTimestamp(options.today, true))});
    }
    for (size_t g = 0; g < set->guarantees.size(); ++g) {
      const policy::Guarantee& gu = set->guarantees[g];
      std::string reason;
      z3::check_result can = check(enc.GuaranteeApplies(g), &reason);
      if (can == z3::unknown) {
        unknown(gu.name, gu.span, "its condition can hold", reason);
      } else if (can == z3::unsat) {
        findings.push_back({LintKind::kVacuousGuarantee, gu.name, Location(*set, gu.span),
                            fmt::format("guarantee `{}` is vacuous: no request makes its condition true or "
                                        "unknown, so it promises nothing",
                                        gu.name)});
      }
    }
    return findings;
  });
}

// ---------------------------------------------------------------------------
// Words

std::string DescribeRequest(const Request& r, const policy::Schema& s, int effective_purpose) {
  auto name = [&](EnumKind k, unsigned i) { return Human(s.Values(k)[i]); };
  auto names = [&](EnumKind k, Mask m) {
    std::vector<std::string> v;
    for (const std::string& n : s.Names(k, m)) v.push_back(Human(n));
    return v;
  };
  auto article = [](const std::string& w) {
    return (!w.empty() && std::string_view("aeiou").find(w[0]) != std::string_view::npos ? "an " : "a ") + w;
  };
  // The org is named only when the policy mentions it (an "other" id is
  // made up by the verifier and means "any org the policy does not name").
  bool other_org = r.org.rfind("org-other", 0) == 0;
  std::string out = fmt::format("{} ({}{}) to {} {} for {}", name(EnumKind::kOrgType, r.org_type),
                                name(EnumKind::kUserRole, r.user_role),
                                other_org ? "" : fmt::format(", org \"{}\"", r.org),
                                name(EnumKind::kAction, r.action),
                                r.categories ? fmt::format("{}", fmt::join(names(EnumKind::kCategory, r.categories), ", "))
                                             : "no categories",
                                name(EnumKind::kPurpose, r.purpose));
  if (effective_purpose >= 0 && effective_purpose != r.purpose) {
    out += fmt::format(" (judged as {})", name(EnumKind::kPurpose, unsigned(effective_purpose)));
  }
  out += fmt::format(" citing {}", name(EnumKind::kLegalBasis, r.legal_basis));
  if (!r.has_subject) {
    out += " about no identified person";
  } else {
    Mask from_cases = 0;
    std::vector<std::string> parts;
    for (const engine::CaseFacts& c : r.cases) {
      from_cases |= Mask{1} << c.role;
      parts.push_back(fmt::format("{} in {} {} case", name(EnumKind::kRole, c.role),
                                  article(name(EnumKind::kCaseStatus, c.status)),
                                  name(EnumKind::kCaseType, c.type)));
    }
    std::vector<std::string> other = names(EnumKind::kRole, r.roles & ~from_cases);
    std::string who;
    if (!parts.empty()) {
      who = article(fmt::format("{}", fmt::join(parts, " and a ")));
      if (!other.empty()) who += fmt::format(", also {}", fmt::join(other, " and "));
    } else if (!other.empty()) {
      who = article(fmt::format("{}", fmt::join(other, " and ")));
    } else {
      who = "a person with no recorded role";
    }
    out += " about " + who;
    std::vector<std::string> facts;
    if (r.flags) facts.push_back(fmt::format("flagged {}", fmt::join(names(EnumKind::kFlag, r.flags), ", ")));
    if (r.concern != 0) facts.push_back("immigration concern " + name(EnumKind::kConcern, r.concern));
    if (r.regularisation_pending) facts.push_back("regularisation pending");
    if (r.subject_initiated) facts.push_back("at the person's own request");
    if (r.consent_to_ie) facts.push_back("with consent to Immigration Enforcement recorded");
    if (!facts.empty()) out += fmt::format(" ({})", fmt::join(facts, ", "));
  }
  if (r.has_record) {
    out += fmt::format(", from a record collected as {}", article(name(EnumKind::kRole, r.collected_as)));
    if (r.has_record_case) {
      out += fmt::format(" in {} {} case", article(name(EnumKind::kCaseStatus, r.record_case_status)),
                         name(EnumKind::kCaseType, r.record_case_type));
    }
  }
  std::vector<std::string> ctx;
  for (size_t i = 0; i < s.context.size() && i < r.context.size(); ++i) {
    if (!r.context[i].present) continue;
    const engine::ContextValue& cv = r.context[i];
    const policy::ContextVar& var = s.context[i];
    std::string val;
    switch (var.type) {
      case policy::ValueType::kBool: val = cv.boolean ? "true" : "false"; break;
      case policy::ValueType::kInt: val = std::to_string(cv.number); break;
      case policy::ValueType::kTimestamp: val = policy::FormatTimestamp(cv.number, false); break;
      case policy::ValueType::kId: val = "\"" + cv.id + "\""; break;
      case policy::ValueType::kEnum:
      case policy::ValueType::kEnumSet: val = List(s, var.kind, cv.mask); break;
    }
    ctx.push_back(var.name + " " + val);
  }
  if (!ctx.empty()) out += fmt::format(" (context: {})", fmt::join(ctx, ", "));
  return out;
}

std::string DescribeDecision(const Decision& d, const PolicySet& set) {
  const policy::Schema& s = *set.schema;
  std::string obl = d.obligations ? fmt::format("; obligations {}", List(s, EnumKind::kObligation, d.obligations)) : "";
  if (d.permit) {
    return fmt::format("permit ({}): discloses {}, withholds {}{}", RuleNames(d, set),
                       List(s, EnumKind::kCategory, d.disclosed), List(s, EnumKind::kCategory, d.withheld), obl);
  }
  std::string unknown;
  if (!d.unknown_rules.empty()) unknown = " (some on unknown facts)";
  return fmt::format("deny ({}){}{}", WhyDenied(d, set), unknown, obl);
}

}  // namespace firebreak::verify
