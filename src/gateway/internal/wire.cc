#include "gateway/internal/wire.h"

#include <set>

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

const std::set<std::string> kFactKeys = {"roles", "flags", "immigration_concern",
                                         "regularisation_pending", "subject_initiated",
                                         "consent_to_ie", "cases", "id", "pseudonym"};

}  // namespace

// A calendar date YYYY-MM-DD (proleptic Gregorian; 1900-02-29 is not one).
bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  int year = num(0, 4), month = num(5, 2), day = num(8, 2);
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

tl::expected<CallerRequest, Problem> ParseCaller(std::string_view body, const store::Organisation& org) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return tl::make_unexpected(Problem{400, "", "malformed JSON: " + ec.message()});
  if (!v.is_object()) return tl::make_unexpected(Problem{400, "", "the body must be a JSON object"});
  const json::object& o = v.get_object();
  CallerRequest out;
  json::object requester{{"org", org.id}, {"org_type", org.type}};
  static const std::set<std::string> kKeys = {"requester", "purpose", "action", "categories",
                                              "legal_basis", "user_role", "subject", "context",
                                              "record", "request_id"};
  for (const auto& kv : o) {
    std::string key(kv.key());
    if (!kKeys.count(key)) {
      return tl::make_unexpected(Problem{400, key, "unknown field `" + key + "`"});
    }
  }
  if (o.contains("record")) {
    return tl::make_unexpected(
        Problem{400, "record", "the record is bound by the gateway from the holder's store, never by the caller"});
  }
  if (const json::value* r = o.if_contains("requester")) {
    // The identity comes from the credential; a body may only repeat it.
    if (!r->is_object()) return tl::make_unexpected(Problem{400, "requester", "must be an object"});
    for (const auto& kv : r->get_object()) {
      std::string key(kv.key());
      if (key == "org" || key == "org_type") {
        const std::string& mine = key == "org" ? org.id : org.type;
        if (!kv.value().is_string() || kv.value().get_string() != mine) {
          return tl::make_unexpected(Problem{
              403, "requester." + key,
              "the body claims another organisation; the requester is taken from the credential only"});
        }
      } else if (key == "role") {
        return tl::make_unexpected(Problem{400, "requester.role", "give the acting user's role as `user_role`"});
      } else {
        return tl::make_unexpected(Problem{400, "requester." + key, "unknown field `requester." + key + "`"});
      }
    }
  }
  auto need_string = [&](const char* key) -> tl::expected<std::string, Problem> {
    const json::value* x = o.if_contains(key);
    if (!x) return tl::make_unexpected(Problem{400, key, std::string("missing `") + key + "`"});
    if (!x->is_string()) return tl::make_unexpected(Problem{400, key, "must be a string"});
    return std::string(x->get_string());
  };
  for (const char* key : {"purpose", "action", "legal_basis", "user_role"}) {
    auto s = need_string(key);
    if (!s) return tl::make_unexpected(s.error());
    if (std::string_view(key) == "user_role") {
      requester["role"] = *s;
    } else {
      out.base[key] = *s;
    }
  }
  out.base["requester"] = std::move(requester);
  const json::value* cats = o.if_contains("categories");
  if (!cats) return tl::make_unexpected(Problem{400, "categories", "missing `categories`"});
  if (!cats->is_array() || cats->get_array().empty()) {
    return tl::make_unexpected(Problem{400, "categories", "must be a non-empty list of categories"});
  }
  for (const json::value& c : cats->get_array()) {
    if (!c.is_string()) return tl::make_unexpected(Problem{400, "categories", "must be a list of strings"});
    out.categories.emplace_back(c.get_string());
  }
  out.base["categories"] = *cats;
  if (const json::value* ctx = o.if_contains("context")) {
    if (!ctx->is_object()) return tl::make_unexpected(Problem{400, "context", "must be an object"});
    out.base["context"] = *ctx;
  } else {
    out.base["context"] = json::object();
  }
  if (const json::value* id = o.if_contains("request_id")) {
    if (!id->is_string() || id->get_string().size() > 64) {
      return tl::make_unexpected(Problem{400, "request_id", "must be a string of at most 64 characters"});
    }
    out.base["id"] = *id;
  }
  if (const json::value* s = o.if_contains("subject")) {
    if (!s->is_object()) return tl::make_unexpected(Problem{400, "subject", "must be an object"});
    const json::object& so = s->get_object();
    for (const auto& kv : so) {
      std::string key(kv.key());
      if (kFactKeys.count(key)) {
        return tl::make_unexpected(Problem{
            400, "subject." + key,
            "subject facts come from the holder's records, never from the caller; identify the "
            "subject by `reference` or by `given_name`, `family_name` and `date_of_birth`"});
      }
      if (key != "reference" && key != "given_name" && key != "family_name" && key != "date_of_birth") {
        return tl::make_unexpected(Problem{400, "subject." + key, "unknown field `subject." + key + "`"});
      }
      if (!kv.value().is_string() || kv.value().get_string().empty() ||
          kv.value().get_string().size() > 200) {
        return tl::make_unexpected(Problem{400, "subject." + key, "must be a non-empty string"});
      }
    }
    if (so.contains("reference")) {
      if (so.size() != 1) {
        return tl::make_unexpected(Problem{400, "subject", "give either `reference` or identity details, not both"});
      }
      out.by = CallerRequest::SubjectBy::kReference;
      out.reference = std::string(so.at("reference").get_string());
    } else {
      for (const char* key : {"given_name", "family_name", "date_of_birth"}) {
        if (!so.contains(key)) {
          return tl::make_unexpected(Problem{400, std::string("subject.") + key,
                                             std::string("missing `subject.") + key + "`"});
        }
      }
      out.by = CallerRequest::SubjectBy::kIdentity;
      out.given_name = std::string(so.at("given_name").get_string());
      out.family_name = std::string(so.at("family_name").get_string());
      out.date_of_birth = std::string(so.at("date_of_birth").get_string());
      if (!IsDate(out.date_of_birth)) {
        return tl::make_unexpected(
            Problem{400, "subject.date_of_birth", "must be a calendar date YYYY-MM-DD"});
      }
    }
  }
  return out;
}

}  // namespace firebreak::gateway::internal
