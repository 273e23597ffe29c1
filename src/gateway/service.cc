// The gateway's application logic (see internal/service.h and docs/api.md).
#include "gateway/internal/service.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <tuple>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/tiles.h"
#include "policy/policy.h"
#include "verify/verify.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;
using engine::Decision;
using engine::Engine;
using policy::EnumKind;


int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

HttpResponse JsonResponse(int status, const json::value& body) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(body);
  r.body += '\n';
  return r;
}

// A client error: status, the field at fault (may be empty) and what is wrong.
struct Problem {
  int status = 400;
  std::string field;
  std::string message;
};

HttpResponse ProblemResponse(const Problem& p) {
  json::object e{{"status", p.status}, {"message", p.message}};
  if (!p.field.empty()) e["field"] = p.field;
  return JsonResponse(p.status, json::object{{"error", std::move(e)}});
}

// What a caller may say: the request, never the facts.
struct CallerRequest {
  json::object base;  // the wire form of DESIGN §2 without subject and record
  enum class SubjectBy { kNone, kReference, kIdentity } by = SubjectBy::kNone;
  std::string reference, given_name, family_name, date_of_birth;
  std::vector<std::string> categories;
};

const std::set<std::string> kFactKeys = {"roles", "flags", "immigration_concern",
                                         "regularisation_pending", "subject_initiated",
                                         "consent_to_ie", "cases", "id", "pseudonym"};

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

// Maps the engine's field path back to the caller's vocabulary.
Problem EngineProblem(const Error& e) {
  const std::string& m = e.message();
  size_t colon = m.find(": ");
  std::string field = colon == std::string::npos ? "" : m.substr(0, colon);
  std::string message = colon == std::string::npos ? m : m.substr(colon + 2);
  if (field == "requester.role") field = "user_role";
  return Problem{400, field, message};
}

// The subject's facts as the wire form's `subject` object.
json::object SubjectFacts(const store::Subject& s, const std::vector<store::Participation>& cases) {
  std::set<std::string> roles(s.service_roles.begin(), s.service_roles.end());
  json::array case_list;
  for (const auto& p : cases) {
    roles.insert(p.role);
    case_list.push_back(json::object{{"type", p.case_type}, {"status", p.case_status}, {"role", p.role}});
  }
  json::array role_list, flag_list;
  for (const auto& r : roles) role_list.push_back(json::string(r));
  for (const auto& f : s.flags) {
    if (!f.empty()) flag_list.push_back(json::string(f));
  }
  return json::object{{"roles", std::move(role_list)},
                      {"flags", std::move(flag_list)},
                      {"immigration_concern", s.concern},
                      {"regularisation_pending", s.regularisation_pending},
                      {"subject_initiated", s.subject_initiated},
                      {"consent_to_ie", s.consent_to_ie},
                      {"cases", std::move(case_list)}};
}

// One evaluation: a source record (or none) and the decision on it.
struct Evaluation {
  const store::Record* record = nullptr;
  policy::Mask record_categories = 0;
  engine::Request request;
  Decision decision;
  json::object json;  // Engine::ToJson
};

struct Merged {
  bool permit = false;
  policy::Mask asked = 0, disclosed = 0, withheld = 0, obligations = 0;
  std::vector<Evaluation> evaluations;
  std::vector<std::string> rules, reasons;
  std::string purpose, declared_purpose;
};

// Decides `base` (with subject facts, without record) once per record that
// holds an asked-for category (provenance, DESIGN §2), or once without a
// record when none does, and merges: permit if any evaluation permits;
// disclosed = union of what the permitting evaluations disclose.
Result<Merged> Evaluate(const Engine& engine, const json::object& base,
                        const std::vector<store::Record>& records,
                        const std::map<std::string, std::string>& field_map) {
  const policy::Schema& schema = engine.schema();
  auto parsed = engine::ParseRequest(base, schema);
  if (!parsed) return tl::make_unexpected(parsed.error());
  Merged m;
  m.asked = parsed->categories;
  for (const store::Record& r : records) {
    policy::Mask cats = 0;
    for (const store::Field& f : r.fields) {
      auto it = field_map.find(f.name);
      if (it == field_map.end()) continue;  // unmapped fields are never disclosed
      int c = schema.Find(EnumKind::kCategory, it->second);
      if (c < 0) {
        return tl::make_unexpected(Internal("field map: `" + it->second + "` is not a category"));
      }
      cats |= policy::Mask(1) << c;
    }
    if (!(cats & m.asked)) continue;
    Evaluation e;
    e.record = &r;
    e.record_categories = cats;
    e.request = *parsed;
    e.request.has_record = true;
    int role = schema.Find(EnumKind::kRole, r.collected_as);
    if (role < 0) return tl::make_unexpected(Internal("record " + std::to_string(r.id) + ": unknown role"));
    e.request.collected_as = uint8_t(role);
    if (!r.case_id.empty()) {
      int type = schema.Find(EnumKind::kCaseType, r.case_type);
      int status = schema.Find(EnumKind::kCaseStatus, r.case_status);
      if (type < 0 || status < 0) {
        return tl::make_unexpected(Internal("record " + std::to_string(r.id) + ": unknown case type or status"));
      }
      e.request.has_record_case = true;
      e.request.record_case_type = uint8_t(type);
      e.request.record_case_status = uint8_t(status);
    }
    m.evaluations.push_back(std::move(e));
  }
  if (m.evaluations.empty()) {
    Evaluation e;
    e.request = *parsed;
    m.evaluations.push_back(std::move(e));
  }
  std::set<std::string> seen_rules, seen_reasons;
  for (Evaluation& e : m.evaluations) {
    e.decision = engine.Decide(e.request);
    e.json = engine.ToJson(e.decision, e.request);
    if (e.decision.permit) {
      m.permit = true;
      m.disclosed |= e.decision.disclosed;
      m.obligations |= e.decision.obligations;
    }
  }
  for (const Evaluation& e : m.evaluations) {
    if (m.permit && !e.decision.permit) continue;
    for (const auto& r : e.json.at("rules").as_array()) {
      std::string s(r.as_string());
      if (seen_rules.insert(s).second) m.rules.push_back(s);
    }
    for (const auto& r : e.json.at("reasons").as_array()) {
      std::string s(r.as_string());
      if (seen_reasons.insert(s).second) m.reasons.push_back(s);
    }
  }
  m.withheld = m.asked & ~m.disclosed;
  m.purpose = std::string(m.evaluations[0].json.at("purpose").as_string());
  m.declared_purpose = std::string(m.evaluations[0].json.at("declared_purpose").as_string());
  return m;
}

json::array Names(const policy::Schema& s, EnumKind k, policy::Mask m) {
  json::array a;
  for (const auto& n : s.Names(k, m)) a.push_back(json::string(n));
  return a;
}

// "sha256:<hex>" of an item's canonical text: a firewall rule's pin hash,
// and the same for guarantees (RequiredPolicy).
std::string ContentHash(const std::string& canonical) {
  return "sha256:" + HexEncode(DigestBytes(Sha256(canonical)));
}

// Every firewall rule and guarantee of `set`, by content hash.
RequiredPolicy RequiredOf(const policy::PolicySet& set) {
  RequiredPolicy r;
  for (const policy::Rule& rule : set.rules) {
    if (rule.kind == policy::RuleKind::kFirewall) r.firewall_rules[rule.name] = ContentHash(rule.canonical);
  }
  for (const policy::Guarantee& g : set.guarantees) r.guarantees[g.name] = ContentHash(g.canonical);
  return r;
}

// A policy that loaded (or not) and what the deployment gate checked.
struct Candidate {
  std::shared_ptr<const Engine> engine;
  std::vector<std::string> pins_checked, guarantees_proved;
};

// Loads `packs` and checks what a deployment requires: the set type-checks;
// it holds every required firewall rule and guarantee unchanged; every
// required guarantee (and, with `gate`, every guarantee of the set) is
// proved. `required` null: nothing is required (the shadow candidate).
Result<Candidate> LoadCandidate(const std::vector<std::string>& packs, bool gate,
                                const RequiredPolicy* required) {
  if (packs.empty()) return tl::make_unexpected(InvalidArgument("no policy packs given"));
  FB_ASSIGN_OR_RETURN(policy::LoadedPolicy loaded, policy::LoadPolicySet(packs));
  if (!loaded.ok()) {
    return tl::make_unexpected(FailedPrecondition("the policy does not check:\n" + loaded.Render()));
  }
  Candidate c;
  if (required) {
    RequiredPolicy has = RequiredOf(*loaded.set);
    for (const auto& [what, want, got] :
         {std::tuple{"firewall rule", &required->firewall_rules, &has.firewall_rules},
          std::tuple{"guarantee", &required->guarantees, &has.guarantees}}) {
      for (const auto& [name, hash] : *want) {
        auto it = got->find(name);
        if (it == got->end()) {
          return tl::make_unexpected(FailedPrecondition(
              fmt::format("the required {} `{}` is missing from the policy", what, name)));
        }
        if (it->second != hash) {
          return tl::make_unexpected(FailedPrecondition(fmt::format(
              "the required {} `{}` was altered: its hash is {}, the deployment requires {}", what,
              name, it->second, hash)));
        }
      }
    }
    for (const auto& [name, hash] : required->firewall_rules) c.pins_checked.push_back(name);
  }
  if (gate || (required && !required->guarantees.empty())) {
    FB_ASSIGN_OR_RETURN(verify::VerifyReport report, verify::VerifyGuarantees(loaded.set));
    std::vector<std::string> failed;
    for (const verify::GuaranteeResult& g : report.guarantees) {
      if (g.outcome == verify::Outcome::kProved) {
        c.guarantees_proved.push_back(g.name);
      } else if (gate || required->guarantees.count(g.name)) {
        failed.push_back(fmt::format("{} ({})", g.name, verify::OutcomeName(g.outcome)));
      }
    }
    if (!failed.empty()) {
      return tl::make_unexpected(FailedPrecondition(
          fmt::format("the policy is not deployable: guarantees not proved: {}", fmt::join(failed, ", "))));
    }
  }
  c.engine = Engine::Compile(loaded.set);
  return c;
}

// Refuses to start on a secret or personal-data file that its group or
// others may read (or write).
Status CheckPrivate(const std::string& path, const char* what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return tl::make_unexpected(IoError(fmt::format("{} {}: {}", what, path, std::strerror(errno))));
  }
  if (st.st_mode & 077) {
    return tl::make_unexpected(FailedPrecondition(fmt::format(
        "{} {} is readable by others (mode {:04o}); make it private: chmod 600 {}", what, path,
        st.st_mode & 07777, path)));
  }
  return Ok();
}

void AccessLog(const json::object& line) {
  std::string s = json::serialize(line);
  s += '\n';
  std::fwrite(s.data(), 1, s.size(), stderr);
}

std::string RouteOf(const std::string& path) {
  if (path.rfind("/v1/receipts/", 0) == 0) return "/v1/receipts/{id}";
  if (path.rfind("/log/tile/", 0) == 0) return "/log/tile/{path}";
  static const std::set<std::string> kRoutes = {"/v1/disclosures", "/v1/decisions", "/log/checkpoint",
                                                "/admin/reload", "/healthz", "/readyz", "/metrics"};
  return kRoutes.count(path) ? path : "other";
}

// The sealed part of a decision entry: the subject's facts (or why there is
// no subject), and what decided. Cases, records and rules are listed as far
// as the fixed size allows (entry::FitSealed).
Result<std::string> SealedPart(const Merged& merged, const policy::Schema& schema,
                               const std::string& pseudonym, const json::object* facts,
                               const std::string& unresolved) {
  json::object base;
  base["effective_purpose"] = merged.purpose;
  std::vector<json::value> cases;
  if (facts) {
    base["subject"] = pseudonym;
    for (const char* key : {"roles", "flags", "immigration_concern", "regularisation_pending",
                            "subject_initiated", "consent_to_ie"}) {
      base[key] = facts->at(key);
    }
    for (const json::value& c : facts->at("cases").as_array()) cases.push_back(c);
  } else if (!unresolved.empty()) {
    base["subject"] = nullptr;
    base["unresolved"] = unresolved;
  }
  base["withheld"] = Names(schema, EnumKind::kCategory, merged.withheld);
  base["obligations"] = Names(schema, EnumKind::kObligation, merged.obligations);
  // Per-record evaluations (provenance), distinct ones only.
  std::vector<json::value> records;
  std::set<std::string> seen;
  for (const Evaluation& e : merged.evaluations) {
    if (!e.record) continue;
    json::object r{{"collected_as", e.record->collected_as},
                   {"decision", e.decision.permit ? "permit" : "deny"},
                   {"disclosed", Names(schema, EnumKind::kCategory, e.decision.disclosed)},
                   {"rules", e.json.at("rules")}};
    if (!e.record->case_id.empty()) {
      r["case_type"] = e.record->case_type;
      r["case_status"] = e.record->case_status;
    }
    if (seen.insert(json::serialize(r)).second) records.push_back(std::move(r));
  }
  return entry::FitSealed(base, cases, records, merged.rules);
}

// A receipt names the entry's index and request id: "<index>-<32 hex>".
bool ParseReceiptId(std::string_view id, uint64_t* index, std::string* request_id) {
  size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 19 || id.size() - dash - 1 != 32) return false;
  uint64_t v = 0;
  for (char c : id.substr(0, dash)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  for (char c : id.substr(dash + 1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  *index = v;
  *request_id = std::string(id.substr(dash + 1));
  return true;
}

}  // namespace

struct Service::Caller {
  store::Organisation org;
  bool by_certificate = false;
};

Service::~Service() { (void)Close(); }

Result<std::unique_ptr<Service>> Service::Create(const GatewayConfig& config) {
  auto s = std::unique_ptr<Service>(new Service(config));
  for (const auto& [path, what] : {std::pair{config.store_path, "the store"},
                                   {config.log_key_path, "the log's signing key"},
                                   {config.pseudonym_key_path, "the pseudonym key"},
                                   {config.audit_key_path, "the audit key"},
                                   {config.tls_key, "the TLS private key"}}) {
    FB_RETURN_IF_ERROR(CheckPrivate(path, what));
  }
  for (const std::string& path : config.old_audit_key_paths) {
    FB_RETURN_IF_ERROR(CheckPrivate(path, "an old audit key"));
  }
  FB_ASSIGN_OR_RETURN(s->store_, store::OpenSqliteStore(config.store_path));
  FB_ASSIGN_OR_RETURN(std::string key_text, ReadFile(config.log_key_path));
  FB_ASSIGN_OR_RETURN(ledger::NoteSigner signer, ledger::NoteSigner::FromKeyText(Trim(key_text)));
  s->signer_ = std::make_unique<ledger::NoteSigner>(std::move(signer));
  FB_ASSIGN_OR_RETURN(ledger::NoteVerifier verifier,
                      ledger::NoteVerifier::FromKeyText(s->signer_->VerifierKeyText()));
  s->verifier_ = std::make_unique<ledger::NoteVerifier>(std::move(verifier));
  FB_ASSIGN_OR_RETURN(std::string pkey, ReadFile(config.pseudonym_key_path));
  FB_ASSIGN_OR_RETURN(s->pseudonym_key_, HexDecode(Trim(pkey)));
  if (s->pseudonym_key_.size() < 16) {
    return tl::make_unexpected(InvalidArgument(config.pseudonym_key_path + ": key shorter than 16 bytes"));
  }
  FB_ASSIGN_OR_RETURN(s->audit_key_, entry::ReadAuditKey(config.audit_key_path));
  std::vector<entry::AuditKey> keys{s->audit_key_};
  for (const std::string& path : config.old_audit_key_paths) {
    FB_ASSIGN_OR_RETURN(entry::AuditKey k, entry::ReadAuditKey(path));
    keys.push_back(std::move(k));
  }
  s->keyring_ = entry::Keyring(std::move(keys));
  FB_ASSIGN_OR_RETURN(auto fields, s->store_->FieldCategories());
  s->field_map_.store(std::make_shared<const std::map<std::string, std::string>>(std::move(fields)));
  FB_ASSIGN_OR_RETURN(s->log_storage_, ledger::PosixStorage::Open(config.log_dir));
  s->log_reader_ = ledger::PosixStorage::OpenReadOnly(config.log_dir);
  ledger::AppenderOptions opts;
  opts.publish_interval = config.publish_interval;
  FB_ASSIGN_OR_RETURN(s->appender_, ledger::Appender::Open(*s->log_storage_, *s->signer_, opts));
  if (config.required) {
    s->required_ = *config.required;
  } else {
    // Nothing configured: the policy loaded now is what no reload may weaken.
    FB_ASSIGN_OR_RETURN(policy::LoadedPolicy loaded, policy::LoadPolicySet(config.policy_packs));
    if (!loaded.ok()) {
      return tl::make_unexpected(FailedPrecondition("the policy does not check:\n" + loaded.Render()));
    }
    s->required_ = RequiredOf(*loaded.set);
  }
  FB_RETURN_IF_ERROR(s->Reload(config.policy_packs, "start"));
  return s;
}

Status Service::Close() {
  if (closed_.exchange(true)) return Ok();
  if (appender_) return appender_->Close();
  return Ok();
}

bool Service::ready() const {
  if (closed_.load() || policy_.load() == nullptr || !appender_) return false;
  ledger::AppenderHealth h = appender_->health();
  return !h.failed && !h.publish_stalled;
}

Result<uint64_t> Service::Append(const json::object& e) {
  if (closed_.load()) return tl::make_unexpected(Unavailable("the log is closed"));
  auto t0 = std::chrono::steady_clock::now();
  auto index = appender_->Add(entry::CanonicalJson(e));  // returns once durable (sequenced)
  if (index) {
    metrics_.sequence_seconds().Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return index;
}

Status Service::Reload(const std::vector<std::string>& packs_in, const std::string& trigger,
                       const std::optional<store::Organisation>& org) {
  std::lock_guard lock(reload_mu_);
  std::shared_ptr<const PolicyState> old = policy_.load();
  std::vector<std::string> packs = packs_in.empty() ? (old ? old->packs : config_.policy_packs) : packs_in;
  auto state = std::make_shared<PolicyState>();
  state->packs = packs;
  state->shadow_packs = config_.shadow_packs;
  Result<Candidate> live = LoadCandidate(packs, config_.verify_policy, &required_);
  Status st = Ok();
  if (!live) {
    st = tl::make_unexpected(live.error());
  } else {
    state->live = live->engine;
    if (!config_.shadow_packs.empty()) {
      auto shadow = LoadCandidate(config_.shadow_packs, false, nullptr);
      if (!shadow) {
        st = tl::make_unexpected(shadow.error().WithContext("shadow policy"));
      } else {
        state->shadow = shadow->engine;
      }
    }
  }
  // The policy change, accepted or refused, goes to the decision log before
  // it takes effect, so oversight bodies see every change.
  auto rid = RandomBytes(16);
  if (!rid) return tl::make_unexpected(rid.error());
  json::object e{{"v", entry::kVersion},
                 {"kind", "policy"},
                 {"time", NowSeconds()},
                 {"request_id", HexEncode(*rid)},
                 {"trigger", trigger},
                 {"accepted", bool(st)},
                 {"old_policy_hash", old ? json::value(old->live->policy_hash()) : json::value(nullptr)},
                 {"packs", json::value_from(packs)}};
  if (org) e["requester"] = json::object{{"org", org->id}, {"org_type", org->type}};
  if (live) {
    e["policy_hash"] = live->engine->policy_hash();
    e["pins_checked"] = json::value_from(live->pins_checked);
    e["guarantees_proved"] = json::value_from(live->guarantees_proved);
  }
  if (!st) {
    std::string reason = st.error().message();
    if (reason.size() > 2000) reason = reason.substr(0, 2000) + "…";
    e["reason"] = reason;
  }
  if (appender_) {
    if (auto index = Append(e); !index) {
      metrics_.Count("firebreak_errors_total", "kind=\"log\"");
      return tl::make_unexpected(index.error().WithContext("logging the policy change; the old policy stays"));
    }
  }
  if (!st) {
    metrics_.Count("firebreak_policy_reloads_total", "result=\"refused\"");
    return st;
  }
  std::string hash = state->live->policy_hash();
  policy_.store(std::move(state));
  metrics_.Count("firebreak_policy_reloads_total", "result=\"loaded\"");
  AccessLog(json::object{{"ts", NowSeconds()}, {"event", "policy-loaded"}, {"trigger", trigger},
                         {"policy_hash", hash}});
  return Ok();
}

Result<std::optional<Service::Caller>> Service::Authenticate(const HttpRequest& request) {
  std::optional<store::Organisation> org;
  bool by_certificate = false;
  if (!request.cert_fingerprint.empty()) {
    FB_ASSIGN_OR_RETURN(org, store_->FindOrganisationByCredential(store::CredentialKind::kCertificate,
                                                                  request.cert_fingerprint));
    by_certificate = org.has_value();
  }
  if (!org && config_.bearer_tokens && request.authorization.size() > 7 &&
      (request.authorization.compare(0, 7, "Bearer ") == 0 ||
       request.authorization.compare(0, 7, "bearer ") == 0)) {
    std::string token = request.authorization.substr(7);
    FB_ASSIGN_OR_RETURN(org, store_->FindOrganisationByCredential(
                                 store::CredentialKind::kToken, HexEncode(DigestBytes(Sha256(token)))));
  }
  if (!org) return std::optional<Caller>();
  return std::optional<Caller>(Caller{std::move(*org), by_certificate});
}

HttpResponse Service::Handle(const HttpRequest& request) {
  auto start = std::chrono::steady_clock::now();
  std::string path = request.target.substr(0, request.target.find('?'));
  std::string query = request.target.find('?') == std::string::npos
                          ? ""
                          : request.target.substr(request.target.find('?') + 1);
  std::string route = RouteOf(path);
  std::string org_id;
  auto respond = [&]() -> HttpResponse {
    auto method_is = [&](const char* m) { return request.method == m; };
    auto wrong_method = [&](const char* allowed) {
      HttpResponse r = ProblemResponse({405, "", std::string("use ") + allowed});
      r.headers.emplace_back("Allow", allowed);
      return r;
    };
    if (request.metrics_listener) {
      // The holder's scrape port: metrics and nothing else.
      if (path != "/metrics") return ProblemResponse({404, "", "this listener serves only /metrics"});
      if (!method_is("GET")) return wrong_method("GET");
      return RenderMetrics();
    }
    if (path == "/healthz") {
      if (!method_is("GET")) return wrong_method("GET");
      return JsonResponse(200, json::object{{"status", "ok"}});
    }
    if (path == "/readyz") {
      if (!method_is("GET")) return wrong_method("GET");
      return ready() ? JsonResponse(200, json::object{{"status", "ready"}})
                     : JsonResponse(503, json::object{{"status", "not ready"}});
    }
    if (path == "/log/checkpoint" || path.rfind("/log/tile/", 0) == 0) {
      if (!method_is("GET")) return wrong_method("GET");
      return Tile(path.substr(5));
    }
    bool known = path == "/v1/disclosures" || path == "/v1/decisions" || path == "/admin/reload" ||
                 path == "/metrics" || path.rfind("/v1/receipts/", 0) == 0;
    if (!known) return ProblemResponse({404, "", "no such endpoint"});
    if (closed_.load()) return ProblemResponse({503, "", "the gateway is shutting down; nothing was disclosed"});
    auto caller = Authenticate(request);
    if (!caller) {
      metrics_.Count("firebreak_errors_total", "kind=\"store\"");
      return ProblemResponse({500, "", "the gateway could not authenticate the caller; nothing was disclosed"});
    }
    if (!*caller) {
      HttpResponse r = ProblemResponse(
          {401, "", "no valid credential: present a client certificate issued to your organisation"
                    " (or a bearer token where enabled)"});
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    const Caller& c = **caller;
    org_id = c.org.id;
    // The holder's administration (reload, metrics) needs its client
    // certificate: a bearer token never carries the admin scope.
    bool admin = c.org.scope == store::Scope::kAdmin && c.by_certificate;
    if (path == "/metrics") {
      if (!method_is("GET")) return wrong_method("GET");
      if (!admin) {
        return ProblemResponse({403, "", "metrics are for the holder: use the admin client certificate "
                                         "or the metrics listener inside the holder's network"});
      }
      return RenderMetrics();
    }
    if (path.rfind("/v1/receipts/", 0) == 0) {
      if (!method_is("GET")) return wrong_method("GET");
      return Receipt(c, path.substr(13), query == "format=json");
    }
    if (!method_is("POST")) return wrong_method("POST");
    if (path == "/admin/reload") {
      if (c.org.scope != store::Scope::kAdmin) return ProblemResponse({403, "", "this credential may not reload the policy"});
      if (!admin) return ProblemResponse({403, "", "reloading the policy needs the admin client certificate; bearer tokens are never accepted for it"});
      return AdminReload(request, c);
    }
    if (path == "/v1/disclosures") {
      if (c.org.scope != store::Scope::kRequester) {
        return ProblemResponse({403, "", "this credential is for the holder's own systems: use /v1/decisions"});
      }
      return Decide(request, c, true);
    }
    if (c.org.scope != store::Scope::kHolder) {
      return ProblemResponse({403, "", "the decision API is for the holder's own systems"});
    }
    return Decide(request, c, false);
  };
  HttpResponse response;
  try {
    response = respond();
  } catch (const std::exception& e) {
    // Fail closed: nothing the handlers throw may release data.
    metrics_.Count("firebreak_errors_total", "kind=\"exception\"");
    response = ProblemResponse({500, "", "internal error; nothing was disclosed"});
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.request_seconds().Observe(secs);
  metrics_.Count("firebreak_http_requests_total",
                 fmt::format("route=\"{}\",code=\"{}\"", route, response.status));
  if (config_.access_log) {
    json::object line{{"ts", NowSeconds()}, {"event", "request"}, {"method", request.method},
                      {"route", route}, {"status", response.status},
                      {"duration_us", int64_t(secs * 1e6)}};
    if (!org_id.empty()) line["org"] = org_id;
    AccessLog(line);
  }
  return response;
}

// Outward answers that are not a permit are released at a fixed time after
// the request arrived, whatever made them (a protected person, an unknown
// or ambiguous one, no agreement, a store failure): their timing tells
// nothing a refusal hides (docs/operations.md).
HttpResponse Service::Decide(const HttpRequest& request, const Caller& caller, bool outward) {
  bool timed = false;
  HttpResponse r = DecideInner(request, caller, outward, &timed);
  if (outward && timed && r.status != 200) {
    r.not_before = request.arrived + config_.refusal_release;
    if (std::chrono::steady_clock::now() > r.not_before) {
      metrics_.Count("firebreak_refusal_release_missed_total", "");
    }
  }
  return r;
}

HttpResponse Service::DecideInner(const HttpRequest& request, const Caller& caller, bool outward,
                                  bool* timed) {
  const char* endpoint = outward ? "disclosures" : "decisions";
  auto fail = [&](const char* kind, const Error& e) {
    metrics_.Count("firebreak_errors_total", fmt::format("kind=\"{}\"", kind));
    AccessLog(json::object{{"ts", NowSeconds()}, {"event", "error"}, {"kind", kind},
                           {"endpoint", endpoint}, {"code", std::string(ErrorCodeName(e.code()))}});
    return ProblemResponse({e.code() == ErrorCode::kUnavailable ? 503 : 500, "",
                            "the gateway could not decide; nothing was disclosed"});
  };
  auto parsed = ParseCaller(request.body, caller.org);
  if (!parsed) return ProblemResponse(parsed.error());
  CallerRequest& cr = *parsed;
  std::shared_ptr<const PolicyState> state = policy_.load();
  if (!state) return fail("policy", Unavailable("no policy"));
  const Engine& engine = *state->live;
  // Validate the caller's vocabulary before touching the store.
  if (auto check = engine::ParseRequest(cr.base, engine.schema()); !check) {
    return ProblemResponse(EngineProblem(check.error()));
  }
  // From here on, what happens may depend on the subject.
  *timed = true;

  // Resolve the subject from the store, never from the caller.
  std::optional<store::Subject> subject;
  std::string unresolved;  // why the subject is not resolved, for the log
  if (cr.by == CallerRequest::SubjectBy::kReference) {
    auto s = store_->FindSubjectByReference(cr.reference);
    if (!s) return fail("store", s.error());
    subject = *s;
    if (!subject) unresolved = "unknown-reference";
  } else if (cr.by == CallerRequest::SubjectBy::kIdentity) {
    auto s = store_->MatchIdentity(cr.given_name, cr.family_name, cr.date_of_birth);
    if (!s) return fail("store", s.error());
    if (s->size() == 1) {
      subject = (*s)[0];
    } else {
      unresolved = s->empty() ? "no-identity-match" : "ambiguous-identity";
    }
  }
  if (!unresolved.empty() && !outward) {
    // The holder's own systems get a clear answer; nothing is logged or changed.
    if (unresolved == "ambiguous-identity") {
      return ProblemResponse({409, "subject", "the identity details match more than one subject; use the reference"});
    }
    return ProblemResponse({404, "subject", "no subject matches in the holder's records"});
  }
  std::vector<store::Participation> cases;
  std::vector<store::Record> records;
  json::object full = cr.base;
  if (subject) {
    auto c = store_->SubjectCases(subject->id);
    if (!c) return fail("store", c.error());
    cases = std::move(*c);
    auto r = store_->SubjectRecords(subject->id);
    if (!r) return fail("store", r.error());
    records = std::move(*r);
    full["subject"] = SubjectFacts(*subject, cases);
  }
  std::shared_ptr<const std::map<std::string, std::string>> field_map = field_map_.load();
  Result<Merged> merged = Merged{};
  if (unresolved.empty()) {
    merged = Evaluate(engine, full, records, *field_map);
    if (!merged) return fail("policy", merged.error());
  } else {
    // An unresolved subject is denied (X4, fail closed) without evaluating.
    auto base = engine::ParseRequest(cr.base, engine.schema());
    merged->asked = base->categories;
    merged->withheld = merged->asked;
    merged->purpose = merged->declared_purpose = std::string(cr.base.at("purpose").as_string());
    merged->reasons.push_back("the subject could not be resolved in the holder's records");
  }
  const policy::Schema& schema = engine.schema();

  // Shadow mode: the candidate decides beside the live policy, not enforced.
  if (state->shadow && unresolved.empty()) {
    auto shadow = Evaluate(*state->shadow, full, records, *field_map);
    if (!shadow) {
      metrics_.Count("firebreak_errors_total", "kind=\"shadow\"");
    } else {
      const policy::Schema& ss = state->shadow->schema();
      bool differs = shadow->permit != merged->permit ||
                     ss.Names(EnumKind::kCategory, shadow->disclosed) != schema.Names(EnumKind::kCategory, merged->disclosed) ||
                     ss.Names(EnumKind::kObligation, shadow->obligations) != schema.Names(EnumKind::kObligation, merged->obligations);
      metrics_.Count("firebreak_shadow_decisions_total", differs ? "result=\"differs\"" : "result=\"same\"");
      if (differs) {
        AccessLog(json::object{{"ts", NowSeconds()}, {"event", "shadow-difference"}, {"endpoint", endpoint},
                               {"live", merged->permit ? "permit" : "deny"},
                               {"shadow", shadow->permit ? "permit" : "deny"},
                               {"live_disclosed", Names(schema, EnumKind::kCategory, merged->disclosed)},
                               {"shadow_disclosed", Names(ss, EnumKind::kCategory, shadow->disclosed)},
                               {"shadow_rules", json::value_from(shadow->rules)},
                               {"purpose", merged->purpose}});
      }
    }
  }

  // The log entry (entry schema v3, docs/log-format.md): in clear only what
  // the requester already knows, so that its own entry (public tiles, its
  // receipt) reveals nothing its answer hides; the subject's facts, rules
  // and obligations are sealed under the audit key, at one fixed size.
  auto rid = RandomBytes(16);
  if (!rid) return fail("random", rid.error());
  std::string request_id = HexEncode(*rid);
  json::object entry{{"v", entry::kVersion},
                     {"kind", "decision"},
                     {"time", NowSeconds()},
                     {"request_id", request_id},
                     {"endpoint", endpoint},
                     {"requester", cr.base.at("requester")},
                     {"purpose", merged->declared_purpose},
                     {"action", cr.base.at("action")},
                     {"legal_basis", cr.base.at("legal_basis")},
                     {"asked", Names(schema, EnumKind::kCategory, merged->asked)},
                     {"disclosed", Names(schema, EnumKind::kCategory, merged->disclosed)},
                     {"decision", merged->permit ? "permit" : "deny"},
                     {"policy_hash", engine.policy_hash()}};
  std::string pseudonym;
  if (subject) {
    pseudonym = HexEncode(DigestBytes(HmacSha256Once(pseudonym_key_, "subject:" + subject->reference)));
  }
  auto plain = SealedPart(*merged, schema, pseudonym, subject ? &full.at("subject").as_object() : nullptr,
                          unresolved);
  if (!plain) return fail("seal", plain.error());
  if (auto st = entry::SealInto(entry, audit_key_, *plain); !st) return fail("seal", st.error());
  auto index = Append(entry);
  if (!index) return fail("log", index.error());
  // The receipt is the entry's place in the log: no second durable write.
  std::string receipt = fmt::format("{}-{}", *index, request_id);
  metrics_.Count("firebreak_decisions_total",
                 fmt::format("endpoint=\"{}\",decision=\"{}\"", endpoint, merged->permit ? "permit" : "deny"));
  for (const std::string& rule : merged->rules) {
    metrics_.Count("firebreak_decision_rules_total", fmt::format("rule=\"{}\"", rule));
  }

  // The entry is durable: from here an answer that cannot be built is logged
  // as not delivered (a follow-up entry) before the 500.
  try {
    if (!outward) {
      json::object out{{"decision", merged->permit ? "permit" : "deny"},
                       {"disclosed", Names(schema, EnumKind::kCategory, merged->disclosed)},
                       {"withheld", Names(schema, EnumKind::kCategory, merged->withheld)},
                       {"rules", json::value_from(merged->rules)},
                       {"reasons", json::value_from(merged->reasons)},
                       {"obligations", Names(schema, EnumKind::kObligation, merged->obligations)},
                       {"purpose", merged->purpose},
                       {"declared_purpose", merged->declared_purpose},
                       {"policy_hash", engine.policy_hash()},
                       {"receipt", receipt},
                       {"log_index", *index}};
      json::array evals;
      for (const Evaluation& e : merged->evaluations) {
        json::object d = e.json;
        if (e.record) {
          json::object rec{{"id", e.record->id}, {"kind", e.record->kind}, {"collected_as", e.record->collected_as}};
          if (!e.record->case_id.empty()) {
            rec["case"] = e.record->case_id;
            rec["case_type"] = e.record->case_type;
            rec["case_status"] = e.record->case_status;
          }
          d["record"] = std::move(rec);
        }
        evals.push_back(std::move(d));
      }
      out["evaluations"] = std::move(evals);
      if (subject) out["subject"] = json::object{{"reference", subject->reference}};
      HttpResponse r = JsonResponse(200, out);
      r.delivers = receipt;
      return r;
    }

    // Outward: only the permitted fields of the permitted records. A refusal
    // has the same status and shape whatever its cause (a protected person,
    // an unknown person, no agreement), so it reveals nothing.
    json::array out_records;
    if (merged->permit) {
      for (const Evaluation& e : merged->evaluations) {
        if (!e.record || !e.decision.permit) continue;
        json::object fields;
        for (const store::Field& f : e.record->fields) {
          auto it = field_map->find(f.name);
          if (it == field_map->end()) continue;
          int c = schema.Find(EnumKind::kCategory, it->second);
          if (c >= 0 && (e.decision.disclosed >> c) & 1) fields[f.name] = f.value;
        }
        if (!fields.empty()) out_records.push_back(json::object{{"fields", std::move(fields)}});
      }
    }
    bool granted = merged->permit;
    json::object out{
        {"decision", granted ? "permit" : "refused"},
        {"receipt", receipt},
        {"disclosed", granted ? Names(schema, EnumKind::kCategory, merged->disclosed) : json::array()},
        {"withheld", Names(schema, EnumKind::kCategory, granted ? merged->withheld : merged->asked)},
        {"obligations", granted ? Names(schema, EnumKind::kObligation, merged->obligations) : json::array()},
        {"records", std::move(out_records)},
        {"message", granted ? "Disclosed as the holder's policy permits; see the obligations."
                            : "No disclosure: the holder's policy does not permit this request."},
    };
    HttpResponse r = JsonResponse(granted ? 200 : 403, out);
    if (granted) r.delivers = receipt;
    return r;
  } catch (const std::exception&) {
    Undelivered(receipt, "the answer could not be built");
    return fail("answer", Internal("building the answer"));
  }
}

void Service::Undelivered(const std::string& receipt, const std::string& why) {
  uint64_t index = 0;
  std::string request_id;
  if (!ParseReceiptId(receipt, &index, &request_id)) return;
  metrics_.Count("firebreak_undelivered_total", "");
  auto rid = RandomBytes(16);
  if (!rid) return;
  json::object e{{"v", entry::kVersion},         {"kind", "delivery"},
                 {"time", NowSeconds()},         {"request_id", HexEncode(*rid)},
                 {"refers_to", request_id},      {"refers_to_index", index},
                 {"delivered", false},           {"reason", why}};
  if (auto st = Append(e); !st) {
    metrics_.Count("firebreak_errors_total", "kind=\"log\"");
    AccessLog(json::object{{"ts", NowSeconds()}, {"event", "error"}, {"kind", "undelivered-entry"},
                           {"refers_to", request_id}});
  }
}

HttpResponse Service::Receipt(const Caller& caller, const std::string& id, bool as_json) {
  auto fail = [&](const Error& e) {
    metrics_.Count("firebreak_errors_total", "kind=\"receipt\"");
    AccessLog(json::object{{"ts", NowSeconds()}, {"event", "error"}, {"kind", "receipt"},
                           {"code", std::string(ErrorCodeName(e.code()))}});
    return ProblemResponse({500, "", "the receipt could not be built"});
  };
  uint64_t index = 0;
  std::string request_id;
  if (!ParseReceiptId(id, &index, &request_id) || index >= appender_->sequenced_size()) {
    return ProblemResponse({404, "", "no such receipt"});
  }
  auto t0 = std::chrono::steady_clock::now();
  if (auto st = appender_->WaitPublished(index); !st) return fail(st.error());
  metrics_.publish_seconds().Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  auto checkpoint_text = log_reader_->ReadFile("checkpoint");
  if (!checkpoint_text) return fail(checkpoint_text.error());
  auto cp = ledger::OpenCheckpoint(*checkpoint_text, *verifier_);
  if (!cp) return fail(cp.error());
  if (cp->size <= index) return fail(Internal("published checkpoint does not cover the entry"));
  uint64_t bundle = index / ledger::kTileWidth;
  uint64_t width = std::min<uint64_t>(ledger::kTileWidth, cp->size - bundle * ledger::kTileWidth);
  auto bundle_bytes = log_reader_->ReadFile(ledger::EntryBundlePath(bundle, width));
  if (!bundle_bytes) return fail(bundle_bytes.error());
  auto entries = ledger::ParseBundle(*bundle_bytes);
  if (!entries) return fail(entries.error());
  size_t offset = size_t(index % ledger::kTileWidth);
  if (offset >= entries->size()) return fail(DataLoss("entry missing from its bundle"));
  std::string entry_text((*entries)[offset]);
  // Receipts are for the organisation they were issued to; anything else is
  // "no such receipt", in the same words.
  auto parsed = entry::Parse(entry_text);
  if (!parsed) return ProblemResponse({404, "", "no such receipt"});
  const json::value* rid = parsed->if_contains("request_id");
  const json::value* req = parsed->if_contains("requester");
  const json::value* org = req && req->is_object() ? req->get_object().if_contains("org") : nullptr;
  if (!rid || !rid->is_string() || !ConstantTimeEquals(rid->get_string(), request_id) || !org ||
      !org->is_string() || org->get_string() != caller.org.id) {
    return ProblemResponse({404, "", "no such receipt"});
  }
  ledger::FileReader read = [&](const std::string& p) { return log_reader_->ReadFile(p); };
  ledger::TileNodeReader nodes(read, cp->size);
  auto proof = ledger::InclusionProof(index, cp->size, nodes.AsNodeReader());
  if (!proof) return fail(proof.error());
  ledger::Receipt receipt;
  receipt.extra = std::move(entry_text);
  receipt.index = index;
  receipt.inclusion_proof = std::move(*proof);
  receipt.checkpoint = *checkpoint_text;
  std::string text = ledger::FormatReceipt(receipt);
  if (as_json) {
    return JsonResponse(200, json::object{{"receipt", id},
                                          {"index", index},
                                          {"entry", receipt.extra},
                                          {"tlog_proof", text},
                                          {"log_key", signer_->VerifierKeyText()}});
  }
  HttpResponse out;
  out.content_type = "text/plain; charset=utf-8";
  out.body = std::move(text);
  return out;
}

HttpResponse Service::Tile(const std::string& path) {
  if (path != "checkpoint" && !ledger::ParseTilePath(path)) {
    return ProblemResponse({404, "", "not a tlog-tiles path"});
  }
  auto data = log_reader_->ReadFile(path);
  if (!data) {
    if (data.error().code() == ErrorCode::kNotFound) return ProblemResponse({404, "", "no such tile"});
    metrics_.Count("firebreak_errors_total", "kind=\"tile\"");
    return ProblemResponse({500, "", "could not read the log"});
  }
  HttpResponse out;
  out.body = std::move(*data);
  if (path == "checkpoint") {
    out.content_type = "text/plain; charset=utf-8";
    out.headers.emplace_back("Cache-Control", "no-cache");
  } else {
    out.content_type = "application/octet-stream";
    bool partial = path.find(".p/") != std::string::npos;
    out.headers.emplace_back("Cache-Control", partial ? "public, max-age=60" : "public, max-age=31536000, immutable");
  }
  return out;
}

HttpResponse Service::AdminReload(const HttpRequest& request, const Caller& caller) {
  std::vector<std::string> packs;
  if (!request.body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(request.body, ec);
    if (ec || !v.is_object()) return ProblemResponse({400, "", "the body must be a JSON object"});
    for (const auto& kv : v.get_object()) {
      if (kv.key() != "packs") return ProblemResponse({400, std::string(kv.key()), "unknown field"});
      if (!kv.value().is_array()) return ProblemResponse({400, "packs", "must be a list of pack directories"});
      for (const auto& p : kv.value().get_array()) {
        if (!p.is_string()) return ProblemResponse({400, "packs", "must be a list of pack directories"});
        packs.emplace_back(p.get_string());
      }
    }
  }
  Status st = Reload(packs, "api", caller.org);
  std::shared_ptr<const PolicyState> state = policy_.load();
  if (!st) {
    return JsonResponse(422, json::object{{"reloaded", false},
                                          {"error", st.error().ToString()},
                                          {"policy_hash", state->live->policy_hash()},
                                          {"packs", json::value_from(state->packs)}});
  }
  return JsonResponse(200, json::object{{"reloaded", true},
                                        {"policy_hash", state->live->policy_hash()},
                                        {"packs", json::value_from(state->packs)}});
}

HttpResponse Service::RenderMetrics() {
  std::string extra;
  if (appender_) {
    ledger::AppenderHealth h = appender_->health();
    extra += fmt::format("# TYPE firebreak_log_sequenced_size gauge\nfirebreak_log_sequenced_size {}\n",
                         appender_->sequenced_size());
    extra += fmt::format("# TYPE firebreak_log_published_size gauge\nfirebreak_log_published_size {}\n",
                         appender_->published_size());
    extra += fmt::format("# TYPE firebreak_log_publish_retries_total counter\nfirebreak_log_publish_retries_total {}\n",
                         h.publish_retries);
    extra += fmt::format("# TYPE firebreak_log_failed gauge\nfirebreak_log_failed{{reason=\"{}\"}} {}\n",
                         h.failed ? "appender-stopped" : (h.publish_stalled ? "publishing-stalled" : ""),
                         h.failed || h.publish_stalled ? 1 : 0);
  }
  std::shared_ptr<const PolicyState> state = policy_.load();
  if (state) {
    extra += fmt::format("# TYPE firebreak_policy_info gauge\nfirebreak_policy_info{{hash=\"{}\",shadow=\"{}\"}} 1\n",
                         state->live->policy_hash(), state->shadow ? state->shadow->policy_hash() : "");
  }
  HttpResponse out;
  out.content_type = "text/plain; version=0.0.4";
  out.body = metrics_.Render(extra);
  return out;
}

}  // namespace firebreak::gateway::internal
