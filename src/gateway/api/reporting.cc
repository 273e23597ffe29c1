// The safe reporting pathway (POST /v1/reports) and the data-subject tracker
// (GET /v1/tracker, its export, token rotation and the holder's
// /admin/tracker/* endpoints): the Service's side, running the pure parts of
// internal/reports.h and internal/tracker.h against the store and the log.
// docs/reporting.md and docs/tracker.md say what each answers.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"
#include "entry/entry.h"
#include "gateway/internal/pipeline.h"
#include "gateway/api/api.h"
#include "gateway/internal/service.h"
#include "ledger/checkpoint.h"
#include "store/store.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;

HttpResponse Fail(int status, const std::string& field, const std::string& message) {
  return ProblemResponse({status, field, message});
}

HttpResponse Fail(const internal::Problem& p) { return Fail(p.status, p.field, p.message); }

// The one answer for every token that does not open a tracker: unknown,
// wrong, revoked, a mandate presented by anyone but its advocate. Same
// status, body and size whatever the reason.
HttpResponse NoTracker() {
  return Fail(401, "", "this token does not open a tracker; check it was copied whole, or ask the service that "
                          "gave it to you for a new one");
}

// The body as a JSON object with only `keys`, each a string; a problem
// naming the field otherwise.
tl::expected<json::object, internal::Problem> AdminBody(const std::string& body,
                                                        std::initializer_list<const char*> keys) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return tl::make_unexpected(internal::Problem{400, "", "the body must be a JSON object"});
  for (const auto& kv : v.get_object()) {
    bool known = false;
    for (const char* k : keys) known |= kv.key() == k;
    if (!known) {
      return tl::make_unexpected(internal::Problem{400, std::string(kv.key()), "unknown field `" + std::string(kv.key()) + "`"});
    }
  }
  for (const char* k : keys) {
    const json::value* x = v.get_object().if_contains(k);
    if (!x) return tl::make_unexpected(internal::Problem{400, k, std::string("missing `") + k + "`"});
  }
  return std::move(v.get_object());
}

std::string Upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void Service::IndexForTracker(const std::string& pseudonym, uint64_t index) {
  if (indexer_) indexer_->Add(pseudonym, index);
}

HttpResponse Service::TakeReport(const HttpRequest& request, const Caller& caller) {
  if (!report_limiter_->Allow(caller.org.id)) {
    metrics_.Count("firebreak_reports_total", "result=\"rate-limited\"");
    HttpResponse r = Fail(429, "", "too many reports from this organisation just now; nothing was recorded. "
                                      "Send it again in a moment");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  auto parsed = ParseReport(request.body);
  if (!parsed) {
    metrics_.Count("firebreak_reports_total", "result=\"bad-request\"");
    return Fail(parsed.error());
  }
  ReportInput& in = *parsed;
  // Text the store could not keep as it is (U+0000; the JSON parser has
  // already refused anything that is not UTF-8) is the reporter's to fix:
  // 400 naming the field, before anything is stored. (The incident's fields
  // are `narrative` and `injuries`; every other one is the person's.)
  for (const store::Field& f : in.fields) {
    std::string path = (f.name == "narrative" || f.name == "injuries" ? "incident." : "person.") + f.name;
    if (Status ok = store::CheckStoredText("`" + path + "`", f.value); !ok) {
      metrics_.Count("firebreak_reports_total", "result=\"bad-request\"");
      return Fail(400, path, ok.error().message() + "; nothing was recorded");
    }
  }
  if (!in.dropped.empty()) metrics_.Count("firebreak_report_fields_dropped_total", "", in.dropped.size());
  auto fail = [&](const char* kind, const Error& e) {
    metrics_.Count("firebreak_errors_total", fmt::format("kind=\"{}\"", kind));
    return Fail(e.code() == ErrorCode::kUnavailable ? 503 : 500, "",
                   "the report could not be recorded; please try again");
  };
  auto ids = RandomBytes(8 + 8 + 16 + 16);
  if (!ids) return fail("random", ids.error());
  std::string hex = HexEncode(*ids);
  std::string reference = "RPT-" + Upper(hex.substr(0, 16));
  std::string case_id = "RPT-C-" + Upper(hex.substr(16, 16));
  std::string report_id = "rpt_" + hex.substr(32, 32);
  std::string request_id = hex.substr(64, 32);
  auto token = NewTrackerToken();
  if (!token) return fail("random", token.error());
  int64_t now = NowSeconds();

  store::Subject subject;
  subject.reference = reference;
  subject.given_name = in.given_name;
  subject.family_name = in.family_name;
  subject.date_of_birth = in.date_of_birth;
  subject.concern = "none";
  store::Record record;
  record.kind = in.role + "-statement";
  record.collected_as = in.role;
  record.case_id = case_id;
  record.fields = in.fields;
  // One transaction (shared with concurrent reports: one flush for all),
  // durable before anything is logged or answered.
  Status st = report_commits_->Commit([&]() -> Status {
    FB_ASSIGN_OR_RETURN(int64_t id, store_->AddSubject(subject));
    FB_RETURN_IF_ERROR(store_->PutCase({case_id, in.offence, "reported"}));
    FB_RETURN_IF_ERROR(store_->AddParticipant(case_id, id, in.role));
    record.subject_id = id;
    FB_ASSIGN_OR_RETURN(int64_t record_id, store_->AddRecord(record));
    (void)record_id;
    FB_RETURN_IF_ERROR(store_->PutReport({report_id, id, case_id, caller.org.id, now, int64_t(in.dropped.size())}));
    return store_->PutTrackerToken({TokenDigest(*token), id, "report", "", now, 0});
  });
  if (!st) return fail("store", st.error());

  // The intake's log entry: in clear only that a report was taken; the
  // pseudonym, role, offence and intake organisation sealed, padded to the
  // same fixed size as every other sealed part.
  std::string pseudonym = SubjectPseudonym(pseudonym_key_, reference);
  json::object e{{"v", entry::kVersion}, {"kind", "report"}, {"time", now}, {"request_id", request_id},
                 {"endpoint", "reports"}};
  json::object sealed{{"subject", pseudonym},
                      {"role", in.role},
                      {"case_type", in.offence},
                      {"case_status", "reported"},
                      {"intake_org", caller.org.id},
                      {"intake_org_type", caller.org.type},
                      {"immigration_fields_dropped", int64_t(in.dropped.size())}};
  auto plain = entry::FitSealed(sealed, {}, {}, {});
  if (!plain) return fail("seal", plain.error());
  if (auto s = entry::SealInto(e, audit_key_, *plain); !s) return fail("seal", s.error());
  auto index = Append(e);
  if (!index) {
    metrics_.Count("firebreak_errors_total", "kind=\"log\"");
    return Fail(503, "", "the report was stored but its log entry could not be written; the force has it, "
                            "but please ask them to confirm it");
  }
  if (indexer_) indexer_->Add(pseudonym, *index);
  metrics_.Count("firebreak_reports_total", "result=\"recorded\"");
  json::array dropped;
  for (const std::string& d : in.dropped) dropped.push_back(json::string(d));
  std::string message = "Your report is recorded. Keep the receipt token safe: it lets you (or someone you trust) "
                        "see who asks the police about you.";
  if (!in.dropped.empty()) {
    message += fmt::format(" {} field{} about immigration, nationality or documents {} not kept: this pathway "
                           "never records them.",
                           in.dropped.size(), in.dropped.size() == 1 ? "" : "s", in.dropped.size() == 1 ? "was" : "were");
  }
  return JsonResponse(201, json::object{{"report", report_id},
                                {"case_reference", case_id},
                                {"receipt_token", *token},
                                {"log_index", *index},
                                {"dropped_fields", std::move(dropped)},
                                {"message", message}});
}

HttpResponse Service::TrackerView(const HttpRequest& request, const std::string& query,
                                  const std::optional<Caller>& caller, bool export_pack) {
  auto filter = ParseTrackerQuery(query);
  if (!filter) return Fail(filter.error());
  auto fail = [&](const Error& e) {
    metrics_.Count("firebreak_errors_total", "kind=\"tracker\"");
    return Fail(e.code() == ErrorCode::kUnavailable ? 503 : 500, "", "the tracker could not be read just now");
  };
  // The same work for every token: hash it, look it up once.
  auto token = store_->FindTrackerToken(TokenDigest(request.tracker_token));
  if (!token) return fail(token.error());
  bool advocate_caller = caller && caller->org.scope == store::Scope::kAdvocate;
  bool ok = *token && !request.tracker_token.empty() && (*token)->revoked == 0;
  bool mandate = ok && (*token)->kind == "mandate";
  // A mandate opens the tracker only for its advocate's credential, and an
  // advocate only through a mandate (so that its views are logged).
  if (ok && (mandate != advocate_caller || (mandate && caller->org.id != (*token)->org_id))) ok = false;
  if (!ok) {
    metrics_.Count("firebreak_tracker_views_total", "result=\"refused\"");
    return NoTracker();
  }
  auto subject = store_->GetSubject((*token)->subject_id);
  if (!subject) return fail(subject.error());
  if (!*subject) return NoTracker();
  std::string pseudonym = SubjectPseudonym(pseudonym_key_, (*subject)->reference);
  if (mandate) {
    // The advocate's view is itself logged, sealed, and shown to the person.
    auto rid = RandomBytes(16);
    if (!rid) return fail(rid.error());
    json::object e{{"v", entry::kVersion},
                   {"kind", "tracker-view"},
                   {"time", NowSeconds()},
                   {"request_id", HexEncode(*rid)},
                   {"endpoint", "tracker"},
                   {"requester", json::object{{"org", caller->org.id}, {"org_type", caller->org.type}}}};
    auto plain = entry::FitSealed(json::object{{"subject", pseudonym}, {"viewer", "advocate"}}, {}, {}, {});
    if (!plain) return fail(plain.error());
    if (auto s = entry::SealInto(e, audit_key_, *plain); !s) return fail(s.error());
    auto index = Append(e);
    if (!index) return fail(index.error());
    indexer_->Add(pseudonym, *index);
  }
  metrics_.Count("firebreak_tracker_views_total", mandate ? "result=\"advocate\"" : "result=\"person\"");
  // Everything logged so far is in the index; the lines are read against
  // the newest published checkpoint.
  indexer_->Flush();
  if (uint64_t n = appender_->sequenced_size(); n > 0) {
    (void)appender_->WaitPublished(n - 1, std::chrono::seconds(2));
  }
  auto snapshot = log_->Latest();
  if (!snapshot) return fail(snapshot.error());
  auto indices = store_->TrackerIndex(pseudonym);
  if (!indices) return fail(indices.error());
  std::vector<uint64_t> covered;
  for (uint64_t i : *indices) {
    if (i < snapshot->checkpoint.size) covered.push_back(i);
  }
  auto holds = store_->HoldsFor(covered);
  if (!holds) return fail(holds.error());
  int64_t now = NowSeconds();
  std::set<uint64_t> hidden;
  for (const store::Hold& h : *holds) {
    if (h.hidden_until > now) hidden.insert(h.log_index);
  }
  std::map<std::string, std::string> because;
  if (std::shared_ptr<const PolicyState> state = policy_.load()) {
    for (const policy::Rule& r : state->live->policy_set().rules) because[r.name] = r.because;
  }
  // Newest first. Without a period or purpose filter, only the page's
  // entries are read; with one, every entry is read and filtered (without
  // receipts), then paged. Only the page's lines get their tlog-proof.
  std::vector<uint64_t> candidates;
  for (auto it = covered.rbegin(); it != covered.rend(); ++it) {
    if (!hidden.count(*it)) candidates.push_back(*it);
  }
  bool filtered = filter->from != TrackerFilter{}.from || filter->to != TrackerFilter{}.to || !filter->purpose.empty();
  size_t first = 0, last = candidates.size();
  if (!filtered && !export_pack) {
    first = std::min(candidates.size(), (filter->page - 1) * filter->per_page);
    last = std::min(candidates.size(), first + filter->per_page);
  }
  std::vector<std::pair<uint64_t, json::object>> lines;
  for (size_t k = first; k < last; ++k) {
    uint64_t index = candidates[k];
    auto text = log_->Entry(*snapshot, index);
    if (!text) return fail(text.error());
    auto opened = entry::Open(*text, keyring_);
    if (!opened) return fail(opened.error());
    // Only the person's own entries: the sealed pseudonym must be hers.
    const json::value* o = opened->if_contains("opened");
    const json::value* subj = o && o->is_object() ? o->get_object().if_contains("subject") : nullptr;
    if (!subj || !subj->is_string() || !ConstantTimeEquals(subj->get_string(), pseudonym)) continue;
    auto line = TrackerLine(*opened, index, because, "");
    if (!line || !Matches(*line, *filter)) continue;
    lines.emplace_back(index, std::move(*line));
  }
  size_t total = filtered || export_pack ? lines.size() : candidates.size();
  size_t begin = 0, end = lines.size();
  if (filtered && !export_pack) {
    begin = std::min(total, (filter->page - 1) * filter->per_page);
    end = std::min(total, begin + filter->per_page);
  }
  json::array entries;
  std::set<std::string> policy_hashes;
  for (size_t i = begin; i < end; ++i) {
    auto receipt = log_->ReceiptFor(*snapshot, lines[i].first);
    if (!receipt) return fail(receipt.error());
    json::object& line = lines[i].second;
    line["receipt"] = ledger::FormatReceipt(*receipt);
    line.erase("unix_time");
    if (const json::value* h = line.if_contains("policy_hash"); h && h->is_string() && !h->get_string().empty()) {
      policy_hashes.insert(std::string(h->get_string()));
    }
    entries.push_back(std::move(line));
  }
  std::string read_at = UnixToTime(now);
  json::object out{
      {"freshness",
       fmt::format("This list covers the first {} entries of the public decision log (its checkpoint of size {}, "
                   "read at {}): no other entry among them is about you, except any the force may hold back for "
                   "a limited time during a live investigation.",
                   snapshot->checkpoint.size, snapshot->checkpoint.size, read_at)},
      {"checkpoint_size", snapshot->checkpoint.size},
      {"checkpoint", snapshot->note},
      {"read_at", read_at},
      {"log_key", signer_->VerifierKeyText()},
      {"total", total},
      {"entries", std::move(entries)}};
  if (export_pack) {
    out["generated"] = read_at;
    out["policy_hashes"] = json::value_from(std::vector<std::string>(policy_hashes.begin(), policy_hashes.end()));
    out["viewer"] = mandate ? "an advocate organisation holding your mandate" : "you";
    if (filter->format == "html") {
      HttpResponse r;
      r.content_type = "text/html; charset=utf-8";
      r.body = EvidenceHtml(out);
      r.headers.emplace_back("Cache-Control", "no-store");
      return r;
    }
  } else {
    out["page"] = filter->page;
    out["per_page"] = filter->per_page;
  }
  HttpResponse r = JsonResponse(200, out);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Service::TrackerRotate(const HttpRequest& request, const std::optional<Caller>& caller) {
  auto token = store_->FindTrackerToken(TokenDigest(request.tracker_token));
  if (!token) {
    metrics_.Count("firebreak_errors_total", "kind=\"tracker\"");
    return Fail(500, "", "the token could not be rotated just now");
  }
  // A mandate is rotated by the holder (a new mandate), not here.
  if (!*token || request.tracker_token.empty() || (*token)->revoked != 0 || (*token)->kind == "mandate" ||
      (caller && caller->org.scope == store::Scope::kAdvocate)) {
    return NoTracker();
  }
  auto fresh = NewTrackerToken();
  if (!fresh) return Fail(500, "", "the token could not be rotated just now");
  int64_t now = NowSeconds();
  Status st = store_->BulkDurable([&]() -> Status {
    FB_RETURN_IF_ERROR(store_->RevokeTrackerToken((*token)->digest, now));
    return store_->PutTrackerToken({TokenDigest(*fresh), (*token)->subject_id, (*token)->kind, "", now, 0});
  });
  if (!st) {
    metrics_.Count("firebreak_errors_total", "kind=\"tracker\"");
    return Fail(500, "", "the token could not be rotated just now");
  }
  return JsonResponse(200, json::object{{"token", *fresh},
                                {"message", "The old token no longer works. Keep this new one safe."}});
}

HttpResponse Service::TrackerAdmin(const std::string& what, const HttpRequest& request, const Caller& caller) {
  auto fail = [&](const Error& e) {
    metrics_.Count("firebreak_errors_total", "kind=\"tracker\"");
    return Fail(e.code() == ErrorCode::kUnavailable ? 503 : 500, "", "the store could not be updated");
  };
  auto string_field = [](const json::object& o, const char* key, std::string* out) -> std::optional<internal::Problem> {
    const json::value& v = o.at(key);
    if (!v.is_string() || v.get_string().empty() || v.get_string().size() > 200) {
      return internal::Problem{400, key, "must be a non-empty string"};
    }
    *out = std::string(v.get_string());
    return std::nullopt;
  };
  auto find_subject = [&](const std::string& ref) -> Result<std::optional<store::Subject>> {
    return store_->FindSubjectByReference(ref);
  };
  int64_t now = NowSeconds();
  if (what == "tokens") {
    auto body = AdminBody(request.body, {"subject"});
    if (!body) return Fail(body.error());
    std::string ref;
    if (auto p = string_field(*body, "subject", &ref)) return Fail(*p);
    auto s = find_subject(ref);
    if (!s) return fail(s.error());
    if (!*s) return Fail(404, "subject", "no subject has this reference");
    auto token = NewTrackerToken();
    if (!token) return fail(token.error());
    if (auto st = store_->BulkDurable([&] { return store_->PutTrackerToken({TokenDigest(*token), (*s)->id, "holder", "", now, 0}); });
        !st) {
      return fail(st.error());
    }
    return JsonResponse(201, json::object{{"token", *token}, {"subject", ref}});
  }
  if (what == "mandates") {
    auto body = AdminBody(request.body, {"subject", "advocate"});
    if (!body) return Fail(body.error());
    std::string ref, advocate;
    if (auto p = string_field(*body, "subject", &ref)) return Fail(*p);
    if (auto p = string_field(*body, "advocate", &advocate)) return Fail(*p);
    auto s = find_subject(ref);
    if (!s) return fail(s.error());
    if (!*s) return Fail(404, "subject", "no subject has this reference");
    auto org = store_->GetOrganisation(advocate);
    if (!org) return fail(org.error());
    if (!*org || (*org)->scope != store::Scope::kAdvocate) {
      return Fail(400, "advocate", "not an organisation with the advocate scope");
    }
    auto token = NewTrackerToken();
    if (!token) return fail(token.error());
    std::string digest = TokenDigest(*token);
    if (auto st = store_->BulkDurable([&] { return store_->PutTrackerToken({digest, (*s)->id, "mandate", advocate, now, 0}); });
        !st) {
      return fail(st.error());
    }
    return JsonResponse(201, json::object{{"mandate", *token}, {"mandate_id", digest.substr(0, 16)}, {"advocate", advocate},
                                  {"subject", ref}});
  }
  if (what == "mandates/revoke") {
    auto body = AdminBody(request.body, {"subject", "mandate_id"});
    if (!body) return Fail(body.error());
    std::string ref, id;
    if (auto p = string_field(*body, "subject", &ref)) return Fail(*p);
    if (auto p = string_field(*body, "mandate_id", &id)) return Fail(*p);
    auto s = find_subject(ref);
    if (!s) return fail(s.error());
    if (!*s) return Fail(404, "subject", "no subject has this reference");
    auto tokens = store_->SubjectTrackerTokens((*s)->id);
    if (!tokens) return fail(tokens.error());
    for (const store::TrackerToken& t : *tokens) {
      if (t.kind != "mandate" || t.digest.substr(0, 16) != id) continue;
      if (auto st = store_->BulkDurable([&] { return store_->RevokeTrackerToken(t.digest, now); }); !st) {
        return fail(st.error());
      }
      return JsonResponse(200, json::object{{"revoked", id}});
    }
    return Fail(404, "mandate_id", "this subject has no mandate with this id");
  }
  if (what == "holds") {
    auto body = AdminBody(request.body, {"log_index", "hidden_until", "reason"});
    if (!body) return Fail(body.error());
    const json::value& li = body->at("log_index");
    if (!li.is_int64() || li.get_int64() < 0 || uint64_t(li.get_int64()) >= appender_->sequenced_size()) {
      return Fail(400, "log_index", "must be the index of an entry in the log");
    }
    const json::value& until = body->at("hidden_until");
    std::optional<int64_t> t = until.is_string() ? DateToUnix(until.get_string()) : std::nullopt;
    if (!t) return Fail(400, "hidden_until", "must be a calendar date YYYY-MM-DD");
    if (*t <= now) return Fail(400, "hidden_until", "must be in the future");
    if (*t > now + config_.max_hold_days * 86400) {
      return Fail(400, "hidden_until",
                     fmt::format("is beyond the longest hold this deployment allows ({} days)", config_.max_hold_days));
    }
    const json::value& reason = body->at("reason");
    if (!reason.is_string() ||
        std::find(kHoldReasons.begin(), kHoldReasons.end(), std::string(reason.get_string())) == kHoldReasons.end()) {
      return Fail(400, "reason", "must be one of: live-investigation, court-order, safeguarding-risk");
    }
    store::Hold h{uint64_t(li.get_int64()), *t, std::string(reason.get_string()), now};
    if (auto st = store_->BulkDurable([&] { return store_->PutHold(h); }); !st) return fail(st.error());
    AccessLog(json::object{{"ts", now}, {"event", "tracker-hold"}, {"org", caller.org.id},
                           {"log_index", h.log_index}, {"hidden_until", UnixToDate(h.hidden_until)},
                           {"reason", h.reason}});
    return JsonResponse(200, json::object{{"log_index", h.log_index}, {"hidden_until", UnixToDate(h.hidden_until)},
                                  {"reason", h.reason}});
  }
  return Fail(404, "", "no such tracker administration endpoint");
}

std::string Service::RenderTrackerGauges() {
  auto holds = store_->AllHolds();
  if (!holds) return "";
  std::map<std::string, int64_t> by_month;
  int64_t active = 0, now = NowSeconds();
  for (const store::Hold& h : *holds) {
    ++by_month[UnixToDate(h.created).substr(0, 7)];
    if (h.hidden_until > now) ++active;
  }
  std::string out = "# TYPE firebreak_tracker_holds gauge\n";
  for (const auto& [month, n] : by_month) out += fmt::format("firebreak_tracker_holds{{month=\"{}\"}} {}\n", month, n);
  out += fmt::format("# TYPE firebreak_tracker_holds_active gauge\nfirebreak_tracker_holds_active {}\n", active);
  return out;
}

}  // namespace firebreak::gateway::internal

namespace firebreak::gateway {

Result<uint64_t> RebuildTrackerIndex(const GatewayConfig& config,
                                     const std::function<void(uint64_t, uint64_t)>& progress) {
  FB_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, store::OpenStore(config.store_path));
  FB_ASSIGN_OR_RETURN(std::string key_text, ReadFile(config.log_key_path));
  while (!key_text.empty() && (key_text.back() == '\n' || key_text.back() == ' ')) key_text.pop_back();
  FB_ASSIGN_OR_RETURN(ledger::NoteSigner signer, ledger::NoteSigner::FromKeyText(key_text));
  FB_ASSIGN_OR_RETURN(ledger::NoteVerifier verifier, ledger::NoteVerifier::FromKeyText(signer.VerifierKeyText()));
  std::vector<entry::AuditKey> keys;
  FB_ASSIGN_OR_RETURN(entry::AuditKey key, entry::ReadAuditKey(config.audit_key_path));
  keys.push_back(std::move(key));
  for (const std::string& path : config.old_audit_key_paths) {
    FB_ASSIGN_OR_RETURN(entry::AuditKey old, entry::ReadAuditKey(path));
    keys.push_back(std::move(old));
  }
  entry::Keyring keyring(std::move(keys));
  std::unique_ptr<ledger::LogStorage> storage = ledger::PosixStorage::OpenReadOnly(config.log_dir);
  ledger::LogReader reader(*storage, std::move(verifier));
  FB_ASSIGN_OR_RETURN(ledger::LogReader::Snapshot snapshot, reader.Latest());
  uint64_t size = snapshot.checkpoint.size, indexed = 0;
  std::vector<std::pair<std::string, uint64_t>> batch;
  auto flush = [&]() -> Status {
    Status st = store->Bulk([&]() -> Status {
      for (const auto& [p, i] : batch) FB_RETURN_IF_ERROR(store->AddTrackerIndex(p, i));
      return Ok();
    });
    batch.clear();
    return st;
  };
  FB_RETURN_IF_ERROR(reader.ForEachEntry(snapshot, 0, size, [&](uint64_t i, std::string_view text) -> Status {
    auto parsed = entry::Parse(text);
    if (!parsed) return tl::make_unexpected(parsed.error().WithContext("log entry " + std::to_string(i)));
    if (parsed->contains("sealed")) {
      FB_RETURN_IF_ERROR(entry::OpenParsed(*parsed, keyring));
      const boost::json::value* o = parsed->if_contains("opened");
      const boost::json::value* s = o && o->is_object() ? o->get_object().if_contains("subject") : nullptr;
      if (s && s->is_string() && !s->get_string().empty()) {
        batch.emplace_back(std::string(s->get_string()), i);
        ++indexed;
      }
    }
    if (batch.size() >= 10000) FB_RETURN_IF_ERROR(flush());
    if (progress && (i + 1) % 100000 == 0) progress(i + 1, size);
    return Ok();
  }));
  FB_RETURN_IF_ERROR(flush());
  if (progress) progress(size, size);
  return indexed;
}

}  // namespace firebreak::gateway
