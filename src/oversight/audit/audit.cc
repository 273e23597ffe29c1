#include "oversight/audit/audit.h"

#include <ctime>
#include <filesystem>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ledger/log_reader.h"
#include "ledger/storage.h"
#include "ledger/verify.h"
#include "oversight/audit/internal/pack_index.h"
#include "oversight/audit/internal/replay.h"
#include "verify/verify.h"

namespace firebreak::oversight {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::string Month(int64_t t) {
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1);
}


// The first 16 hex digits of a request id as a number (request ids are 128
// random bits; 64 of them tell duplicates apart).
uint64_t IdKey(std::string_view rid) {
  uint64_t k = 0;
  for (size_t i = 0; i < 16 && i < rid.size(); ++i) {
    char c = rid[i];
    k = k * 16 + uint64_t(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
  }
  return k ^ (uint64_t(rid.size()) << 60);
}

class Auditor {
 public:
  Auditor(const AuditOptions& o, internal::PackIndex packs, std::vector<std::shared_ptr<const engine::Engine>> baselines)
      : o_(o), packs_(std::move(packs)), baselines_(std::move(baselines)) {
    for (const auto& b : baselines_) baseline_ptrs_.push_back(b.get());
  }

  void Entry(uint64_t i, std::string_view text) {
    ++r_.entries;
    // Each entry's JSON in one reused buffer: no allocation per value.
    json::monotonic_resource memory(buffer_, sizeof buffer_);
    auto parsed = entry::Parse(text, &memory);
    if (!parsed) {
      Add(i, finding::kUnreadableEntry, "The entry cannot be read: " + parsed.error().message() + ".");
      return;
    }
    json::object& e = *parsed;
    int64_t t = 0;
    if (const json::value* tv = e.if_contains("time"); tv && tv->is_int64()) t = tv->get_int64();
    Time(i, t);
    std::string_view rid = Str(e, "request_id");
    if (!rid.empty()) {
      auto [it, fresh] = ids_.emplace(IdKey(rid), i);
      if (!fresh) {
        Add(i, finding::kDuplicate,
            fmt::format("The entry repeats request {} of entry {}: one request was logged twice.", rid, it->second));
      }
    }
    const json::value* kind_v = e.if_contains("kind");
    std::string_view kind = kind_v && kind_v->is_string() ? std::string_view(kind_v->get_string()) : "decision";
    if (kind == "decision") {
      Decision(i, e, t);
    } else if (kind == "policy") {
      Policy(i, e);
    } else if (kind == "delivery") {
      Delivery(i, e);
    } else if (kind == "report" || kind == "tracker-view" || kind == "release") {
      // The reporting pathway's intake, an advocate's tracker view and a
      // transparency release: no decision to replay (docs/log-format.md).
    } else {
      Add(i, finding::kUnreadableEntry, fmt::format("The entry is of an unknown kind `{}`.", kind));
    }
  }

  void Reserve(uint64_t entries) { ids_.reserve(entries); }

  AuditReport Finish() {
    for (const auto& [key, n] : counts_) {
      std::vector<std::string> parts;
      size_t start = 0;
      for (size_t at; (at = key.find('\n', start)) != std::string::npos; start = at + 1) {
        parts.push_back(key.substr(start, at - start));
      }
      if (parts.size() == 5) r_.counts[CountKey{parts[0], parts[1], parts[2], parts[3], parts[4]}] += n;
    }
    for (const auto& [hash, n] : unknown_hash_counts_) {
      for (Finding& f : r_.findings) {
        if (f.kind == finding::kUnknownPolicyHash && f.sentence.find(hash) != std::string::npos && n > 1) {
          f.sentence += fmt::format(" ({} decisions in all name it.)", n);
        }
      }
    }
    for (const auto& [hash, dirs] : packs_.sources()) r_.packs[hash] = fmt::format("{}", fmt::join(dirs, " + "));
    return std::move(r_);
  }

  AuditReport& report() { return r_; }

 private:
  void Add(std::optional<uint64_t> i, const char* kind, std::string sentence) {
    r_.findings.push_back(Finding{i, kind, std::move(sentence)});
  }

  void Time(uint64_t i, int64_t t) {
    if (have_time_) {
      if (t + o_.clock_skew.count() < last_time_) {
        Add(i, finding::kTimeGoesBack,
            fmt::format("The entry is dated {} s before the entry preceding it: the log is not in the order "
                        "decisions were made, or a clock was changed.",
                        last_time_ - t));
      } else if (t - last_time_ > o_.gap.count()) {
        r_.gaps.push_back(Gap{i - 1, last_time_, t});
      }
    }
    have_time_ = true;
    last_time_ = std::max(last_time_, t);
  }

  // The engine of `hash`, loading the combination a policy entry listed
  // when no single published pack has it.
  std::shared_ptr<const engine::Engine> EngineFor(const std::string& hash) {
    if (hash == last_hash_) return last_engine_;
    auto engine = packs_.Find(hash);
    if (!engine) {
      if (auto it = policy_packs_.find(hash); it != policy_packs_.end()) {
        packs_.LoadCombination(it->second);
        engine = packs_.Find(hash);
      }
    }
    last_hash_ = hash;
    last_engine_ = engine;
    return engine;
  }

  void UnknownHash(uint64_t i, const std::string& hash, std::string_view what) {
    if (unknown_hash_counts_[hash]++ == 0) {
      Add(i, finding::kUnknownPolicyHash,
          fmt::format("The {} names policy {}, which no published pack produces: no one outside the holder "
                      "can check what it allowed.",
                      what, hash));
    }
  }

  void Decision(uint64_t i, json::object& e, int64_t t) {
    ++r_.decisions;
    std::string_view key_id = Str(e, "audit_key");
    if (!key_id.empty() && !o_.keys.Find(key_id)) {
      Add(i, finding::kUnknownAuditKey,
          fmt::format("The entry is sealed under audit key {}, which was not given to the audit.", key_id));
      return;
    }
    if (Status opened = entry::OpenParsed(e, o_.keys); !opened) {
      Add(i, finding::kSealedPartDoesNotOpen,
          "The entry's sealed part does not open under the audit key (" + opened.error().message() +
              "): it was altered or sealed for another entry.");
      return;
    }
    std::string hash(Str(e, "policy_hash"));
    if (e.at("v").as_int64() >= 3 && seen_policy_entry_ && hash != in_force_ && !logged_.count(hash) &&
        unlogged_reported_.insert(hash).second) {
      Add(i, finding::kUnloggedPolicy,
          fmt::format("The decision was made under policy {}, but the policy in force by the log's policy "
                      "entries is {}: a policy was used without its load being logged.",
                      hash, in_force_.empty() ? "none" : in_force_));
    }
    auto engine = EngineFor(hash);
    std::string_view decision_name;
    std::vector<std::string> rules;
    const json::object* said = &e;
    if (Str(e, "endpoint") != "disclosures") {
      if (const json::value* o = e.if_contains("opened"); o && o->is_object()) said = &o->get_object();
    }
    decision_name = Str(*said, "decision");
    if (!engine) {
      UnknownHash(i, hash, "decision");
    } else {
      internal::ReplayOutcome out = internal::ReplayDecision(*engine, baseline_ptrs_, e);
      switch (out.kind) {
        case internal::ReplayOutcome::Kind::kReplayed: ++r_.replayed; break;
        case internal::ReplayOutcome::Kind::kPartly: ++r_.partly_replayed; break;
        case internal::ReplayOutcome::Kind::kUnresolved: ++r_.unresolved; ++r_.replayed; break;
      }
      if (!out.mismatches.empty()) {
        Add(i, finding::kDecisionMismatch,
            fmt::format("Replayed with its pack, the decision differs from the one logged: {}.",
                        fmt::join(out.mismatches, "; ")));
      }
      for (std::string& v : out.violations) {
        Add(i, finding::kGuaranteeViolated, "The holder " + v + ".");
      }
      rules = std::move(out.rules);
      if (out.permit) permits_[i] = std::string(Str(e, "request_id"));
    }
    std::string_view org_type;
    if (const json::value* q = e.if_contains("requester"); q && q->is_object()) {
      org_type = Str(q->get_object(), "org_type");
    }
    if (rules.empty()) rules.push_back("(none)");
    // Counted under a joined key in a reused buffer (no allocation once the
    // key has been seen); split into CountKeys at the end.
    if (t / 86400 != month_day_) {
      month_day_ = t / 86400;
      month_ = Month(t);
    }
    for (const std::string& rule : rules) {
      key_.clear();
      for (std::string_view part : {std::string_view(month_), org_type, Str(e, "purpose"),
                                    std::string_view(decision_name), std::string_view(rule)}) {
        key_.append(part);
        key_.push_back('\n');
      }
      auto it = counts_.find(std::string_view(key_));
      if (it == counts_.end()) it = counts_.emplace(key_, 0).first;
      ++it->second;
    }
  }

  void Policy(uint64_t i, const json::object& e) {
    ++r_.policy_changes;
    seen_policy_entry_ = true;
    const json::value* accepted = e.if_contains("accepted");
    if (!accepted || !accepted->is_bool()) {
      Add(i, finding::kBadPolicyChange, "The policy entry does not say whether the change was accepted.");
      return;
    }
    std::vector<std::string> packs;
    if (const json::value* p = e.if_contains("packs"); p && p->is_array()) {
      for (const json::value& v : p->get_array()) {
        if (v.is_string()) packs.emplace_back(v.get_string());
      }
    }
    std::string hash(Str(e, "policy_hash"));
    if (!hash.empty() && !packs.empty()) policy_packs_.emplace(hash, packs);
    if (!accepted->get_bool()) return;  // refused: nothing in force changes
    std::string trigger(Str(e, "trigger"));
    const json::value* old = e.if_contains("old_policy_hash");
    std::string old_hash = old && old->is_string() ? std::string(old->get_string()) : "";
    if (trigger == "start") {
      // A restart may load the same or a new policy; either way it is logged.
    } else if (old_hash != in_force_) {
      Add(i, finding::kBadPolicyChange,
          fmt::format("The policy change says it replaced {} but the policy in force was {}: a change is missing "
                      "from the log.",
                      old_hash.empty() ? "nothing" : old_hash, in_force_.empty() ? "none" : in_force_));
    }
    if (trigger == "api" && !e.contains("requester")) {
      Add(i, finding::kBadPolicyChange, "The policy was changed through the API by a caller the entry does not name.");
    }
    if (hash.empty()) {
      Add(i, finding::kBadPolicyChange, "An accepted policy change names no policy hash.");
      return;
    }
    in_force_ = hash;
    logged_.insert(hash);
    auto engine = EngineFor(hash);
    if (!engine) {
      UnknownHash(i, hash, "policy change");
      return;
    }
    std::set<std::string> proved;
    if (const json::value* g = e.if_contains("guarantees_proved"); g && g->is_array()) {
      for (const json::value& v : g->get_array()) {
        if (v.is_string()) proved.emplace(v.get_string());
      }
    }
    std::vector<std::string> missing;
    for (const policy::Guarantee& g : engine->policy_set().guarantees) {
      if (!proved.count(g.name)) missing.push_back(g.name);
    }
    if (!missing.empty()) {
      Add(i, finding::kBadPolicyChange,
          fmt::format("The policy {} was put in force without proving its guarantees [{}].", hash, fmt::join(missing, ", ")));
    }
    if (deployable_checked_.insert(hash).second) {
      if (Status st = verify::CheckDeployable(engine->shared_policy_set()); !st) {
        Add(i, finding::kBadPolicyChange,
            fmt::format("The policy {} was put in force although it is not deployable: {}.", hash, st.error().message()));
      }
    }
  }

  void Delivery(uint64_t i, const json::object& e) {
    ++r_.deliveries;
    const json::value* idx = e.if_contains("refers_to_index");
    std::string_view rid = Str(e, "refers_to");
    if (!idx || !idx->is_int64() || idx->get_int64() < 0 || uint64_t(idx->get_int64()) >= i) {
      Add(i, finding::kBadDelivery, "The delivery entry does not refer to an earlier entry.");
      return;
    }
    auto it = permits_.find(uint64_t(idx->get_int64()));
    if (it == permits_.end() || it->second != rid) {
      Add(i, finding::kBadDelivery,
          fmt::format("The delivery entry withdraws request {} at entry {}, which is not a permitted decision "
                      "with that request id.",
                      rid, idx->get_int64()));
    }
  }

  const AuditOptions& o_;
  internal::PackIndex packs_;
  std::vector<std::shared_ptr<const engine::Engine>> baselines_;
  std::vector<const engine::Engine*> baseline_ptrs_;
  AuditReport r_;
  std::unordered_map<uint64_t, uint64_t> ids_;
  std::unordered_map<uint64_t, std::string> permits_;  // index → request id
  std::map<std::string, std::vector<std::string>> policy_packs_;
  std::map<std::string, uint64_t> unknown_hash_counts_;
  std::set<std::string> logged_, unlogged_reported_, deployable_checked_;
  std::string in_force_;
  bool seen_policy_entry_ = false;
  std::string last_hash_;
  std::shared_ptr<const engine::Engine> last_engine_;
  bool have_time_ = false;
  int64_t last_time_ = 0;
  alignas(16) unsigned char buffer_[16384];
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint64_t, KeyHash, std::equal_to<>> counts_;
  std::string key_, month_;
  int64_t month_day_ = -1;
};

}  // namespace

Result<AuditReport> RunAudit(const AuditOptions& o) {
  if (!o.log_key) return tl::make_unexpected(InvalidArgument("the log's verifier key is required"));
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(o.log_dir) / "checkpoint", ec)) {
    return tl::make_unexpected(NotFound("`" + o.log_dir + "` is not a log directory (no checkpoint)"));
  }
  FB_ASSIGN_OR_RETURN(internal::PackIndex packs, internal::PackIndex::Build(o.packs_dir));
  std::vector<std::shared_ptr<const engine::Engine>> baselines;
  for (const std::string& dir : o.baseline_packs) {
    auto engine = internal::LoadEngine({dir});
    if (!engine) return tl::make_unexpected(InvalidArgument("--baseline: the pack in `" + dir + "` does not load"));
    baselines.push_back(std::move(engine));
  }
  auto storage = ledger::PosixStorage::OpenReadOnly(o.log_dir);
  auto read = [&](const std::string& p) { return storage->ReadFile(p); };

  // 1. The log itself: every hash, against the signed checkpoint.
  std::vector<std::string> present;
  for (auto it = fs::recursive_directory_iterator(fs::path(o.log_dir) / "tile", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) present.push_back(fs::relative(it->path(), o.log_dir).generic_string());
  }
  ledger::VerifyProgress vprogress;
  if (o.progress) vprogress = [&](uint64_t done, uint64_t total) { o.progress("verify", done, total); };
  Auditor auditor(o, std::move(packs), std::move(baselines));
  AuditReport& r = auditor.report();
  auto t0 = std::chrono::steady_clock::now();
  auto verified = ledger::VerifyLog(read, *o.log_key, "", vprogress, present);
  auto t1 = std::chrono::steady_clock::now();
  r.verify_seconds = std::chrono::duration<double>(t1 - t0).count();
  if (verified) {
    r.log_verified = true;
    r.checkpoint = verified->checkpoint;
  } else {
    r.findings.push_back(Finding{std::nullopt, finding::kLogDoesNotVerify,
                                 "The log does not verify against its signed checkpoint (" + verified.error().message() +
                                     "): the files are not the log the holder signed. The entries below were read as "
                                     "they are."});
  }

  // 2. The witnesses' cosignatures on the checkpoint.
  FB_ASSIGN_OR_RETURN(std::string note, storage->ReadFile("checkpoint"));
  for (const ledger::NoteVerifier& w : o.witnesses) {
    const ledger::NoteVerifier* one[] = {&w};
    if (ledger::OpenNote(note, one)) ++r.cosignatures;
  }
  if (r.cosignatures < o.min_witnesses) {
    r.findings.push_back(Finding{
        std::nullopt, finding::kTooFewCosignatures,
        fmt::format("The checkpoint carries valid cosignatures from {} of the required witnesses; {} are required, so "
                    "nothing shows that other parties were shown the same log.",
                    r.cosignatures, o.min_witnesses)});
  }

  // 3. Every entry, in order, read once.
  ledger::LogReader reader(*storage, std::nullopt);
  FB_ASSIGN_OR_RETURN(ledger::LogReader::Snapshot snap, reader.Latest());
  if (!r.log_verified) r.checkpoint = snap.checkpoint;
  uint64_t size = snap.checkpoint.size;
  auditor.Reserve(size);
  Status st = reader.ForEachEntry(snap, 0, size, [&](uint64_t i, std::string_view text) -> Status {
    auditor.Entry(i, text);
    if (o.progress && (i % 4096 == 0 || i + 1 == size)) o.progress("replay", i + 1, size);
    return Ok();
  });
  if (!st) {
    r.findings.push_back(Finding{std::nullopt, finding::kLogDoesNotVerify,
                                 "The log's entries cannot all be read: " + st.error().message() + "."});
  }
  r.replay_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  return auditor.Finish();
}

json::object AuditReport::ToJson() const {
  json::object o;
  o["checkpoint"] = json::object{{"origin", checkpoint.origin}, {"size", checkpoint.size}};
  o["log_verified"] = log_verified;
  o["cosignatures"] = cosignatures;
  o["entries"] = entries;
  o["decisions"] = decisions;
  o["policy_changes"] = policy_changes;
  o["deliveries"] = deliveries;
  o["replayed"] = replayed;
  o["partly_replayed"] = partly_replayed;
  o["unresolved"] = unresolved;
  o["seconds"] = json::object{{"verify", verify_seconds}, {"replay", replay_seconds}};
  json::array fs;
  for (const Finding& f : findings) {
    json::object x{{"kind", f.kind}, {"sentence", f.sentence}};
    x["index"] = f.index ? json::value(*f.index) : json::value(nullptr);
    fs.push_back(std::move(x));
  }
  o["findings"] = std::move(fs);
  json::array gs;
  for (const Gap& g : gaps) gs.push_back(json::object{{"after_index", g.after_index}, {"from", g.from}, {"to", g.to}});
  o["gaps"] = std::move(gs);
  json::array cs;
  for (const auto& [k, n] : counts) {
    cs.push_back(json::object{{"month", std::get<0>(k)},
                              {"requester_type", std::get<1>(k)},
                              {"purpose", std::get<2>(k)},
                              {"decision", std::get<3>(k)},
                              {"rule", std::get<4>(k)},
                              {"count", n}});
  }
  o["counts"] = std::move(cs);
  json::object ps;
  for (const auto& [h, d] : packs) ps[h] = d;
  o["packs"] = std::move(ps);
  return o;
}

std::string AuditReport::Summary(size_t max_findings) const {
  std::string s = fmt::format("Log {}: {} entries under the checkpoint of size {}{}.\n", checkpoint.origin, entries,
                              checkpoint.size, log_verified ? ", every hash re-verified" : " — IT DOES NOT VERIFY");
  s += fmt::format("Witness cosignatures on the checkpoint: {}.\n", cosignatures);
  s += fmt::format("Decisions: {} ({} replayed in full, {} replayed in part because their entry lists only part of the "
                   "person's cases or records, {} about a person who could not be found).\n",
                   decisions, replayed - unresolved, partly_replayed, unresolved);
  s += fmt::format("Policy changes: {}. Undelivered answers: {}.\n", policy_changes, deliveries);
  s += fmt::format("Time: {:.2f} s verifying, {:.2f} s opening and replaying.\n", verify_seconds, replay_seconds);
  if (!gaps.empty()) s += fmt::format("Gaps in time: {} (listed in the JSON report).\n", gaps.size());
  if (findings.empty()) {
    s += "No findings: every decision replays as logged and meets its guarantees.\n";
    return s;
  }
  std::map<std::string, size_t> by_kind;
  for (const Finding& f : findings) ++by_kind[f.kind];
  s += fmt::format("FINDINGS: {}\n", findings.size());
  for (const auto& [k, n] : by_kind) s += fmt::format("  {:<34} {}\n", k, n);
  for (size_t i = 0; i < findings.size() && i < max_findings; ++i) {
    const Finding& f = findings[i];
    s += f.index ? fmt::format("- entry {}: {}\n", *f.index, f.sentence) : fmt::format("- {}\n", f.sentence);
  }
  if (findings.size() > max_findings) s += fmt::format("… and {} more (see the JSON report).\n", findings.size() - max_findings);
  return s;
}

}  // namespace firebreak::oversight
