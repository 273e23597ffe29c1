#include "ledger/appender.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "ledger/checkpoint.h"

namespace firebreak::ledger {
namespace {

// A write-ahead batch (docs/log-format.md):
//   "FBW1" | first index u64 BE | count u32 BE | payload length u32 BE |
//   payload (count × (u16 BE length ‖ entry)) | tree root after the batch (32)
constexpr std::string_view kWalMagic = "FBW1";
constexpr size_t kWalHeaderSize = 20;
constexpr size_t kWalReadChunk = size_t{64} << 20;
constexpr const char* kPositionPath = "wal/position";

void PutBe(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t GetBe(std::string_view in, size_t off, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[off + i]);
  return v;
}

struct WalHeader {
  uint64_t first_index;
  uint64_t count;
  uint64_t payload_len;
};

std::optional<WalHeader> ParseWalHeader(std::string_view h) {
  if (h.size() < kWalHeaderSize || h.substr(0, 4) != kWalMagic) return std::nullopt;
  return WalHeader{GetBe(h, 4, 8), GetBe(h, 12, 4), GetBe(h, 16, 4)};
}

// Parses "<size> <offset>\n".
std::optional<std::pair<uint64_t, uint64_t>> ParsePosition(std::string_view s) {
  uint64_t a = 0, b = 0;
  size_t i = 0;
  auto num = [&](uint64_t& v) {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + static_cast<uint64_t>(s[i++] - '0');
    return i > start;
  };
  if (!num(a) || i >= s.size() || s[i++] != ' ' || !num(b)) return std::nullopt;
  return std::make_pair(a, b);
}

// Sleeps while `*word == expected` (returns early on any wake or signal; the
// caller re-checks). The word is a lock-free std::atomic<uint32_t>, which has
// the size and representation of the uint32_t the kernel compares.
void FutexWait(std::atomic<uint32_t>& word, uint32_t expected) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  static_assert(std::atomic<uint32_t>::is_always_lock_free);
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
            nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
            nullptr, 0);
}

}  // namespace

Status Appender::InitLog(LogStorage& storage, const NoteSigner& signer) {
  Checkpoint cp{signer.name(), 0, EmptyRoot(), {}};
  const NoteSigner* signers[] = {&signer};
  FB_ASSIGN_OR_RETURN(std::string note, SignNote(cp.Text(), signers));
  return storage.WriteCheckpoint(note);
}

Appender::Appender(LogStorage& storage, const NoteSigner& signer, AppenderOptions options)
    : storage_(storage), signer_(signer), options_(options), open_(std::make_shared<Commit>()) {}

Result<std::unique_ptr<Appender>> Appender::Open(LogStorage& storage, const NoteSigner& signer,
                                                 AppenderOptions options) {
  std::unique_ptr<Appender> a(new Appender(storage, signer, options));
  FB_RETURN_IF_ERROR(a->Recover());
  a->last_step_end_ = std::chrono::steady_clock::now();
  a->sequencer_ = std::thread([p = a.get()] { p->SequencerLoop(); });
  a->publisher_ = std::thread([p = a.get()] { p->PublisherLoop(); });
  return a;
}

Appender::~Appender() { (void)Close(); }

Status Appender::Recover() {
  // 1. The latest checkpoint and its tiles are the trusted prefix.
  FB_ASSIGN_OR_RETURN(std::string note, storage_.ReadFile("checkpoint"));
  auto key = NoteVerifier::FromKeyText(signer_.VerifierKeyText());
  if (!key) return tl::make_unexpected(key.error());
  auto cp = OpenCheckpoint(note, *key);
  if (!cp) {
    return tl::make_unexpected(
        DataLoss("the log's checkpoint does not verify with this key: " + cp.error().message()));
  }
  FileReader read = [this](const std::string& p) { return storage_.ReadFile(p); };
  auto tiler = Tiler::Resume(cp->size, read);
  if (!tiler) return tl::make_unexpected(tiler.error().WithContext("resuming the tiles"));
  tiler_ = std::move(*tiler);
  TileNodeReader nodes(read, cp->size);
  FB_ASSIGN_OR_RETURN(compact_, CompactRange::FromTree(cp->size, nodes.AsNodeReader()));
  Sha256Hasher hasher;
  if (compact_.Root(hasher) != cp->root || tiler_.Root(hasher) != cp->root) {
    return tl::make_unexpected(DataLoss("the tiles do not match the checkpoint root"));
  }

  // 2. Find the checkpoint's size in the write-ahead log (hint, else scan).
  FB_ASSIGN_OR_RETURN(uint64_t wal_size, storage_.WalSize());
  uint64_t offset = 0;
  uint64_t index = 0;
  if (auto hint = storage_.ReadFile(kPositionPath)) {
    if (auto pos = ParsePosition(*hint); pos && pos->first <= cp->size && pos->second <= wal_size) {
      FB_ASSIGN_OR_RETURN(std::string h, storage_.ReadWal(pos->second, kWalHeaderSize));
      auto header = ParseWalHeader(h);
      if ((header && header->first_index == pos->first) ||
          (pos->second == wal_size && pos->first == cp->size)) {
        offset = pos->second;
        index = pos->first;
      }
    }
  }
  while (index < cp->size) {
    FB_ASSIGN_OR_RETURN(std::string h, storage_.ReadWal(offset, kWalHeaderSize));
    auto header = ParseWalHeader(h);
    if (!header || header->first_index != index) {
      return tl::make_unexpected(DataLoss("the write-ahead log lacks entries " +
                                          std::to_string(index) + ".. that the checkpoint (size " +
                                          std::to_string(cp->size) + ") covers"));
    }
    offset += kWalHeaderSize + header->payload_len + kHashSize;
    index += header->count;
  }
  if (index != cp->size) {
    return tl::make_unexpected(DataLoss("the write-ahead log's batches do not end at the "
                                        "checkpoint size " + std::to_string(cp->size)));
  }

  // 3. Replay every intact batch after it; cut the first torn one and the rest.
  std::vector<Batch> recovered;
  while (offset < wal_size) {
    FB_ASSIGN_OR_RETURN(std::string h, storage_.ReadWal(offset, kWalHeaderSize));
    auto header = ParseWalHeader(h);
    bool ok = header && header->first_index == index && header->count > 0 &&
              header->payload_len <= kWalReadChunk &&
              offset + kWalHeaderSize + header->payload_len + kHashSize <= wal_size;
    Batch b;
    if (ok) {
      FB_ASSIGN_OR_RETURN(std::string body,
                          storage_.ReadWal(offset + kWalHeaderSize, header->payload_len + kHashSize));
      auto entries = ParseBundle(std::string_view(body).substr(0, header->payload_len));
      ok = body.size() == header->payload_len + kHashSize && entries &&
           entries->size() == header->count;
      if (ok) {
        CompactRange trial = compact_;
        for (std::string_view e : *entries) {
          b.leaves.push_back(HashLeaf(hasher, e));
          trial.Append(hasher, b.leaves.back());
        }
        b.root = trial.Root(hasher);
        ok = std::memcmp(b.root.data(), body.data() + header->payload_len, kHashSize) == 0;
        if (ok) {
          compact_ = std::move(trial);
          body.resize(header->payload_len);
          b.payload = std::move(body);
        }
      }
    }
    if (!ok) {
      FB_RETURN_IF_ERROR(storage_.TruncateWal(offset));
      break;
    }
    offset += kWalHeaderSize + header->payload_len + kHashSize;
    index += header->count;
    b.end_size = index;
    b.wal_end = offset;
    recovered.push_back(std::move(b));
  }
  wal_offset_ = offset;
  next_index_ = sequenced_size_ = open_first_ = index;
  published_size_ = cp->size;
  checkpoint_ = note;
  // 4. Publish what was sequenced but not yet published.
  if (!recovered.empty()) FB_RETURN_IF_ERROR(PublishBatches(std::move(recovered), /*retry=*/false));
  return Ok();
}

Status Appender::Failed() const {
  if (failure_) return tl::make_unexpected(*failure_);
  return Ok();
}

Result<uint64_t> Appender::Enqueue(std::string_view entry) { return Enqueue(entry, nullptr); }

Result<uint64_t> Appender::Enqueue(std::string_view entry, DurableCallback on_durable) {
  std::lock_guard<std::mutex> lock(mu_);
  return EnqueueLocked(entry, std::move(on_durable), nullptr);
}

Result<uint64_t> Appender::EnqueueLocked(std::string_view entry, DurableCallback on_durable,
                                         std::shared_ptr<Commit>* commit) {
  if (entry.size() > kMaxEntrySize) {
    return tl::make_unexpected(InvalidArgument("entry of " + std::to_string(entry.size()) +
                                               " bytes exceeds the 65,535-byte limit"));
  }
  FB_RETURN_IF_ERROR(Failed());
  if (stopping_) return tl::make_unexpected(FailedPrecondition("the log is closing"));
  AppendToBundle(pending_, entry);
  if (pending_count_++ == 0) work_cv_.notify_one();  // the sequencer sleeps only when none are
  uint64_t index = next_index_++;
  if (on_durable) pending_callbacks_.emplace_back(index, std::move(on_durable));
  if (commit) *commit = open_;
  return index;
}

Status Appender::WaitCommit(Commit& commit, uint64_t index) {
  uint32_t state;
  while ((state = commit.state.load(std::memory_order_acquire)) == Commit::kPending) {
    FutexWait(commit.state, Commit::kPending);
  }
  if (state == Commit::kDurable) return Ok();
  std::lock_guard<std::mutex> lock(mu_);
  FB_RETURN_IF_ERROR(Failed());
  return tl::make_unexpected(Unavailable("index " + std::to_string(index) +
                                         " was not made durable: the log closed"));
}

void Appender::Resolve(Commit& commit, uint32_t state) {
  commit.state.store(state, std::memory_order_release);
  FutexWakeAll(commit.state);
}

Status Appender::WaitSequenced(uint64_t index) {
  std::unique_lock<std::mutex> lock(mu_);
  if (sequenced_size_ > index) return Ok();
  std::shared_ptr<Commit> commit;
  if (syncing_ && index >= syncing_first_ && index < syncing_end_) {
    commit = syncing_;
  } else if (index >= open_first_ && index < next_index_) {
    commit = open_;
  }
  if (commit) {
    lock.unlock();
    return WaitCommit(*commit, index);
  }
  // Not queued yet: wait for it to be queued and sequenced, or for the end.
  ++future_waiters_;
  sequenced_cv_.wait(lock, [&] { return sequenced_size_ > index || failure_ || sequencer_done_; });
  --future_waiters_;
  if (sequenced_size_ > index) return Ok();
  FB_RETURN_IF_ERROR(Failed());
  return tl::make_unexpected(FailedPrecondition("index " + std::to_string(index) +
                                                " was never queued"));
}

Result<uint64_t> Appender::Add(std::string_view entry) {
  std::shared_ptr<Commit> commit;
  uint64_t index;
  {
    std::lock_guard<std::mutex> lock(mu_);
    FB_ASSIGN_OR_RETURN(index, EnqueueLocked(entry, nullptr, &commit));
  }
  FB_RETURN_IF_ERROR(WaitCommit(*commit, index));
  return index;
}

Status Appender::WaitPublished(uint64_t index, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [&] {
    return published_size_ > index || failure_ || publisher_done_ ||
           (sequencer_done_ && sequenced_size_ <= index);
  };
  if (timeout == std::chrono::milliseconds::max()) {
    published_cv_.wait(lock, ready);
  } else if (!published_cv_.wait_for(lock, timeout, ready)) {
    return tl::make_unexpected(Unavailable("index " + std::to_string(index) + " is not published yet"));
  }
  if (published_size_ > index) return Ok();
  FB_RETURN_IF_ERROR(Failed());
  return tl::make_unexpected(FailedPrecondition("index " + std::to_string(index) +
                                                " will not be published"));
}

Result<std::string> Appender::Publish() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = next_index_;
  lock.unlock();
  if (target > 0) FB_RETURN_IF_ERROR(WaitSequenced(target - 1));
  lock.lock();
  publish_now_below_ = std::max(publish_now_below_, target);
  publish_cv_.notify_all();
  published_cv_.wait(lock, [&] { return published_size_ >= target || failure_ || publisher_done_; });
  FB_RETURN_IF_ERROR(Failed());
  if (published_size_ < target) return tl::make_unexpected(FailedPrecondition("the log is closed"));
  return checkpoint_;
}

Status Appender::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    work_cv_.notify_all();
    publish_cv_.notify_all();
  }
  if (sequencer_.joinable()) sequencer_.join();
  if (publisher_.joinable()) publisher_.join();
  std::lock_guard<std::mutex> lock(mu_);
  published_cv_.notify_all();
  sequenced_cv_.notify_all();
  return Failed();
}

uint64_t Appender::sequenced_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sequenced_size_;
}

uint64_t Appender::published_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_size_;
}

std::string Appender::checkpoint() const {
  std::lock_guard<std::mutex> lock(mu_);
  return checkpoint_;
}

void Appender::SequencerLoop() {
  Sha256Hasher hasher;
  // Made ready outside the lock for the next cut: the open commit's
  // successor and the buffers the next entries are queued into.
  auto next_open = std::make_shared<Commit>();
  std::string next_pending;
  std::vector<std::pair<uint64_t, DurableCallback>> callbacks;
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    work_cv_.wait(lock, [&] { return pending_count_ > 0 || stopping_ || failure_; });
    if (failure_ || (pending_count_ == 0 && stopping_)) break;
    // Cut: everything queued so far becomes this commit; new entries join
    // the next one.
    Batch b;
    b.payload.swap(pending_);
    pending_.swap(next_pending);
    uint64_t count = pending_count_;
    pending_count_ = 0;
    callbacks.swap(pending_callbacks_);
    uint64_t first = sequenced_size_;
    std::shared_ptr<Commit> commit = std::move(open_);
    syncing_ = commit;
    syncing_first_ = first;
    syncing_end_ = first + count;
    open_ = std::move(next_open);
    open_first_ = first + count;
    lock.unlock();
    next_open = std::make_shared<Commit>();
    next_pending.reserve(b.payload.size());

    b.leaves.reserve(count);
    size_t off = 0;
    while (off < b.payload.size()) {
      size_t len = (size_t{static_cast<unsigned char>(b.payload[off])} << 8) |
                   static_cast<unsigned char>(b.payload[off + 1]);
      b.leaves.push_back(HashLeaf(hasher, std::string_view(b.payload).substr(off + 2, len)));
      compact_.Append(hasher, b.leaves.back());
      off += 2 + len;
    }
    b.root = compact_.Root(hasher);
    std::string record;
    record.reserve(kWalHeaderSize + b.payload.size() + kHashSize);
    record += kWalMagic;
    PutBe(record, first, 8);
    PutBe(record, count, 4);
    PutBe(record, b.payload.size(), 4);
    record += b.payload;
    record += DigestBytes(b.root);
    Status st = storage_.AppendWal(record);

    lock.lock();
    syncing_.reset();
    if (!st) {
      failure_ = st.error().WithContext("write-ahead log");
      sequenced_cv_.notify_all();
      published_cv_.notify_all();
      publish_cv_.notify_all();
      Error e = *failure_;
      lock.unlock();
      Resolve(*commit, Commit::kAbandoned);
      for (auto& [index, cb] : callbacks) cb(tl::make_unexpected(e));
      lock.lock();
      break;
    }
    wal_offset_ += record.size();
    sequenced_size_ = first + count;
    b.end_size = sequenced_size_;
    b.wal_end = wal_offset_;
    b.sequenced_at = std::chrono::steady_clock::now();
    to_publish_.push_back(std::move(b));
    if (future_waiters_ > 0) sequenced_cv_.notify_all();
    publish_cv_.notify_all();
    lock.unlock();
    // Durable (AppendWal returned after its fdatasync): wake this commit's
    // callers, and only them, then answer the callbacks, one call each.
    Resolve(*commit, Commit::kDurable);
    for (auto& [index, cb] : callbacks) cb(index);
    callbacks.clear();  // keeps its capacity for the next swap
  }
  std::vector<std::pair<uint64_t, DurableCallback>> orphans;
  std::shared_ptr<Commit> abandoned;
  Error e = Unavailable("the log closed");
  {
    std::lock_guard<std::mutex> lock(mu_);
    sequencer_done_ = true;
    sequenced_cv_.notify_all();
    publish_cv_.notify_all();
    orphans.swap(pending_callbacks_);
    abandoned = open_;  // stays in place: nothing joins it any more
    if (failure_) e = *failure_;
  }
  // Entries queued after the log failed are never durable.
  Resolve(*abandoned, Commit::kAbandoned);
  for (auto& [index, cb] : orphans) cb(tl::make_unexpected(e));
}

std::chrono::steady_clock::time_point Appender::NextStepAt() const {
  // The oldest waiting batch is due at sequenced_at + publish_interval; start
  // early by the last step's duration so that it is published by then. After
  // a step that took longer than the interval this is already past: the next
  // step starts as soon as there is anything to publish (back to back). And
  // never later than one interval after the last step ended, so that an
  // entry after a quiet spell is published at once.
  auto due = to_publish_.front().sequenced_at + options_.publish_interval - last_step_duration_;
  return std::min(due, last_step_end_ + options_.publish_interval);
}

void Appender::PublisherLoop() {
  const uint64_t max_step = std::max<uint64_t>(options_.max_step_entries, 1);
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    publish_cv_.wait(lock, [&] {
      return !to_publish_.empty() || sequencer_done_ || failure_;
    });
    if (failure_) break;
    if (to_publish_.empty()) {
      if (sequencer_done_) break;
      continue;
    }
    // Wait until the oldest batch is due, unless Publish() asked for it now
    // or the log is closing.
    auto now_wanted = [&] {
      const Batch& front = to_publish_.front();
      return stopping_ || failure_.has_value() ||
             front.end_size - front.leaves.size() < publish_now_below_;
    };
    publish_cv_.wait_until(lock, NextStepAt(), now_wanted);
    if (failure_) break;
    // Take whole batches, oldest first, up to max_step entries (at least one
    // batch); the rest goes into the next step, when it is due.
    std::vector<Batch> batches;
    uint64_t entries = 0;
    while (!to_publish_.empty() &&
           (batches.empty() || entries + to_publish_.front().leaves.size() <= max_step)) {
      entries += to_publish_.front().leaves.size();
      batches.push_back(std::move(to_publish_.front()));
      to_publish_.pop_front();
    }
    lock.unlock();
    auto started = std::chrono::steady_clock::now();
    Status st = PublishBatches(std::move(batches));
    last_step_end_ = std::chrono::steady_clock::now();
    last_step_duration_ = last_step_end_ - started;
    lock.lock();
    if (!st) {
      failure_ = st.error().WithContext("publishing");
      sequenced_cv_.notify_all();
      work_cv_.notify_all();
      published_cv_.notify_all();
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  publisher_done_ = true;
  published_cv_.notify_all();
}

Status Appender::PublishBatches(std::vector<Batch> batches, bool retry) {
  if (batches.empty()) return Ok();
  Sha256Hasher hasher;
  for (const Batch& b : batches) {
    size_t off = 0;
    for (const Hash& leaf : b.leaves) {
      size_t len = (size_t{static_cast<unsigned char>(b.payload[off])} << 8) |
                   static_cast<unsigned char>(b.payload[off + 1]);
      tiler_.Append(hasher, std::string_view(b.payload).substr(off + 2, len), leaf);
      off += 2 + len;
    }
  }
  const Batch& last = batches.back();
  Hash root = tiler_.Root(hasher);
  if (root != last.root || tiler_.size() != last.end_size) {
    // Two independent computations disagree: never sign.
    return tl::make_unexpected(Internal("tile root differs from the sequenced root at size " +
                                        std::to_string(last.end_size) + "; not signing"));
  }
  std::vector<TileFile> files = tiler_.Flush();
  files.push_back({kPositionPath, std::to_string(last.end_size) + " " +
                                      std::to_string(last.wal_end) + "\n"});
  Checkpoint cp{signer_.name(), last.end_size, root, {}};
  const NoteSigner* signers[] = {&signer_};
  FB_ASSIGN_OR_RETURN(std::string note, SignNote(cp.Text(), signers));
  // Writing is idempotent (the same files, renamed into place), so a
  // transient failure (out of descriptors, a full disk being cleared) is
  // retried with back-off; only stopping gives up.
  auto backoff = std::chrono::milliseconds(10);
  for (;;) {
    Status st = storage_.WriteFiles(files);
    if (st) st = storage_.WriteCheckpoint(note);
    std::unique_lock<std::mutex> lock(mu_);
    if (st) {
      publish_failing_since_.reset();
      break;
    }
    ++publish_retries_;
    publish_error_ = st.error().ToString();
    if (!publish_failing_since_) publish_failing_since_ = std::chrono::steady_clock::now();
    if (stopping_ || !retry) return st;
    publish_cv_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(1));
  }
  std::lock_guard<std::mutex> lock(mu_);
  published_size_ = last.end_size;
  checkpoint_ = std::move(note);
  published_cv_.notify_all();
  return Ok();
}


AppenderHealth Appender::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  AppenderHealth h;
  h.failed = failure_.has_value();
  h.publish_retries = publish_retries_;
  h.last_error = failure_ ? failure_->ToString() : publish_error_;
  // Stalled: failing for longer than a few publishing intervals (at least 2 s).
  auto limit = std::max<std::chrono::steady_clock::duration>(options_.publish_interval * 4, std::chrono::seconds(2));
  h.publish_stalled = publish_failing_since_ && std::chrono::steady_clock::now() - *publish_failing_since_ > limit;
  return h;
}

}  // namespace firebreak::ledger
