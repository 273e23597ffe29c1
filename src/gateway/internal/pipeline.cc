#include "gateway/internal/pipeline.h"

#include <algorithm>

#include <chrono>
#include <set>

#include "base/crypto.h"
#include "base/encoding.h"
#include "engine/facts.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;
using policy::EnumKind;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The names of the set bits of `mask`, as a JSON list.
void WriteNames(entry::CanonicalWriter& w, const policy::Schema& schema, EnumKind kind, policy::Mask mask) {
  const auto& values = schema.Values(kind);
  w.BeginArray();
  for (size_t i = 0; i < values.size(); ++i) {
    if (mask & (policy::Mask{1} << i)) w.String(values[i]);
  }
  w.EndArray();
}

// One per-record evaluation of a sealed part (its members in canonical order).
void WriteRecord(entry::CanonicalWriter& w, const policy::Schema& schema, const Evaluation& e) {
  w.BeginObject();
  if (!e.record->case_id.empty()) {
    w.Key("case_status");
    w.String(e.record->case_status);
    w.Key("case_type");
    w.String(e.record->case_type);
  }
  w.Key("collected_as");
  w.String(e.record->collected_as);
  w.Key("decision");
  w.String(e.decision.permit ? "permit" : "deny");
  w.Key("disclosed");
  WriteNames(w, schema, EnumKind::kCategory, e.decision.disclosed);
  w.Key("rules");
  w.Strings(e.rules);
  w.EndObject();
}

// The sealed part of a decision entry: the subject's facts (or why there is
// no subject), and what decided. Cases, records and rules are listed as far
// as the fixed size allows (entry::FitSealedText), written as canonical JSON
// with no tree: members in canonical order (docs/log-format.md lists them).
Result<std::string> SealedPart(const engine::Engine& engine, const Resolution& res, const Merged& merged,
                               const std::string& pseudonym, bool outward) {
  const policy::Schema& schema = engine.schema();
  // Per-record evaluations (provenance), distinct ones only, each written once.
  std::vector<std::string> records;
  for (const Evaluation& e : merged.evaluations) {
    if (!e.record) continue;
    std::string text;
    entry::CanonicalWriter w(text);
    WriteRecord(w, schema, e);
    if (std::find(records.begin(), records.end(), text) == records.end()) records.push_back(std::move(text));
  }
  const engine::Request* facts = res.subject ? &merged.evaluations.front().request : nullptr;
  size_t n_cases_all = res.subject ? res.cases.size() : 0;
  auto write = [&](std::string& out, size_t n_cases, size_t n_records, size_t n_rules) {
    entry::CanonicalWriter w(out);
    w.BeginObject();
    if (facts && !facts->application_recipient.empty()) {
      // Her own choice for evidence sent for her application (X1).
      w.Key("application");
      w.BeginObject();
      w.Key("categories");
      WriteNames(w, schema, EnumKind::kCategory, facts->chosen_categories);
      w.Key("recipient");
      w.String(facts->application_recipient);
      w.EndObject();
    }
    w.Key("cases");
    w.BeginArray();
    for (size_t i = 0; i < n_cases; ++i) {
      const store::Participation& p = res.cases[i];
      w.BeginObject();
      if (!p.case_flags.empty()) {
        w.Key("flags");
        w.Strings(p.case_flags);
      }
      w.Key("role");
      w.String(p.role);
      w.Key("status");
      w.String(p.case_status);
      w.Key("type");
      w.String(p.case_type);
      w.EndObject();
    }
    w.EndArray();
    if (n_cases_all > n_cases) {
      w.Key("cases_not_listed");
      w.Int(int64_t(n_cases_all - n_cases));
    }
    if (facts) {
      w.Key("consent_to_ie");
      w.Bool(facts->consent_to_ie);
    }
    if (!outward) {
      // The holder's own decisions are always about a person it holds, so
      // their outcome would tell the public who is protected: sealed.
      w.Key("decision");
      w.String(merged.permit ? "permit" : "deny");
      w.Key("disclosed");
      WriteNames(w, schema, EnumKind::kCategory, merged.disclosed);
    }
    w.Key("effective_purpose");
    w.String(schema.Values(EnumKind::kPurpose)[merged.purpose]);
    if (facts) {
      // The facts as the engine saw them (every evaluation shares them).
      w.Key("flags");
      WriteNames(w, schema, EnumKind::kFlag, facts->flags);
      w.Key("immigration_concern");
      w.String(schema.Values(EnumKind::kConcern)[facts->concern]);
    }
    // Not `withheld`: it is the categories asked (in clear) less those
    // disclosed, and the room is needed for her application choice.
    w.Key("obligations");
    WriteNames(w, schema, EnumKind::kObligation, merged.obligations);
    w.Key("records");
    out += '[';
    for (size_t i = 0; i < n_records; ++i) {
      if (i > 0) out += ',';
      out += records[i];  // already canonical
    }
    out += ']';
    if (records.size() > n_records) {
      w.Key("records_not_listed");
      w.Int(int64_t(records.size() - n_records));
    }
    if (facts) {
      w.Key("regularisation_pending");
      w.Bool(facts->regularisation_pending);
      w.Key("roles");
      WriteNames(w, schema, EnumKind::kRole, facts->roles);
    }
    w.Key("rules");
    w.BeginArray();
    for (size_t i = 0; i < n_rules; ++i) w.String(merged.rules[i]);
    w.EndArray();
    if (merged.rules.size() > n_rules) {
      w.Key("rules_not_listed");
      w.Int(int64_t(merged.rules.size() - n_rules));
    }
    if (facts) {
      w.Key("subject");
      w.String(pseudonym);
      w.Key("subject_initiated");
      w.Bool(facts->subject_initiated);
    } else if (!res.unresolved.empty()) {
      w.Key("subject");
      w.Null();
    } else {
      // The request named no one (`subject is none`), e.g. statistics.
      w.Key("subject_none");
      w.Bool(true);
    }
    if (!facts && !res.unresolved.empty()) {
      w.Key("unresolved");
      w.String(res.unresolved);
    }
    w.EndObject();
  };
  return entry::FitSealedText(n_cases_all, records.size(), merged.rules.size(), write);
}

Result<Resolution> ResolveNow(store::Store& store, const CallerRequest& caller);

}  // namespace

json::array Names(const policy::Schema& s, EnumKind k, policy::Mask m) {
  json::array a;
  for (const auto& n : s.Names(k, m)) a.push_back(json::string(n));
  return a;
}

Status CheckSealedFits(const engine::Engine& engine) {
  // The largest sealed part without cases, records and rules: every role,
  // flag, category and obligation, the longest concern and purpose, a
  // holder's decision (which also seals its outcome).
  const policy::Schema& schema = engine.schema();
  auto longest = [&](EnumKind k) {
    size_t best = 0;
    for (size_t i = 0; i < schema.Values(k).size(); ++i) {
      if (schema.Values(k)[i].size() > schema.Values(k)[best].size()) best = i;
    }
    return best;
  };
  auto all = [&](EnumKind k) { return schema.Values(k).size() >= 64 ? ~policy::Mask{0} : (policy::Mask{1} << schema.Values(k).size()) - 1; };
  Resolution res;
  res.subject.emplace();
  Merged m;
  m.purpose = uint8_t(longest(EnumKind::kPurpose));
  // Every category disclosed (a holder's decision seals them).
  m.disclosed = all(EnumKind::kCategory);
  m.obligations = all(EnumKind::kObligation);
  Evaluation e;
  e.request.roles = all(EnumKind::kRole);
  e.request.flags = all(EnumKind::kFlag);
  e.request.concern = uint8_t(longest(EnumKind::kConcern));
  // Her application choice: the longest recipient the store accepts and its
  // largest number of the longest categories.
  e.request.application_recipient = std::string(store::kMaxRecipientLength, 'x');
  {
    std::vector<size_t> by_length(schema.Values(EnumKind::kCategory).size());
    for (size_t i = 0; i < by_length.size(); ++i) by_length[i] = i;
    std::sort(by_length.begin(), by_length.end(), [&](size_t a, size_t b) {
      return schema.Values(EnumKind::kCategory)[a].size() > schema.Values(EnumKind::kCategory)[b].size();
    });
    for (size_t i = 0; i < by_length.size() && i < store::kMaxChosenCategories; ++i) {
      e.request.chosen_categories |= policy::Mask(1) << by_length[i];
    }
  }
  m.evaluations.push_back(std::move(e));
  auto plain = SealedPart(engine, res, m, std::string(64, 'f'), false);
  if (!plain) {
    return tl::make_unexpected(FailedPrecondition(
        "the schema is too large for a log entry's sealed part: " + plain.error().message()));
  }
  return Ok();
}

Result<Resolution> Resolve(store::Store& store, const CallerRequest& caller) {
  Resolution res;
  // One snapshot: the subject, its cases and its records agree.
  Status st = store.ReadTogether([&]() -> Status {
    FB_ASSIGN_OR_RETURN(res, ResolveNow(store, caller));
    return Ok();
  });
  if (!st) return tl::make_unexpected(st.error());
  return res;
}

namespace {

// Resolve's reads, inside its one snapshot.
Result<Resolution> ResolveNow(store::Store& store, const CallerRequest& caller) {
  Resolution res;
  res.about_no_one = caller.by == CallerRequest::SubjectBy::kNone;
  if (caller.by == CallerRequest::SubjectBy::kReference) {
    FB_ASSIGN_OR_RETURN(res.subject, store.FindSubjectByReference(caller.reference));
    if (!res.subject) res.unresolved = "unknown-reference";
  } else if (caller.by == CallerRequest::SubjectBy::kIdentity) {
    FB_ASSIGN_OR_RETURN(auto matches,
                        store.MatchIdentity(caller.given_name, caller.family_name, caller.date_of_birth));
    if (matches.size() == 1) {
      res.subject = std::move(matches[0]);
    } else {
      res.unresolved = matches.empty() ? "no-identity-match" : "ambiguous-identity";
    }
  }
  if (res.subject) {
    FB_ASSIGN_OR_RETURN(res.cases, store.SubjectCases(res.subject->id));
    FB_ASSIGN_OR_RETURN(res.records, store.SubjectRecords(res.subject->id));
  }
  return res;
}

}  // namespace

Result<Merged> Evaluate(const engine::Engine& engine, const engine::Request& base_in,
                        const Resolution& res, const FieldMap& field_map) {
  const policy::Schema& schema = engine.schema();
  Merged m;
  m.asked = base_in.categories;
  m.purpose = m.declared_purpose = base_in.purpose;
  if (!res.unresolved.empty()) {
    m.withheld = m.asked;
    m.reasons.push_back("the subject could not be resolved in the holder's records");
    return m;
  }
  engine::Request base = base_in;
  if (res.subject) {
    const store::Subject& s = *res.subject;
    engine::SubjectFacts facts;
    for (const std::string& r : s.service_roles) facts.roles.push_back(r);
    for (const std::string& f : s.flags) facts.flags.push_back(f);
    facts.concern = s.concern;
    facts.regularisation_pending = s.regularisation_pending;
    facts.subject_initiated = s.subject_initiated;
    facts.consent_to_ie = s.consent_to_ie;
    for (const store::Participation& p : res.cases) {
      facts.cases.push_back({p.case_type, p.case_status, p.role, {p.case_flags.begin(), p.case_flags.end()}});
    }
    if (s.application) {
      facts.application_recipient = s.application->recipient;
      for (const std::string& c : s.application->categories) facts.chosen_categories.push_back(c);
    }
    FB_RETURN_IF_ERROR(engine::BindSubject(schema, facts, &base));
  } else if (res.about_no_one) {
    engine::BindNoSubject(&base);
  }
  for (const store::Record& r : res.records) {
    policy::Mask cats = 0;
    for (const store::Field& f : r.fields) {
      auto it = field_map.find(f.name);
      if (it == field_map.end()) continue;  // unmapped fields are never disclosed
      int c = schema.Find(EnumKind::kCategory, it->second);
      if (c < 0) return tl::make_unexpected(Internal("field map: `" + it->second + "` is not a category"));
      cats |= policy::Mask(1) << c;
    }
    if (!(cats & m.asked)) continue;
    Evaluation e;
    e.record = &r;
    e.record_categories = cats;
    e.request = base;
    FB_RETURN_IF_ERROR(engine::BindRecord(schema, r.collected_as, r.case_id.empty() ? "" : r.case_type,
                                          r.case_status, &e.request));
    m.evaluations.push_back(std::move(e));
  }
  if (m.evaluations.empty()) {
    Evaluation e;
    e.request = base;
    m.evaluations.push_back(std::move(e));
  }
  for (Evaluation& e : m.evaluations) {
    e.decision = engine.Decide(e.request);
    engine.Explain(e.decision, &e.rules, &e.reasons);
    if (e.decision.permit) {
      m.permit = true;
      m.disclosed |= e.decision.disclosed;
      m.obligations |= e.decision.obligations;
    }
  }
  std::set<std::string> seen_rules, seen_reasons;
  for (const Evaluation& e : m.evaluations) {
    if (m.permit && !e.decision.permit) continue;
    for (const std::string& r : e.rules) {
      if (seen_rules.insert(r).second) m.rules.push_back(r);
    }
    for (const std::string& r : e.reasons) {
      if (seen_reasons.insert(r).second) m.reasons.push_back(r);
    }
  }
  m.withheld = m.asked & ~m.disclosed;
  m.purpose = m.evaluations[0].decision.purpose;
  return m;
}

std::string SubjectPseudonym(const std::string& pseudonym_key, const std::string& reference) {
  return HexEncode(DigestBytes(HmacSha256Once(pseudonym_key, "subject:" + reference)));
}

bool ShadowDiffers(const policy::Schema& ls, const Merged& live, const policy::Schema& ss, const Merged& shadow) {
  return shadow.permit != live.permit ||
         ss.Names(EnumKind::kCategory, shadow.disclosed) != ls.Names(EnumKind::kCategory, live.disclosed) ||
         ss.Names(EnumKind::kObligation, shadow.obligations) != ls.Names(EnumKind::kObligation, live.obligations);
}

Result<std::string> DecisionEntry(const engine::Engine& engine, const CallerRequest& caller,
                                  const Resolution& res, const Merged& merged, bool outward,
                                  const std::string& request_id, const std::string& pseudonym_key,
                                  const entry::AuditKey& audit_key, std::string* pseudonym_out) {
  const policy::Schema& schema = engine.schema();
  std::string pseudonym;
  if (res.subject) {
    pseudonym = SubjectPseudonym(pseudonym_key, res.subject->reference);
  }
  FB_ASSIGN_OR_RETURN(std::string plain, SealedPart(engine, res, merged, pseudonym, outward));
  FB_ASSIGN_OR_RETURN(std::string sealed, entry::SealText(audit_key, request_id, plain));
  // The clear part: only what the requester already knows. Members in
  // canonical order.
  std::string text;
  text.reserve(sealed.size() + 1024);
  entry::CanonicalWriter w(text);
  w.BeginObject();
  w.Key("action");
  w.Value(caller.base.at("action"));
  w.Key("asked");
  WriteNames(w, schema, EnumKind::kCategory, merged.asked);
  w.Key("audit_key");
  w.String(audit_key.id);
  if (outward) {
    // What the requester was told, and nothing the refusal hides.
    w.Key("decision");
    w.String(merged.permit ? "permit" : "deny");
    w.Key("disclosed");
    WriteNames(w, schema, EnumKind::kCategory, merged.disclosed);
  }
  w.Key("endpoint");
  w.String(outward ? "disclosures" : "decisions");
  w.Key("kind");
  w.String("decision");
  w.Key("legal_basis");
  w.Value(caller.base.at("legal_basis"));
  w.Key("policy_hash");
  w.String(engine.policy_hash());
  w.Key("purpose");
  w.String(schema.Values(EnumKind::kPurpose)[merged.declared_purpose]);
  w.Key("request_id");
  w.String(request_id);
  w.Key("requester");
  w.Value(caller.base.at("requester"));
  w.Key("sealed");
  w.String(sealed);
  w.Key("time");
  w.Int(NowSeconds());
  w.Key("v");
  w.Int(entry::kVersion);
  w.EndObject();
  if (pseudonym_out) *pseudonym_out = std::move(pseudonym);
  return text;
}

namespace {

// The answers' JSON is written as text, with no tree (issue 9): the same
// bytes as serialising the tree each answer was built as before
// (render_test.cc keeps those trees and compares, string by string).

// `["a","b"]`: the names of the set bits of `m`, in schema order (as Names).
void AppendNames(const policy::Schema& schema, EnumKind kind, policy::Mask m, std::string* out) {
  const std::vector<std::string>& values = schema.Values(kind);
  out->push_back('[');
  bool first = true;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!(m & (policy::Mask{1} << i))) continue;
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(values[i], out);
  }
  out->push_back(']');
}

void AppendStrings(const std::vector<std::string>& strings, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < strings.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonString(strings[i], out);
  }
  out->push_back(']');
}

// `,"key":"value"` (the key needs no escape).
void AppendMember(std::string_view key, std::string_view value, std::string* out) {
  out->append(",\"");
  out->append(key);
  out->append("\":");
  AppendJsonString(value, out);
}

}  // namespace

std::pair<int, std::string> RenderDisclosure(const engine::Engine& engine, const Merged& merged,
                                             const FieldMap& field_map, const std::string& receipt) {
  const policy::Schema& schema = engine.schema();
  bool granted = merged.permit;
  std::string out;
  out.reserve(512);
  out.append(granted ? "{\"decision\":\"permit\",\"receipt\":" : "{\"decision\":\"refused\",\"receipt\":");
  AppendJsonString(receipt, &out);
  // A refusal lists only what was asked (the requester's own words), so that
  // it reads the same whatever refused it.
  out.append(",\"disclosed\":");
  AppendNames(schema, EnumKind::kCategory, granted ? merged.disclosed : 0, &out);
  out.append(",\"withheld\":");
  AppendNames(schema, EnumKind::kCategory, granted ? merged.withheld : merged.asked, &out);
  out.append(",\"obligations\":");
  AppendNames(schema, EnumKind::kObligation, granted ? merged.obligations : 0, &out);
  out.append(",\"records\":[");
  if (granted) {
    // A record's disclosed fields by name: a name given twice keeps its
    // first place and its last value (as a JSON object's members did).
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    fields.reserve(16);
    bool first_record = true;
    for (const Evaluation& e : merged.evaluations) {
      if (!e.record || !e.decision.permit) continue;
      fields.clear();
      for (const store::Field& f : e.record->fields) {
        auto it = field_map.find(f.name);
        if (it == field_map.end()) continue;
        int c = schema.Find(EnumKind::kCategory, it->second);
        if (c < 0 || !((e.decision.disclosed >> c) & 1)) continue;
        auto same = std::find_if(fields.begin(), fields.end(), [&](const auto& kv) { return kv.first == f.name; });
        if (same != fields.end()) {
          same->second = f.value;
        } else {
          fields.emplace_back(f.name, f.value);
        }
      }
      if (fields.empty()) continue;
      out.append(first_record ? "{\"fields\":{" : ",{\"fields\":{");
      first_record = false;
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i) out.push_back(',');
        AppendJsonString(fields[i].first, &out);
        out.push_back(':');
        AppendJsonString(fields[i].second, &out);
      }
      out.append("}}");
    }
  }
  out.append(granted ? "],\"message\":\"Disclosed as the holder's policy permits; see the obligations.\"}"
                     : "],\"message\":\"No disclosure: the holder's policy does not permit this request.\"}");
  return {granted ? 200 : 403, std::move(out)};
}

std::string RenderDecision(const engine::Engine& engine, const Resolution& res, const Merged& merged,
                           const std::string& receipt, uint64_t index) {
  const policy::Schema& schema = engine.schema();
  const auto& purposes = schema.Values(EnumKind::kPurpose);
  std::string out;
  out.reserve(1024 + 512 * merged.evaluations.size());
  out.append(merged.permit ? "{\"decision\":\"permit\",\"disclosed\":" : "{\"decision\":\"deny\",\"disclosed\":");
  AppendNames(schema, EnumKind::kCategory, merged.disclosed, &out);
  out.append(",\"withheld\":");
  AppendNames(schema, EnumKind::kCategory, merged.withheld, &out);
  out.append(",\"rules\":");
  AppendStrings(merged.rules, &out);
  out.append(",\"reasons\":");
  AppendStrings(merged.reasons, &out);
  out.append(",\"obligations\":");
  AppendNames(schema, EnumKind::kObligation, merged.obligations, &out);
  AppendMember("purpose", purposes[merged.purpose], &out);
  AppendMember("declared_purpose", purposes[merged.declared_purpose], &out);
  AppendMember("policy_hash", engine.policy_hash(), &out);
  AppendMember("receipt", receipt, &out);
  out.append(",\"log_index\":");
  out.append(std::to_string(index));
  out.append(",\"evaluations\":[");
  for (size_t i = 0; i < merged.evaluations.size(); ++i) {
    const Evaluation& e = merged.evaluations[i];
    if (i) out.push_back(',');
    // The engine's own form of the decision (what `firebreak eval` prints),
    // and its record as one more member.
    engine.AppendJson(e.decision, e.request, &out);
    if (!e.record) continue;
    out.pop_back();  // the engine's closing '}'
    const store::Record& r = *e.record;
    out.append(",\"record\":{\"id\":");
    out.append(std::to_string(r.id));
    AppendMember("kind", r.kind, &out);
    AppendMember("collected_as", r.collected_as, &out);
    if (!r.case_id.empty()) {
      AppendMember("case", r.case_id, &out);
      AppendMember("case_type", r.case_type, &out);
      AppendMember("case_status", r.case_status, &out);
    }
    out.append("}}");
  }
  out.push_back(']');
  if (res.subject) {
    out.append(",\"subject\":{\"reference\":");
    AppendJsonString(res.subject->reference, &out);
    out.push_back('}');
  }
  out.push_back('}');
  return out;
}

}  // namespace firebreak::gateway::internal
