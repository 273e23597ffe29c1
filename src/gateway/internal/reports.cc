#include "gateway/internal/reports.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <boost/json.hpp>

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

std::string Fold(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '-' || c == ' ' || c == '.') {
      out += '_';
    } else {
      out += static_cast<char>(std::tolower(u));
    }
  }
  return out;
}

const std::set<std::string>& ExactNames() {
  static const std::set<std::string> names = {
      "visa",          "visa_type",        "visa_status",   "visa_number",  "brp",
      "brp_number",    "share_code",       "uan",           "cid",          "cid_reference",
      "port_reference", "ho_ref",          "ho_reference",  "hoid",         "nino_status",
      "nrpf",          "no_recourse_to_public_funds", "leave", "leave_status", "status_in_uk",
      "citizen",       "citizenship",      "nationality",   "nationalities", "travel_document",
      "travel_documents", "immigration",   "country_of_origin", "birth_country", "euss",
      "pre_settled_status", "bail_reference", "reporting_centre", "detention_reference",
  };
  return names;
}

constexpr const char* kStems[] = {
    "immigration",     "nationality",   "citizenship",   "passport",       "asylum",
    "home_office",     "homeoffice",    "visa_",         "leave_to_remain", "right_to_work",
    "right_to_rent",   "residence_permit", "settled_status", "country_of_birth", "place_of_birth",
    "ethnicity",
};

// Drops every immigration key of `v` (recursively), recording its path.
// An object left empty by the drop counts as dropped too.
void Strip(json::value& v, const std::string& path, std::vector<std::string>& dropped) {
  if (json::object* o = v.if_object()) {
    std::vector<std::string> gone;
    for (auto& kv : *o) {
      std::string key(kv.key());
      std::string sub = path.empty() ? key : path + "." + key;
      if (IsImmigrationField(key)) {
        gone.push_back(key);
        dropped.push_back(sub);
        continue;
      }
      bool had = kv.value().is_object() && !kv.value().get_object().empty();
      Strip(kv.value(), sub, dropped);
      if (had && kv.value().get_object().empty()) gone.push_back(key);
    }
    for (const std::string& k : gone) o->erase(k);
  } else if (json::array* a = v.if_array()) {
    for (size_t i = 0; i < a->size(); ++i) Strip((*a)[i], path + "[" + std::to_string(i) + "]", dropped);
  }
}

struct Allowed {
  const char* key;
  size_t max;
};
constexpr Allowed kPersonFields[] = {
    {"given_name", 200},    {"family_name", 200}, {"date_of_birth", 10}, {"gender", 50},
    {"phone", 50},          {"email", 200},       {"address_line", 300}, {"postcode", 16},
    {"first_language", 100}, {"interpreter", 100},
};
constexpr Allowed kIncidentFields[] = {{"narrative", 20000}, {"injuries", 2000}};

tl::expected<void, Problem> Fields(const json::object& o, const std::string& prefix, const Allowed* allowed,
                                   size_t n, std::vector<store::Field>& out) {
  for (const auto& kv : o) {
    std::string key(kv.key());
    const Allowed* a = std::find_if(allowed, allowed + n, [&](const Allowed& x) { return key == x.key; });
    if (a == allowed + n) {
      return tl::make_unexpected(Problem{400, prefix + key, "unknown field `" + prefix + key + "`"});
    }
    if (!kv.value().is_string()) {
      return tl::make_unexpected(Problem{400, prefix + key, "must be a string"});
    }
    std::string_view s = kv.value().get_string();
    if (s.size() > a->max) {
      return tl::make_unexpected(
          Problem{400, prefix + key, "longer than " + std::to_string(a->max) + " characters"});
    }
    if (s.empty()) continue;
    out.push_back({key, std::string(s)});
  }
  return {};
}

}  // namespace

const std::vector<std::string> kReportOffences = {
    "domestic-abuse", "modern-slavery", "sexual-offence", "harassment-stalking", "assault", "burglary",
    "theft",          "fraud",          "public-order",   "other",
};

bool IsImmigrationField(std::string_view key) {
  std::string k = Fold(key);
  if (ExactNames().count(k)) return true;
  for (const char* stem : kStems) {
    if (k.find(stem) != std::string::npos) return true;
  }
  return false;
}

tl::expected<ReportInput, Problem> ParseReport(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return tl::make_unexpected(Problem{400, "", "the body is not JSON: " + ec.message()});
  if (!v.is_object()) return tl::make_unexpected(Problem{400, "", "the body must be a JSON object"});
  ReportInput out;
  // First of all: what must never be stored is gone.
  Strip(v, "", out.dropped);
  const json::object& o = v.get_object();
  for (const auto& kv : o) {
    std::string key(kv.key());
    if (key != "role" && key != "offence" && key != "person" && key != "incident") {
      return tl::make_unexpected(Problem{400, key, "unknown field `" + key + "`"});
    }
  }
  const json::value* role = o.if_contains("role");
  if (!role) return tl::make_unexpected(Problem{400, "role", "missing `role`: `victim` or `witness`"});
  if (!role->is_string() || (role->get_string() != "victim" && role->get_string() != "witness")) {
    return tl::make_unexpected(Problem{400, "role", "must be `victim` or `witness`"});
  }
  out.role = std::string(role->get_string());
  const json::value* offence = o.if_contains("offence");
  if (!offence) return tl::make_unexpected(Problem{400, "offence", "missing `offence`"});
  if (!offence->is_string() ||
      std::find(kReportOffences.begin(), kReportOffences.end(), std::string(offence->get_string())) ==
          kReportOffences.end()) {
    std::string list;
    for (const std::string& s : kReportOffences) list += (list.empty() ? "" : ", ") + s;
    return tl::make_unexpected(Problem{400, "offence", "must be one of: " + list});
  }
  out.offence = std::string(offence->get_string());
  const json::value* person = o.if_contains("person");
  if (!person) return tl::make_unexpected(Problem{400, "person", "missing `person`"});
  if (!person->is_object()) return tl::make_unexpected(Problem{400, "person", "must be an object"});
  auto pf = Fields(person->get_object(), "person.", kPersonFields, std::size(kPersonFields), out.fields);
  if (!pf) return tl::make_unexpected(pf.error());
  for (const store::Field& f : out.fields) {
    if (f.name == "given_name") out.given_name = f.value;
    if (f.name == "family_name") out.family_name = f.value;
    if (f.name == "date_of_birth") out.date_of_birth = f.value;
  }
  if (out.given_name.empty()) return tl::make_unexpected(Problem{400, "person.given_name", "missing `person.given_name`"});
  if (out.family_name.empty()) {
    return tl::make_unexpected(Problem{400, "person.family_name", "missing `person.family_name`"});
  }
  if (!out.date_of_birth.empty() && !IsDate(out.date_of_birth)) {
    return tl::make_unexpected(Problem{400, "person.date_of_birth", "must be a calendar date YYYY-MM-DD"});
  }
  if (const json::value* incident = o.if_contains("incident")) {
    if (!incident->is_object()) return tl::make_unexpected(Problem{400, "incident", "must be an object"});
    auto inf = Fields(incident->get_object(), "incident.", kIncidentFields, std::size(kIncidentFields), out.fields);
    if (!inf) return tl::make_unexpected(inf.error());
  }
  return out;
}

bool RateLimiter::Allow(const std::string& key, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh) {
    double secs = std::chrono::duration<double>(now - b.at).count();
    if (secs > 0) b.tokens = std::min(burst_, b.tokens + secs * rate_);
    b.at = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

Status GroupCommitter::Commit(const std::function<Status()>& body) {
  Waiter me{&body};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.done) {
    if (leading_) {
      cv_.wait(lock);
      continue;
    }
    // Lead: commit everything queued so far, then hand over.
    leading_ = true;
    std::vector<Waiter*> batch;
    batch.swap(queue_);
    lock.unlock();
    Status all = store_.BulkDurable([&]() -> Status {
      for (Waiter* w : batch) FB_RETURN_IF_ERROR((*w->body)());
      return Ok();
    });
    if (all || batch.size() == 1) {
      for (Waiter* w : batch) w->result = all;
    } else {
      for (Waiter* w : batch) w->result = store_.BulkDurable(*w->body);
    }
    lock.lock();
    for (Waiter* w : batch) w->done = true;
    leading_ = false;
    cv_.notify_all();
  }
  return me.result;
}

}  // namespace firebreak::gateway::internal
