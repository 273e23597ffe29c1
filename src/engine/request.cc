#include "engine/request.h"

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "policy/checker.h"
#include "policy/parser.h"

namespace firebreak::engine {
namespace json = boost::json;
using policy::EnumKind;
using policy::Schema;
using policy::ValueType;

namespace {

class Reader {
 public:
  explicit Reader(const Schema& schema) : schema_(schema) {}

  tl::expected<Request, FieldError> Read(const json::value& v) {
    Request r;
    if (!Object(v, "request", [&](const json::object& o) { ReadTop(o, r); })) return Fail();
    if (error_) return Fail();
    return r;
  }

 private:
  tl::unexpected<FieldError> Fail() { return tl::make_unexpected(*error_); }

  void Set(std::string path, std::string message) {
    if (!error_) error_ = FieldError{std::move(path), std::move(message)};
  }

  template <class F>
  bool Object(const json::value& v, const std::string& path, F&& f) {
    if (!v.is_object()) {
      Set(path, "expected a JSON object");
      return false;
    }
    f(v.get_object());
    return true;
  }

  // Rejects keys outside `allowed`.
  void CheckKeys(const json::object& o, const std::string& path,
                 std::initializer_list<std::string_view> allowed) {
    for (const auto& kv : o) {
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || kv.key() == a;
      if (!ok) {
        std::string list;
        for (std::string_view a : allowed) list += std::string(list.empty() ? "" : ", ") + std::string(a);
        Set(Join(path, kv.key()), fmt::format("unknown field (expected one of: {})", list));
      }
    }
  }

  static std::string Join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  const json::value* Need(const json::object& o, const std::string& path, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end()) {
      Set(Join(path, key), "missing required field");
      return nullptr;
    }
    return &it->value();
  }

  uint8_t Enum(const json::value* v, const std::string& path, EnumKind k) {
    if (!v) return 0;
    if (!v->is_string()) {
      Set(path, fmt::format("expected a {} as a string", policy::EnumKindName(k)));
      return 0;
    }
    std::string_view s = v->get_string();
    int idx = schema_.Find(k, s);
    if (idx < 0) {
      std::string hint = policy::Suggest(s, schema_.Values(k));
      Set(path, fmt::format("`{}` is not a {} in schema `{}`{}", s, policy::EnumKindName(k),
                            schema_.name, hint.empty() ? "" : fmt::format("; did you mean `{}`?", hint)));
      return 0;
    }
    return static_cast<uint8_t>(idx);
  }

  Mask EnumSet(const json::value* v, const std::string& path, EnumKind k) {
    if (!v) return 0;
    if (!v->is_array()) {
      Set(path, fmt::format("expected an array of {} values", policy::EnumKindName(k)));
      return 0;
    }
    Mask m = 0;
    const json::array& a = v->get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      m |= Mask{1} << Enum(&a[i], fmt::format("{}[{}]", path, i), k);
    }
    return m;
  }

  bool Bool(const json::value* v, const std::string& path) {
    if (!v) return false;
    if (!v->is_bool()) {
      Set(path, "expected true or false");
      return false;
    }
    return v->get_bool();
  }

  std::string String(const json::value* v, const std::string& path) {
    if (!v) return {};
    if (!v->is_string()) {
      Set(path, "expected a string");
      return {};
    }
    return std::string(v->get_string());
  }

  void ReadTop(const json::object& o, Request& r) {
    CheckKeys(o, "", {"id", "requester", "purpose", "action", "categories", "legal_basis",
                      "subject", "record", "context"});
    if (auto it = o.find("id"); it != o.end()) r.id = String(&it->value(), "id");
    if (const json::value* req = Need(o, "", "requester")) {
      Object(*req, "requester", [&](const json::object& q) {
        CheckKeys(q, "requester", {"org", "org_type", "role"});
        r.org = String(Need(q, "requester", "org"), "requester.org");
        r.org_type = Enum(Need(q, "requester", "org_type"), "requester.org_type", EnumKind::kOrgType);
        r.user_role = Enum(Need(q, "requester", "role"), "requester.role", EnumKind::kUserRole);
      });
    }
    r.purpose = Enum(Need(o, "", "purpose"), "purpose", EnumKind::kPurpose);
    r.action = Enum(Need(o, "", "action"), "action", EnumKind::kAction);
    r.categories = EnumSet(Need(o, "", "categories"), "categories", EnumKind::kCategory);
    r.legal_basis = Enum(Need(o, "", "legal_basis"), "legal_basis", EnumKind::kLegalBasis);
    if (auto it = o.find("subject"); it != o.end() && !it->value().is_null()) {
      if (it->value().is_string()) {
        // "none": the request is about no person (statistics). Without a
        // `subject` the subject is unknown: it could not be resolved.
        if (it->value().get_string() != "none") {
          Set("subject", "expected a subject object, or \"none\" for a request about no person");
        } else {
          r.no_subject = true;
        }
      } else {
        r.has_subject = true;
        Object(it->value(), "subject", [&](const json::object& s) { ReadSubject(s, r); });
      }
    }
    if (auto it = o.find("record"); it != o.end() && !it->value().is_null()) {
      r.has_record = true;
      Object(it->value(), "record", [&](const json::object& s) { ReadRecord(s, r); });
    }
    r.context.resize(schema_.context.size());
    const json::object* ctx = nullptr;
    if (auto it = o.find("context"); it != o.end() && !it->value().is_null()) {
      if (!it->value().is_object()) {
        Set("context", "expected a JSON object");
      } else {
        ctx = &it->value().get_object();
      }
    }
    ReadContext(ctx, r);
  }

  void ReadSubject(const json::object& s, Request& r) {
    const std::string p = "subject";
    CheckKeys(s, p, {"roles", "flags", "immigration_concern", "regularisation_pending",
                     "subject_initiated", "consent_to_ie", "cases", "application"});
    if (auto it = s.find("application"); it != s.end() && !it->value().is_null()) {
      Object(it->value(), "subject.application", [&](const json::object& a) {
        CheckKeys(a, "subject.application", {"recipient", "categories"});
        r.application_recipient = String(Need(a, "subject.application", "recipient"), "subject.application.recipient");
        if (r.application_recipient.empty()) Set("subject.application.recipient", "must not be empty");
        r.chosen_categories = EnumSet(Need(a, "subject.application", "categories"),
                                      "subject.application.categories", EnumKind::kCategory);
      });
    }
    r.roles = EnumSet(Need(s, p, "roles"), "subject.roles", EnumKind::kRole);
    r.flags = EnumSet(Need(s, p, "flags"), "subject.flags", EnumKind::kFlag);
    r.concern = Enum(Need(s, p, "immigration_concern"), "subject.immigration_concern", EnumKind::kConcern);
    r.regularisation_pending = Bool(Need(s, p, "regularisation_pending"), "subject.regularisation_pending");
    r.subject_initiated = Bool(Need(s, p, "subject_initiated"), "subject.subject_initiated");
    r.consent_to_ie = Bool(Need(s, p, "consent_to_ie"), "subject.consent_to_ie");
    const json::value* cases = Need(s, p, "cases");
    if (!cases) return;
    if (!cases->is_array()) {
      Set("subject.cases", "expected an array of cases");
      return;
    }
    const json::array& a = cases->get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      std::string cp = fmt::format("subject.cases[{}]", i);
      CaseFacts c;
      Object(a[i], cp, [&](const json::object& co) {
        CheckKeys(co, cp, {"type", "status", "role", "flags"});
        c.type = Enum(Need(co, cp, "type"), cp + ".type", EnumKind::kCaseType);
        c.status = Enum(Need(co, cp, "status"), cp + ".status", EnumKind::kCaseStatus);
        c.role = Enum(Need(co, cp, "role"), cp + ".role", EnumKind::kRole);
        // Optional: a case without flags may leave the key out.
        if (auto it = co.find("flags"); it != co.end()) c.flags = EnumSet(&it->value(), cp + ".flags", EnumKind::kFlag);
      });
      r.roles |= Mask{1} << c.role;
      r.cases.push_back(c);
    }
  }

  void ReadRecord(const json::object& s, Request& r) {
    CheckKeys(s, "record", {"collected_as", "case"});
    r.collected_as = Enum(Need(s, "record", "collected_as"), "record.collected_as", EnumKind::kRole);
    if (auto it = s.find("case"); it != s.end() && !it->value().is_null()) {
      r.has_record_case = true;
      Object(it->value(), "record.case", [&](const json::object& c) {
        CheckKeys(c, "record.case", {"type", "status"});
        r.record_case_type = Enum(Need(c, "record.case", "type"), "record.case.type", EnumKind::kCaseType);
        r.record_case_status =
            Enum(Need(c, "record.case", "status"), "record.case.status", EnumKind::kCaseStatus);
      });
    }
  }

  void ReadContext(const json::object* ctx, Request& r) {
    if (ctx) {
      for (const auto& kv : *ctx) {
        if (schema_.FindContext(kv.key()) < 0) {
          std::vector<std::string> names;
          for (const auto& v : schema_.context) names.push_back(v.name);
          std::string hint = policy::Suggest(kv.key(), names);
          Set(Join("context", kv.key()),
              fmt::format("not declared in schema `{}`{}", schema_.name,
                          hint.empty() ? "" : fmt::format("; did you mean `{}`?", hint)));
        }
      }
    }
    for (size_t i = 0; i < schema_.context.size(); ++i) {
      const policy::ContextVar& var = schema_.context[i];
      std::string path = "context." + var.name;
      const json::value* v = nullptr;
      if (ctx) {
        if (auto it = ctx->find(var.name); it != ctx->end() && !it->value().is_null()) v = &it->value();
      }
      if (!v) {
        if (var.required) Set(path, "missing required context value");
        continue;
      }
      ContextValue& cv = r.context[i];
      cv.present = true;
      switch (var.type) {
        case ValueType::kBool: cv.boolean = Bool(v, path); break;
        case ValueType::kInt:
          if (!v->is_int64()) Set(path, "expected an integer");
          else cv.number = v->get_int64();
          break;
        case ValueType::kTimestamp: {
          std::string s = String(v, path);
          if (!error_ && !policy::ParseTimestamp(s, &cv.number)) {
            Set(path, "expected a UTC timestamp such as \"2024-03-08T12:00:00Z\"");
          }
          break;
        }
        case ValueType::kId: cv.id = String(v, path); break;
        case ValueType::kEnum: cv.mask = Mask{1} << Enum(v, path, var.kind); break;
        case ValueType::kEnumSet: cv.mask = EnumSet(v, path, var.kind); break;
      }
    }
  }

  const Schema& schema_;
  std::optional<FieldError> error_;
};

json::array Names(const Schema& s, EnumKind k, Mask m) {
  json::array a;
  for (const std::string& n : s.Names(k, m)) a.emplace_back(n);
  return a;
}

}  // namespace

tl::expected<Request, FieldError> ReadRequest(const json::value& v, const Schema& schema) {
  return Reader(schema).Read(v);
}

Result<Request> ParseRequest(const json::value& v, const Schema& schema) {
  auto r = ReadRequest(v, schema);
  if (!r) {
    const FieldError& e = r.error();
    return tl::make_unexpected(InvalidArgument(e.path.empty() ? e.message : e.path + ": " + e.message));
  }
  return std::move(*r);
}

Result<Request> ParseRequestText(std::string_view text, const Schema& schema) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return tl::make_unexpected(InvalidArgument("malformed JSON: " + ec.message()));
  return ParseRequest(v, schema);
}

json::object RequestToJson(const Request& r, const Schema& s) {
  auto name = [&](EnumKind k, uint8_t i) { return json::string(s.Values(k)[i]); };
  json::object o;
  if (!r.id.empty()) o["id"] = r.id;
  o["requester"] = {{"org", r.org},
                    {"org_type", name(EnumKind::kOrgType, r.org_type)},
                    {"role", name(EnumKind::kUserRole, r.user_role)}};
  o["purpose"] = name(EnumKind::kPurpose, r.purpose);
  o["action"] = name(EnumKind::kAction, r.action);
  o["categories"] = Names(s, EnumKind::kCategory, r.categories);
  o["legal_basis"] = name(EnumKind::kLegalBasis, r.legal_basis);
  if (r.has_subject) {
    json::array cases;
    for (const CaseFacts& c : r.cases) {
      json::object co{{"type", name(EnumKind::kCaseType, c.type)},
                       {"status", name(EnumKind::kCaseStatus, c.status)},
                       {"role", name(EnumKind::kRole, c.role)}};
      if (c.flags) co["flags"] = Names(s, EnumKind::kFlag, c.flags);
      cases.push_back(std::move(co));
    }
    o["subject"] = {{"roles", Names(s, EnumKind::kRole, r.roles)},
                    {"flags", Names(s, EnumKind::kFlag, r.flags)},
                    {"immigration_concern", name(EnumKind::kConcern, r.concern)},
                    {"regularisation_pending", r.regularisation_pending},
                    {"subject_initiated", r.subject_initiated},
                    {"consent_to_ie", r.consent_to_ie},
                    {"cases", std::move(cases)}};
    if (!r.application_recipient.empty()) {
      o["subject"].as_object()["application"] = {
          {"recipient", r.application_recipient},
          {"categories", Names(s, EnumKind::kCategory, r.chosen_categories)}};
    }
  } else if (r.no_subject) {
    o["subject"] = "none";
  }
  if (r.has_record) {
    json::object rec{{"collected_as", name(EnumKind::kRole, r.collected_as)}};
    if (r.has_record_case) {
      rec["case"] = {{"type", name(EnumKind::kCaseType, r.record_case_type)},
                     {"status", name(EnumKind::kCaseStatus, r.record_case_status)}};
    }
    o["record"] = std::move(rec);
  }
  json::object ctx;
  for (size_t i = 0; i < s.context.size() && i < r.context.size(); ++i) {
    const ContextValue& cv = r.context[i];
    if (!cv.present) continue;
    const policy::ContextVar& var = s.context[i];
    switch (var.type) {
      case ValueType::kBool: ctx[var.name] = cv.boolean; break;
      case ValueType::kInt: ctx[var.name] = cv.number; break;
      case ValueType::kTimestamp: ctx[var.name] = policy::FormatTimestamp(cv.number, false); break;
      case ValueType::kId: ctx[var.name] = cv.id; break;
      case ValueType::kEnum: ctx[var.name] = name(var.kind, uint8_t(__builtin_ctzll(cv.mask))); break;
      case ValueType::kEnumSet: ctx[var.name] = Names(s, var.kind, cv.mask); break;
    }
  }
  o["context"] = std::move(ctx);
  return o;
}

}  // namespace firebreak::engine
