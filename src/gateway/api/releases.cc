// Transparency releases made through the console (docs/reports.md,
// docs/console.md): the gateway runs report::MakeRelease over its own log
// with its audit key, against the budget ledger in `reports_dir`, and writes
// each release into the decision log as a `release` entry before anyone sees
// it.
//
// Fail closed: a release is shown (to the admin who made it, and in the
// list) only once its log entry is durable. `reports_dir/logged/<id>` notes
// the entry's index; a release charged to the ledger whose entry could not be
// written (the log failed just then) is not shown, and asking for it again
// writes its entry and shows it (no new noise, no new budget). Asking again
// for a release already logged returns it as stored and writes nothing.
#include <chrono>
#include <filesystem>
#include <system_error>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"
#include "entry/entry.h"
#include "gateway/api/api.h"
#include "gateway/internal/service.h"
#include "report/report.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

HttpResponse ReleaseProblem(int status, const std::string& field, const std::string& message) {
  return ProblemResponse({status, field, message});
}

// A release id is 64 lowercase hex digits (sha256): nothing else reaches a path.
bool IsReleaseId(std::string_view id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string LoggedPath(const std::string& dir, const std::string& id) { return dir + "/logged/" + id; }

// The index of release `id`'s log entry, when it has one.
std::optional<uint64_t> LoggedIndex(const std::string& dir, const std::string& id) {
  auto text = ReadFile(LoggedPath(dir, id));
  if (!text) return std::nullopt;
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The request body: {"from","to","period","epsilon","cap"}.
struct ReleaseAsk {
  report::Period period = report::Period::kMonth;
  std::string period_name = "month";
  int64_t from = 0, to = 0;
  report::Rational epsilon;
  uint64_t cap = 1;
};

Result<ReleaseAsk> ParseAsk(const std::string& body) {
  auto bad = [](const std::string& field, const std::string& message) -> Result<ReleaseAsk> {
    return tl::make_unexpected(InvalidArgument(message).WithContext(field));
  };
  std::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return bad("body", "the body must be a JSON object");
  const json::object& o = v.get_object();
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    if (k != "from" && k != "to" && k != "period" && k != "epsilon" && k != "cap") {
      return bad(std::string(k), "unknown member; expected from, to, period, epsilon, cap");
    }
  }
  ReleaseAsk a;
  if (const json::value* p = o.if_contains("period")) {
    if (!p->is_string() || (p->get_string() != "month" && p->get_string() != "year")) {
      return bad("period", "must be \"month\" or \"year\"");
    }
    a.period_name = std::string(p->get_string());
    a.period = a.period_name == "year" ? report::Period::kYear : report::Period::kMonth;
  }
  auto period_at = [&](const char* field) -> Result<int64_t> {
    const json::value* x = o.if_contains(field);
    if (!x || !x->is_string()) {
      return tl::make_unexpected(InvalidArgument(a.period == report::Period::kYear
                                                     ? "required: a year such as \"2026\""
                                                     : "required: a month such as \"2026-01\"")
                                     .WithContext(field));
    }
    auto t = report::ParsePeriodStart(std::string_view(x->get_string()), a.period);
    if (!t) return tl::make_unexpected(t.error().WithContext(field));
    return *t;
  };
  auto from = period_at("from");
  if (!from) return tl::make_unexpected(from.error());
  auto to = period_at("to");
  if (!to) return tl::make_unexpected(to.error());
  if (*to < *from) return bad("to", "is before `from`");
  a.from = *from;
  a.to = report::PeriodEnd(*to, a.period);
  const json::value* e = o.if_contains("epsilon");
  if (!e || !e->is_string()) return bad("epsilon", "required: a positive rational as a string, such as \"1/4\"");
  auto eps = report::Rational::Parse(std::string_view(e->get_string()));
  if (!eps) return bad("epsilon", eps.error().message());
  a.epsilon = *eps;
  if (const json::value* c = o.if_contains("cap")) {
    if (!c->is_int64() || c->get_int64() < 1 || c->get_int64() > 1000) {
      return bad("cap", "must be an integer from 1 to 1000 (decisions one subject may add to a release)");
    }
    a.cap = uint64_t(c->get_int64());
  }
  return a;
}

// The field an error names ("from: ..." from WithContext), split off.
std::pair<std::string, std::string> FieldOf(const Error& e) {
  std::string m = e.message();
  for (const char* f : {"from", "to", "period", "epsilon", "cap", "body"}) {
    std::string prefix = std::string(f) + ": ";
    if (m.rfind(prefix, 0) == 0) return {f, m.substr(prefix.size())};
    if (m == f) return {f, m};
  }
  return {"", m};
}

json::object Summary(const report::Release& r, std::optional<uint64_t> index) {
  json::object s{{"id", r.id},
                 {"holder", r.holder},
                 {"period", r.period},
                 {"from", r.from},
                 {"to", r.to},
                 {"epsilon", r.epsilon.ToString()},
                 {"cap", r.cap},
                 {"mechanism", r.mechanism},
                 {"cells", uint64_t(r.noisy.size())},
                 {"half_width", r.half_width},
                 {"output_hash", r.output_hash},
                 {"created", r.created}};
  if (index) s["log_index"] = *index;
  return s;
}

}  // namespace

HttpResponse Service::ConsoleReleases(const HttpRequest& request, const std::string& path, const std::string& query,
                                      const Caller& caller) {
  store::Scope scope = caller.org.scope;
  if (scope != store::Scope::kAdmin && scope != store::Scope::kAnalyst && scope != store::Scope::kOversight) {
    return ReleaseProblem(403, "", "the console is for the holder's DPO, its analysts and oversight bodies");
  }
  if (!caller.by_certificate) {
    return ReleaseProblem(403, "", "the console needs a client certificate; bearer tokens are never accepted for it");
  }
  if (request.method == "POST") {
    if (path != "/v1/console/reports") return ReleaseProblem(404, "", "no such endpoint");
    if (scope != store::Scope::kAdmin) {
      return ReleaseProblem(403, "", "making a release is for the holder's DPO (admin scope); analysts and oversight "
                              "bodies may read the releases made");
    }
    return MakeConsoleRelease(request.body, caller);
  }
  const std::string& dir = config_.reports_dir;
  auto unavailable = [](const std::string& message) {
    HttpResponse r = ReleaseProblem(503, "", message);
    r.headers.emplace_back("Retry-After", "5");
    return r;
  };
  std::error_code ec;
  if (dir.empty() || !fs::exists(dir + "/ledger.json", ec)) {
    if (path == "/v1/console/reports") {
      return JsonResponse(200, json::object{{"releases", json::array{}},
                                          {"configured", !dir.empty()},
                                          {"yearly_budget", config_.reports_yearly_budget},
                                          {"spent_this_year", "0"}});
    }
    return ReleaseProblem(404, "", "no such release");
  }
  auto snap = log_->Latest();
  if (!snap) return unavailable("the log could not be read just now");
  auto ledger = report::BudgetLedger::Open(dir, snap->checkpoint.origin, std::nullopt);
  if (!ledger) {
    metrics_.Count("firebreak_errors_total", "kind=\"reports\"");
    if (ledger.error().code() == ErrorCode::kUnavailable) return unavailable("a release is being made; try again");
    return ReleaseProblem(500, "", "the releases could not be read");
  }
  if (path == "/v1/console/reports") {
    json::array list;
    // Newest first; only releases whose log entry is written.
    const auto& entries = ledger->entries();
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      auto index = LoggedIndex(dir, it->id);
      if (!index) continue;
      auto text = ledger->Stored(it->id);
      if (!text || !*text) continue;
      std::error_code pec;
      json::value v = json::parse(**text, pec);
      if (pec) continue;
      auto r = report::Release::FromJson(v);
      if (!r) continue;
      list.push_back(Summary(*r, index));
    }
    int year = 0;
    {
      std::time_t t = NowSeconds();
      std::tm tm{};
      gmtime_r(&t, &tm);
      year = tm.tm_year + 1900;
    }
    return JsonResponse(200, json::object{{"releases", std::move(list)},
                                        {"configured", true},
                                        {"yearly_budget", ledger->yearly_budget().ToString()},
                                        {"spent_this_year", ledger->Spent(year).ToString()}});
  }
  std::string id = path.substr(std::string_view("/v1/console/reports/").size());
  std::map<std::string, std::string> q;
  if (!ParseQuery(query, &q)) return ReleaseProblem(400, "format", "malformed query");
  std::string format = q.count("format") ? q["format"] : "json";
  if (format != "json" && format != "html" && format != "csv") {
    return ReleaseProblem(400, "format", "must be json, html or csv");
  }
  if (!IsReleaseId(id)) return ReleaseProblem(404, "", "no such release");
  const report::LedgerEntry* entry = ledger->Find(id);
  auto index = LoggedIndex(dir, id);
  if (!entry || !index) return ReleaseProblem(404, "", "no such release");
  auto text = ledger->Stored(id);
  if (!text || !*text) return ReleaseProblem(500, "", "the release could not be read");
  std::error_code pec;
  json::value v = json::parse(**text, pec);
  if (pec) return ReleaseProblem(500, "", "the release could not be read");
  auto r = report::Release::FromJson(v);
  if (!r || report::OutputHash(*r) != entry->output_hash) {
    metrics_.Count("firebreak_errors_total", "kind=\"reports\"");
    return ReleaseProblem(500, "", "the stored release no longer matches the hash its ledger line and log entry record");
  }
  r->stored = true;
  HttpResponse out;
  out.status = 200;
  if (format == "html") {
    out.content_type = "text/html; charset=utf-8";
    out.body = report::ToHtml(*r);
    // A standalone page: its own inline style, nothing fetched.
    out.headers.emplace_back("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
  } else if (format == "csv") {
    out.content_type = "text/csv; charset=utf-8";
    out.body = report::ToCsv(*r);
    out.headers.emplace_back("Content-Disposition", "attachment; filename=\"release-" + id.substr(0, 12) + ".csv\"");
  } else {
    json::object body{{"release", r->ToJson()}, {"log_index", *index}};
    return JsonResponse(200, body);
  }
  return out;
}

HttpResponse Service::MakeConsoleRelease(const std::string& body, const Caller& caller) {
  auto ask = ParseAsk(body);
  if (!ask) {
    auto [field, message] = FieldOf(ask.error());
    return ReleaseProblem(400, field, message);
  }
  const std::string& dir = config_.reports_dir;
  if (dir.empty()) {
    return ReleaseProblem(503, "", "this gateway has no `reports_dir` in its configuration: releases cannot be made here");
  }
  std::shared_ptr<const PolicyState> state = policy_.load();
  if (!state) return ReleaseProblem(503, "", "no policy is loaded");
  auto budget = report::Rational::Parse(config_.reports_yearly_budget);
  if (!budget) return ReleaseProblem(500, "", "the configured yearly budget is not a rational");

  std::unique_lock lock(release_mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    HttpResponse r = ReleaseProblem(503, "", "a release is being made; try again");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  report::ReleaseOptions o;
  o.count.log_dir = config_.log_dir;
  o.count.keys = keyring_;
  // The checkpoint is checked against the gateway's own signing key.
  auto verifier = ledger::NoteVerifier::FromKeyText(signer_->VerifierKeyText());
  if (!verifier) return ReleaseProblem(500, "", "the log's verifier key could not be derived");
  o.count.log_key = *verifier;
  o.count.packs = state->packs;
  o.count.period = ask->period;
  o.count.from = ask->from;
  o.count.to = ask->to;
  o.count.cap = ask->cap;
  o.epsilon = ask->epsilon;
  o.ledger_dir = dir;
  o.yearly_budget = *budget;
  o.now = NowSeconds();
  report::CsprngSource rng;
  auto r = report::MakeRelease(o, rng);
  if (!r) {
    const Error& e = r.error();
    if (e.code() == ErrorCode::kFailedPrecondition) {
      metrics_.Count("firebreak_releases_total", "result=\"refused\"");
      return ReleaseProblem(409, "", e.message());
    }
    if (e.code() == ErrorCode::kInvalidArgument) return ReleaseProblem(400, "", e.message());
    metrics_.Count("firebreak_errors_total", "kind=\"reports\"");
    if (e.code() == ErrorCode::kUnavailable) return ReleaseProblem(503, "", "the budget ledger is busy; try again");
    return ReleaseProblem(500, "", "the release could not be made: " + e.message());
  }
  std::optional<uint64_t> index = LoggedIndex(dir, r->id);
  bool logged_now = false;
  if (!index) {
    // The release's log entry: no personal data, in clear; its sealed part
    // (the release id again) padded to the same size as every other.
    auto rid = RandomBytes(16);
    if (!rid) return ReleaseProblem(500, "", "the release's log entry could not be written; nothing is shown");
    json::object e{{"v", entry::kVersion},
                   {"kind", "release"},
                   {"time", NowSeconds()},
                   {"request_id", HexEncode(*rid)},
                   {"endpoint", "console/reports"},
                   {"requester", json::object{{"org", caller.org.id}, {"org_type", caller.org.type}}},
                   {"release", json::object{{"id", r->id},
                                            {"mechanism", r->mechanism},
                                            {"epsilon", r->epsilon.ToString()},
                                            {"cap", r->cap},
                                            {"period", r->period},
                                            {"from", r->from},
                                            {"to", r->to},
                                            {"cells", uint64_t(r->noisy.size())},
                                            {"output_hash", r->output_hash}}}};
    auto plain = entry::FitSealed(json::object{{"release", r->id}}, {}, {}, {});
    Status sealed = plain ? entry::SealInto(e, audit_key_, *plain) : Status(tl::make_unexpected(plain.error()));
    Result<uint64_t> appended = sealed ? Append(e) : Result<uint64_t>(tl::make_unexpected(sealed.error()));
    if (!appended) {
      metrics_.Count("firebreak_errors_total", "kind=\"log\"");
      return ReleaseProblem(503, "", "the release is charged to the budget but its log entry could not be written, so "
                              "it is not shown; ask again to write the entry and see it (no new noise, no new "
                              "budget)");
    }
    index = *appended;
    std::error_code ec;
    fs::create_directories(dir + "/logged", ec);
    if (auto w = WriteFileAtomically(LoggedPath(dir, r->id), std::to_string(*index) + "\n"); !w) {
      // The entry is in the log; a later ask writes a second entry for the
      // same release (the audit counts entries by release id).
      metrics_.Count("firebreak_errors_total", "kind=\"reports\"");
      return ReleaseProblem(500, "", "the release is logged at index " + std::to_string(*index) +
                                  " but that could not be noted; ask again");
    }
    logged_now = true;
  }
  metrics_.Count("firebreak_releases_total", r->stored ? "result=\"stored\"" : "result=\"made\"");
  json::object out{{"release", r->ToJson()}, {"log_index", *index}, {"logged_now", logged_now}};
  return JsonResponse(r->stored ? 200 : 201, out);
}

}  // namespace firebreak::gateway::internal
