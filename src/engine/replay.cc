#include "engine/replay.h"

#include <set>

#include <fmt/format.h>

#include "engine/facts.h"

namespace firebreak::engine {
namespace {

namespace json = boost::json;
using policy::EnumKind;
using policy::Mask;

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->get_array() : nullptr;
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::vector<std::string> Strings(const json::array* a) {
  std::vector<std::string> out;
  if (!a) return out;
  for (const json::value& v : *a) {
    if (v.is_string()) out.emplace_back(v.get_string());
  }
  return out;
}

}  // namespace

uint8_t EntryReader::One(EnumKind k, std::string_view field, std::string_view value) {
  int i = s_.Find(k, value);
  if (i < 0) {
    Fail(fmt::format("its {} `{}` is not a {} of the pack's schema", field, value, policy::EnumKindName(k)));
    return 0;
  }
  return uint8_t(i);
}

Mask EntryReader::Set(EnumKind k, std::string_view field, const json::array* names) {
  Mask m = 0;
  if (!names) return m;
  for (const json::value& v : *names) {
    if (!v.is_string()) {
      Fail(fmt::format("its {} holds a value that is not a name", field));
      continue;
    }
    m |= Mask(1) << One(k, field, v.get_string());
  }
  return m;
}

Request RebuildRequest(const policy::Schema& schema, const json::object& e, const json::object& sealed,
                       EntryReader& rd) {
  Request r;
  const json::value* req = e.if_contains("requester");
  if (req && req->is_object()) {
    const json::object& q = req->get_object();
    r.org = std::string(Str(q, "org"));
    r.org_type = rd.One(EnumKind::kOrgType, "requester type", Str(q, "org_type"));
    r.user_role = rd.One(EnumKind::kUserRole, "requester role", Str(q, "role"));
  } else {
    rd.Fail("it names no requester");
  }
  r.id = std::string(Str(e, "request_id"));
  r.purpose = rd.One(EnumKind::kPurpose, "purpose", Str(e, "purpose"));
  r.action = rd.One(EnumKind::kAction, "action", Str(e, "action"));
  r.legal_basis = rd.One(EnumKind::kLegalBasis, "legal basis", Str(e, "legal_basis"));
  r.categories = rd.Set(EnumKind::kCategory, "categories asked", Arr(e, "asked"));
  r.context.resize(schema.context.size());
  const json::value* subject = sealed.if_contains("subject");
  if (subject && subject->is_string()) {
    std::vector<std::string> roles = Strings(Arr(sealed, "roles"));
    std::vector<std::string> flags = Strings(Arr(sealed, "flags"));
    std::vector<std::vector<std::string>> case_flags;  // owns what f.cases views
    std::vector<std::string> chosen;
    SubjectFacts f;
    for (const std::string& x : roles) f.roles.push_back(x);
    for (const std::string& x : flags) f.flags.push_back(x);
    f.concern = Str(sealed, "immigration_concern");
    f.regularisation_pending = Bool(sealed, "regularisation_pending");
    f.subject_initiated = Bool(sealed, "subject_initiated");
    f.consent_to_ie = Bool(sealed, "consent_to_ie");
    if (const json::array* cases = Arr(sealed, "cases")) {
      case_flags.reserve(cases->size());
      for (const json::value& c : *cases) {
        if (!c.is_object()) continue;
        const json::object& co = c.get_object();
        case_flags.push_back(Strings(Arr(co, "flags")));
        CaseCodes cc{Str(co, "type"), Str(co, "status"), Str(co, "role"), {}};
        for (const std::string& fl : case_flags.back()) cc.flags.push_back(fl);
        f.cases.push_back(std::move(cc));
      }
    }
    if (const json::value* a = sealed.if_contains("application"); a && a->is_object()) {
      f.application_recipient = Str(a->get_object(), "recipient");
      chosen = Strings(Arr(a->get_object(), "categories"));
      for (const std::string& c : chosen) f.chosen_categories.push_back(c);
    }
    if (auto st = BindSubject(schema, f, &r); !st) rd.Fail("its subject's facts: " + st.error().message());
  } else if (const json::value* none = sealed.if_contains("subject_none"); none && none->is_bool() && none->get_bool()) {
    BindNoSubject(&r);
  }
  return r;
}

Redecision Redecide(const Engine& engine, const json::object& e) {
  Redecision out;
  const json::value* opened_v = e.if_contains("opened");
  if (!opened_v || !opened_v->is_object()) {
    out.problem = "its sealed part could not be opened";
    return out;
  }
  const json::object& sealed = opened_v->get_object();
  const policy::Schema& schema = engine.schema();
  EntryReader rd(schema);
  Request base = RebuildRequest(schema, e, sealed, rd);
  if (!rd.problem().empty()) {
    out.problem = "the entry cannot be replayed: " + rd.problem();
    return out;
  }
  if (const json::value* subject = sealed.if_contains("subject"); subject && subject->is_null()) {
    out.kind = Redecision::Kind::kUnresolved;
    return out;
  }
  std::vector<Request> requests;
  if (const json::array* records = Arr(sealed, "records"); records && !records->empty()) {
    for (const json::value& v : *records) {
      if (!v.is_object()) {
        out.problem = "the entry cannot be replayed: a record's line is not an object";
        return out;
      }
      const json::object& rec = v.get_object();
      Request r = base;
      if (auto st = BindRecord(schema, Str(rec, "collected_as"), Str(rec, "case_type"), Str(rec, "case_status"), &r);
          !st) {
        out.problem = "the entry cannot be replayed: a record's provenance: " + st.error().message();
        return out;
      }
      requests.push_back(std::move(r));
    }
  } else {
    requests.push_back(std::move(base));
  }
  std::vector<Decision> decisions;
  decisions.reserve(requests.size());
  for (const Request& r : requests) {
    decisions.push_back(engine.Decide(r));
    if (decisions.back().permit) {
      out.permit = true;
      out.disclosed |= decisions.back().disclosed;
      out.obligations |= decisions.back().obligations;
    }
  }
  std::set<std::string> seen;
  for (const Decision& d : decisions) {
    if (out.permit && !d.permit) continue;
    std::vector<std::string> r;
    engine.Explain(d, &r, nullptr);
    for (std::string& x : r) {
      if (seen.insert(x).second) out.rules.push_back(std::move(x));
    }
  }
  out.kind = Redecision::Kind::kDecided;
  return out;
}

}  // namespace firebreak::engine
