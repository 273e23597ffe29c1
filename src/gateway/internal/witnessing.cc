// The gateway's witnessing rounds (witnessing.h).
#include "gateway/internal/witnessing.h"

#include <cstdio>
#include <future>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/tiles.h"
#include "ledger/witness_protocol.h"

namespace firebreak::gateway::internal {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void LogLine(const boost::json::object& line) {
  std::string s = boost::json::serialize(line) + "\n";
  std::fwrite(s.data(), 1, s.size(), stderr);
}

}  // namespace

struct Witnessing::PerWitness {
  std::string url;
  ledger::NoteVerifier key;
  std::string label;      // Prometheus label text: witness="<name>"
  uint64_t known_size = 0;  // the size it last cosigned, as far as we know; round thread only
  std::string last_logged;  // the last alarm or error logged, to log changes only; round thread only
};

Witnessing::Witnessing(Options options, std::function<std::string()> latest, ledger::LogStorage& tiles,
                       Metrics& metrics)
    : options_(std::move(options)), latest_(std::move(latest)), tiles_(tiles), metrics_(metrics) {}

Result<std::unique_ptr<Witnessing>> Witnessing::Start(Options options, std::function<std::string()> latest,
                                                      ledger::LogStorage& tiles, Metrics& metrics) {
  std::unique_ptr<Witnessing> w(new Witnessing(std::move(options), std::move(latest), tiles, metrics));
  http::Client::Options co;
  co.ca_file = w->options_.ca_file;
  co.connect_timeout = w->options_.timeout;
  co.exchange_timeout = w->options_.timeout;
  co.max_body_bytes = 64 * 1024;
  co.user_agent = "firebreak-gateway";
  FB_ASSIGN_OR_RETURN(w->client_, http::Client::Create(co));
  for (const WitnessSpec& spec : w->options_.witnesses) {
    auto pw = std::make_unique<PerWitness>(PerWitness{spec.url, spec.key, "", 0, ""});
    pw->label = fmt::format("witness=\"{}\"", spec.key.name());
    w->witnesses_.push_back(std::move(pw));
  }
  w->thread_ = std::thread([raw = w.get()] { raw->Loop(); });
  return w;
}

Witnessing::~Witnessing() { Shutdown(); }

void Witnessing::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<Waiter> left;
  {
    std::lock_guard lock(mu_);
    left.swap(waiters_);
  }
  for (Waiter& w : left) w.done(false);
}

void Witnessing::Loop() {
  std::string sent;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.poll, [&] { return stop_; });
      if (stop_) return;
    }
    Notify();  // deadlines
    std::string note = latest_();
    if (note.empty() || note == sent) continue;
    sent = note;
    Round(note);
    Notify();
  }
}

void Witnessing::Alarm(PerWitness& w, const std::string& reason, const std::string& detail) {
  metrics_.Count("firebreak_witness_alarms_total", fmt::format("{},reason=\"{}\"", w.label, reason));
  if (w.last_logged == "alarm:" + reason) return;
  w.last_logged = "alarm:" + reason;
  LogLine(boost::json::object{{"ts", Now()}, {"event", "witness-alarm"}, {"witness", w.key.name()},
                              {"url", w.url}, {"reason", reason}, {"detail", detail}});
}

void Witnessing::Error(PerWitness& w, const std::string& reason, const std::string& detail) {
  metrics_.Count("firebreak_witness_errors_total", fmt::format("{},reason=\"{}\"", w.label, reason));
  if (w.last_logged == "error:" + reason) return;
  w.last_logged = "error:" + reason;
  LogLine(boost::json::object{{"ts", Now()}, {"event", "witness-error"}, {"witness", w.key.name()},
                              {"url", w.url}, {"reason", reason}, {"detail", detail}});
}

std::optional<ledger::NoteSignature> Witnessing::Ask(PerWitness& w, const std::string& note,
                                                     const std::string& text, uint64_t size) {
  ledger::TileNodeReader nodes([this](const std::string& p) { return tiles_.ReadFile(p); }, size);
  ledger::NodeReader read = nodes.AsNodeReader();
  // At most two requests: the second after a 409 taught us the witness's size.
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint64_t old = w.known_size;
    if (old > size) {
      Alarm(w, "size-ahead", fmt::format("the witness holds size {}, larger than the log's {}", old, size));
      w.known_size = 0;  // ask afresh next time
      return std::nullopt;
    }
    ledger::AddCheckpointRequest req;
    req.old_size = old;
    req.checkpoint = note;
    if (old > 0 && old < size) {
      auto proof = ledger::ConsistencyProof(old, size, read);
      if (!proof) {
        Error(w, "proof", "building the consistency proof: " + proof.error().message());
        return std::nullopt;
      }
      req.proof = std::move(*proof);
    }
    auto r = client_->Post(w.url + std::string(ledger::kAddCheckpointPath), ledger::FormatAddCheckpoint(req),
                           "text/plain; charset=utf-8");
    if (!r) {
      Error(w, "unavailable", r.error().message());
      return std::nullopt;
    }
    if (r->status == 200) {
      auto sigs = ledger::ParseCosignatures(r->body);
      if (!sigs) {
        Error(w, "bad-answer", "a 200 without cosignature lines");
        return std::nullopt;
      }
      // Ignore cosignatures from other keys; keep the first valid one of ours.
      for (const ledger::NoteSignature& s : *sigs) {
        if (s.name == w.key.name() && s.key_id == w.key.key_id() && w.key.Verify(text, s.signature)) {
          w.known_size = size;
          metrics_.Count("firebreak_witness_cosignatures_total", w.label);
          if (!w.last_logged.empty()) {
            w.last_logged.clear();
            LogLine(boost::json::object{{"ts", Now()}, {"event", "witness-ok"}, {"witness", w.key.name()},
                                        {"size", size}});
          }
          return s;
        }
      }
      Alarm(w, "bad-cosignature", "a 200 without a valid cosignature from the witness's key");
      return std::nullopt;
    }
    if (r->status == 409) {
      auto held = ledger::ParseTlogSize(r->body);
      if (!held || r->content_type.rfind(ledger::kTlogSizeContentType, 0) != 0) {
        Error(w, "bad-answer", "a 409 without a text/x.tlog.size body");
        return std::nullopt;
      }
      if (*held > size) {
        Alarm(w, "size-ahead",
              fmt::format("the witness says it cosigned size {}, larger than the log's own {}", *held, size));
        return std::nullopt;
      }
      if (*held == old) {
        // Our old size was right: the witness holds another root at a size
        // we share — its checkpoint and ours cannot both be this log's.
        Alarm(w, "conflict", fmt::format("the witness holds another checkpoint of size {}", old));
        return std::nullopt;
      }
      w.known_size = *held;
      continue;
    }
    if (r->status == 422) {
      Alarm(w, "inconsistent", fmt::format("the witness finds our checkpoint of size {} inconsistent with "
                                           "the size {} it cosigned", size, old));
      return std::nullopt;
    }
    if (r->status == 403) {
      Alarm(w, "forbidden", "the witness does not accept the log's signature");
      return std::nullopt;
    }
    Error(w, fmt::format("http-{}", r->status), r->body.substr(0, 200));
    return std::nullopt;
  }
  Error(w, "size-changed", "the witness's size changed between two requests");
  return std::nullopt;
}

void Witnessing::Round(const std::string& note) {
  auto parsed = ledger::ParseNote(note);
  if (!parsed) return;
  auto cp = ledger::ParseCheckpoint(parsed->text);
  if (!cp) return;
  {
    std::lock_guard lock(mu_);
    round_text_ = parsed->text;
    round_note_ = note;
    round_count_ = 0;
  }
  // Each cosignature is added as it arrives, so that a checkpoint counts as
  // witnessed as soon as the quorum has answered, not when the slowest
  // witness has (or timed out). The next round starts when all are done.
  std::vector<std::future<void>> asks;
  for (auto& w : witnesses_) {
    asks.push_back(std::async(std::launch::async, [this, &w, &note, &parsed, &cp] {
      if (auto s = Ask(*w, note, parsed->text, cp->size)) Collect(parsed->text, cp->size, *s);
    }));
  }
  for (auto& a : asks) a.get();
}

void Witnessing::Collect(const std::string& text, uint64_t size, const ledger::NoteSignature& cosig) {
  {
    std::lock_guard lock(mu_);
    if (text != round_text_) return;
    auto cosigned = ledger::AddSignatures(round_note_, {cosig});
    if (!cosigned) return;
    round_note_ = std::move(*cosigned);
    ++round_count_;
    if (options_.quorum == 0 || round_count_ < options_.quorum) return;
    witnessed_text_ = round_text_;
    witnessed_note_ = round_note_;
    witnessed_size_ = size;
    has_witnessed_ = true;
  }
  Notify();
}

void Witnessing::Notify() {
  std::vector<std::function<void(bool)>> ok, late;
  {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < waiters_.size();) {
      Waiter& w = waiters_[i];
      if (has_witnessed_ && witnessed_size_ > w.index) {
        ok.push_back(std::move(w.done));
      } else if (now >= w.deadline) {
        late.push_back(std::move(w.done));
      } else {
        ++i;
        continue;
      }
      waiters_[i] = std::move(waiters_.back());
      waiters_.pop_back();
    }
  }
  for (auto& f : ok) f(true);
  for (auto& f : late) f(false);
}

void Witnessing::WhenWitnessed(uint64_t index, std::chrono::steady_clock::time_point deadline,
                               std::function<void(bool)> done) {
  {
    std::lock_guard lock(mu_);
    if (options_.quorum > 0 && !(has_witnessed_ && witnessed_size_ > index) && !stop_) {
      waiters_.push_back(Waiter{index, deadline, std::move(done)});
      return;
    }
  }
  done(options_.quorum == 0 || witnessed_size() > index);
}

std::string Witnessing::Served() const {
  std::lock_guard lock(mu_);
  return has_witnessed_ ? witnessed_note_ : round_note_;
}

std::string Witnessing::WithCosignatures(const std::string& note) const {
  auto parsed = ledger::ParseNote(note);
  if (!parsed) return note;
  std::lock_guard lock(mu_);
  if (parsed->text == round_text_) return round_note_;
  if (has_witnessed_ && parsed->text == witnessed_text_) return witnessed_note_;
  return note;
}

uint64_t Witnessing::witnessed_size() const {
  std::lock_guard lock(mu_);
  return has_witnessed_ ? witnessed_size_ : 0;
}

std::string Witnessing::RenderGauges() const {
  std::lock_guard lock(mu_);
  return fmt::format(
      "# TYPE firebreak_log_witnessed_size gauge\nfirebreak_log_witnessed_size {}\n"
      "# TYPE firebreak_witness_quorum gauge\nfirebreak_witness_quorum {}\n",
      has_witnessed_ ? witnessed_size_ : 0, options_.quorum);
}

}  // namespace firebreak::gateway::internal
