#include "ledger/cluster_log.h"

#include <future>
#include <vector>

#include "base/crypto.h"
#include "base/encoding.h"
#include "ledger/checkpoint.h"

namespace firebreak::ledger {
namespace {

using Clock = std::chrono::steady_clock;

// How long the claim thread remembers an entry it saw made durable: a read
// of the queue that began before the mark committed may still list it.
constexpr auto kRememberDurable = std::chrono::seconds(5);
constexpr size_t kClaimBatch = 1024;

uint64_t SizeOf(const std::string& note) {
  auto n = ParseNote(note);
  if (!n) return 0;
  auto cp = ParseCheckpoint(n->text);
  return cp ? cp->size : 0;
}

}  // namespace

ClusterLog::ClusterLog(ClusterLogOptions options, const NoteSigner& signer)
    : options_(std::move(options)), signer_(signer) {}

Result<std::unique_ptr<ClusterLog>> ClusterLog::Open(const ClusterLogOptions& options, const NoteSigner& signer) {
  if (options.node.empty()) return tl::make_unexpected(InvalidArgument("the node's name is empty"));
  if (options.lease_term < std::chrono::milliseconds(100)) {
    return tl::make_unexpected(InvalidArgument("the lease term must be at least 100 ms"));
  }
  std::unique_ptr<ClusterLog> c(new ClusterLog(options, signer));
  FB_ASSIGN_OR_RETURN(std::string random, RandomBytes(6));
  c->holder_ = options.node + "/" + HexEncode(random);
  FB_ASSIGN_OR_RETURN(c->writer_, PgLogStorage::Open(options.url, options.log));
  FB_ASSIGN_OR_RETURN(c->reader_, PgLogStorage::Open(options.url, options.log));
  c->lease_thread_ = std::thread([p = c.get()] { p->LeaseLoop(); });
  c->claim_thread_ = std::thread([p = c.get()] { p->ClaimLoop(); });
  c->wait_thread_ = std::thread([p = c.get()] { p->WaitLoop(); });
  return c;
}

ClusterLog::~ClusterLog() { (void)Close(); }

bool ClusterLog::Lead() {
  auto fail = [&](const Error& e) {
    std::lock_guard lock(mu_);
    last_error_ = e.ToString();
    return false;
  };
  if (auto cp = writer_->ReadFile("checkpoint"); !cp) {
    if (cp.error().code() != ErrorCode::kNotFound) return fail(cp.error());
    if (Status st = Appender::InitLog(*writer_, signer_); !st) return fail(st.error());
  }
  AppenderOptions ao;
  ao.publish_interval = options_.publish_interval;
  // Recovery: replays the batches after the checkpoint, each checked
  // against its recorded root, and publishes them before anything new.
  auto a = Appender::Open(*writer_, signer_, ao);
  if (!a) return fail(a.error().WithContext("recovering the log"));
  std::lock_guard lock(mu_);
  appender_ = std::shared_ptr<Appender>(std::move(*a));
  epoch_ = writer_->epoch();
  ++leaderships_;
  claimed_.clear();
  cv_.notify_all();
  return true;
}

void ClusterLog::Demote(const std::string& why) {
  std::shared_ptr<Appender> a;
  {
    std::lock_guard lock(mu_);
    a = std::move(appender_);
    epoch_ = 0;
    last_error_ = why;
  }
  // First give the lease up (this storage's writes are refused from now),
  // then stop the appender: the entries it holds fail, none is written.
  (void)writer_->ReleaseLease();
  if (a) (void)a->Close();
  // Under the bindings lock (ClearBindings takes it): a claim in progress
  // finishes binding first; later claims meet the closed appender.
  writer_->ClearBindings();
  std::lock_guard lock(mu_);
  claimed_.clear();
}

void ClusterLog::LeaseLoop() {
  const auto term = options_.lease_term;
  auto next_renew = Clock::now();
  bool first = true;  // the first attempt at once
  for (;;) {
    std::shared_ptr<Appender> a;
    {
      std::unique_lock lock(mu_);
      // Leading: wake to renew, and every 50 ms to see whether the appender
      // stopped (then step down at once, not at the next renewal).
      auto until = appender_ ? std::min(next_renew, Clock::now() + std::chrono::milliseconds(50))
                             : first ? Clock::now() : Clock::now() + term / 10;
      first = false;
      cv_.wait_until(lock, until, [&] { return stopping_; });
      if (stopping_) break;
      a = appender_;
    }
    if (!a) {
      auto got = writer_->TryAcquireLease(holder_, term);
      if (!got) {
        std::lock_guard lock(mu_);
        last_error_ = got.error().ToString();
        continue;
      }
      if (!*got) continue;
      next_renew = Clock::now() + term / 3;
      // Renewed while recovering, so a long recovery keeps the lease.
      std::atomic<bool> recovering{true};
      std::atomic<bool> lost{false};
      std::thread keep([&] {
        while (recovering.load()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          if (Clock::now() < next_renew) continue;
          if (!writer_->RenewLease(term)) {
            lost = true;
            return;
          }
          next_renew = Clock::now() + term / 3;
        }
      });
      bool led = Lead();
      recovering = false;
      keep.join();
      if (!led || lost.load()) Demote(led ? "the lease was lost while recovering" : "recovery failed");
      continue;
    }
    // Leading: renew, and step down on a lost lease or a stopped appender.
    if (Clock::now() < next_renew) {
      if (AppenderHealth h = a->health(); h.failed) Demote("the appender stopped: " + h.last_error);
      continue;
    }
    Status st = writer_->RenewLease(term);
    next_renew = Clock::now() + term / 3;
    if (!st) {
      Demote(st.error().ToString());
    } else if (AppenderHealth h = a->health(); h.failed) {
      Demote("the appender stopped: " + h.last_error);
    }
  }
  std::shared_ptr<Appender> a;
  {
    std::lock_guard lock(mu_);
    a = std::move(appender_);
    epoch_ = 0;
  }
  // A clean stop publishes what was sequenced, then hands the lease over.
  if (a) (void)a->Close();
  (void)writer_->ReleaseLease();
}

void ClusterLog::ClaimLoop() {
  for (;;) {
    std::shared_ptr<Appender> a;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(appender_ ? 2 : 50), [&] { return stopping_; });
      if (stopping_) return;
      a = appender_;
      auto now = Clock::now();
      for (auto it = claimed_.begin(); it != claimed_.end();) {
        it = (it->second && now - *it->second > kRememberDurable) ? claimed_.erase(it) : std::next(it);
      }
    }
    if (!a) continue;
    auto rows = reader_->UnsequencedEntries(kClaimBatch);
    if (!rows) continue;
    auto bindings = writer_->LockBindings();
    for (PgLogStorage::Queued& q : *rows) {
      {
        std::lock_guard lock(mu_);
        if (claimed_.count(q.id)) continue;
        claimed_[q.id] = std::nullopt;
      }
      uint64_t id = q.id;
      auto index = a->Enqueue(q.entry, [this, id](Result<uint64_t> r) {
        std::lock_guard lock(mu_);
        if (r) {
          claimed_[id] = Clock::now();
        } else {
          claimed_.erase(id);
        }
      });
      if (!index) {
        std::lock_guard lock(mu_);
        claimed_.erase(id);
        break;  // the appender stopped
      }
      writer_->Bind(*index, id);
    }
  }
}

void ClusterLog::WaitLoop() {
  for (;;) {
    std::vector<uint64_t> ids;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(2), [&] { return stopping_; });
      if (stopping_) break;
      if (waiting_.empty()) {
        cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopping_ || !waiting_.empty(); });
        continue;
      }
      for (const auto& [id, w] : waiting_) ids.push_back(id);
    }
    auto done = reader_->SequencedOf(ids);
    std::vector<std::pair<DurableCallback, Result<uint64_t>>> calls;
    std::vector<uint64_t> finished;
    {
      std::lock_guard lock(mu_);
      if (done) {
        for (const auto& [id, index] : *done) {
          auto it = waiting_.find(id);
          if (it == waiting_.end()) continue;
          calls.emplace_back(std::move(it->second.callback), index);
          waiting_.erase(it);
          finished.push_back(id);
        }
      }
      auto now = Clock::now();
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        calls.emplace_back(std::move(it->second.callback),
                           tl::make_unexpected(Unavailable("no sequencer made the entry durable in time")));
        finished.push_back(it->first);
        it = waiting_.erase(it);
      }
    }
    for (auto& [cb, r] : calls) cb(r);
    (void)reader_->DeleteQueued(finished);
  }
  std::map<uint64_t, Waiter> orphans;
  {
    std::lock_guard lock(mu_);
    orphans.swap(waiting_);
  }
  for (auto& [id, w] : orphans) w.callback(tl::make_unexpected(Unavailable("the log closed")));
}

Status ClusterLog::Enqueue(std::string_view entry, DurableCallback on_durable) {
  if (entry.size() > kMaxEntrySize) {
    return tl::make_unexpected(InvalidArgument("entry of " + std::to_string(entry.size()) +
                                               " bytes exceeds the 65,535-byte limit"));
  }
  std::shared_ptr<Appender> a;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return tl::make_unexpected(FailedPrecondition("the log is closing"));
    a = appender_;
  }
  if (a) {
    // This node sequences: straight into its appender. Whatever stops it
    // (a lost lease, the database gone) is for the caller a log that is
    // unavailable now (a 503): another node, or this one anew, takes over.
    auto shared = std::make_shared<DurableCallback>(std::move(on_durable));
    auto queued = a->Enqueue(entry, [shared](Result<uint64_t> r) {
      if (!r && r.error().code() != ErrorCode::kUnavailable) {
        r = tl::make_unexpected(Unavailable("the log's sequencer stopped: " + r.error().message()));
      }
      (*shared)(std::move(r));
    });
    if (queued) return Ok();
    // It stopped sequencing meanwhile: forward like any other node (the
    // callback was not called and never will be).
    on_durable = std::move(*shared);
  }
  FB_ASSIGN_OR_RETURN(uint64_t id, reader_->QueueEntry(entry));
  std::lock_guard lock(mu_);
  waiting_[id] = Waiter{std::move(on_durable), Clock::now() + options_.forward_timeout};
  cv_.notify_all();
  return Ok();
}

Result<uint64_t> ClusterLog::Add(std::string_view entry) {
  auto done = std::make_shared<std::promise<Result<uint64_t>>>();
  auto future = done->get_future();
  FB_RETURN_IF_ERROR(Enqueue(entry, [done](Result<uint64_t> r) { done->set_value(std::move(r)); }));
  return future.get();
}

std::string ClusterLog::checkpoint() {
  std::shared_ptr<Appender> a;
  {
    std::lock_guard lock(mu_);
    a = appender_;
  }
  std::string note;
  if (a) {
    note = a->checkpoint();
  } else if (auto r = reader_->ReadFile("checkpoint")) {
    note = std::move(*r);
  }
  std::lock_guard lock(mu_);
  if (!note.empty()) {
    uint64_t size = SizeOf(note);
    if (size >= published_cache_) {
      published_cache_ = size;
      checkpoint_cache_ = note;
    }
  }
  return checkpoint_cache_;
}

uint64_t ClusterLog::published_size() {
  std::string note = checkpoint();
  return SizeOf(note);
}

Status ClusterLog::WaitPublished(uint64_t index, std::chrono::milliseconds timeout) {
  auto until = Clock::now() + timeout;
  for (;;) {
    if (published_size() > index) return Ok();
    if (Clock::now() >= until) {
      return tl::make_unexpected(Unavailable("index " + std::to_string(index) + " is not published yet"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ClusterLogHealth ClusterLog::health() const {
  std::lock_guard lock(mu_);
  ClusterLogHealth h;
  h.leading = appender_ != nullptr;
  h.epoch = epoch_;
  h.leaderships = leaderships_;
  h.forwarded_waiting = waiting_.size();
  h.last_error = last_error_;
  if (appender_) {
    AppenderHealth ah = appender_->health();
    h.failed = ah.failed;
    h.publish_stalled = ah.publish_stalled;
    if (!ah.last_error.empty()) h.last_error = ah.last_error;
  }
  return h;
}

Status ClusterLog::Close() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !lease_thread_.joinable()) return Ok();
    stopping_ = true;
    cv_.notify_all();
  }
  if (claim_thread_.joinable()) claim_thread_.join();
  if (lease_thread_.joinable()) lease_thread_.join();
  if (wait_thread_.joinable()) wait_thread_.join();
  return Ok();
}

}  // namespace firebreak::ledger
