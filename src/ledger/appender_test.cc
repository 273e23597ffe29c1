#include "ledger/appender.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "base/files.h"
#include "ledger/checkpoint.h"
#include "ledger/log_reader.h"
#include "ledger/verify.h"

namespace firebreak::ledger {
namespace {

namespace fs = std::filesystem;

std::string EntryFor(uint64_t i) { return "{\"decision\":\"permit\",\"n\":" + std::to_string(i) + "}"; }

NoteVerifier KeyOf(const NoteSigner& s) { return *NoteVerifier::FromKeyText(s.VerifierKeyText()); }

FileReader ReaderOf(LogStorage& s) {
  return [&s](const std::string& p) { return s.ReadFile(p); };
}

std::vector<std::string> TilePathsOf(MemoryStorage& s) {
  std::vector<std::string> out;
  for (const auto& [p, _] : s.FilesForTest()) {
    if (p.rfind("tile/", 0) == 0) out.push_back(p);
  }
  return out;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("firebreak-ledger-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(AppenderTest, ConcurrentAddsGetDistinctDurableIndicesAndPublish) {
  MemoryStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(signer);
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  auto log = Appender::Open(storage, *signer, {std::chrono::milliseconds(20)});
  ASSERT_TRUE(log) << log.error().ToString();
  constexpr int kThreads = 4, kPerThread = 300;
  std::vector<std::vector<std::pair<uint64_t, std::string>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string e = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto index = (*log)->Add(e);
        ASSERT_TRUE(index) << index.error().ToString();
        ASSERT_LT(*index, (*log)->sequenced_size() + 0 + 1 + kThreads * kPerThread);
        got[t].emplace_back(*index, e);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> indices;
  for (const auto& v : got) {
    for (const auto& [i, e] : v) indices.insert(i);
  }
  EXPECT_EQ(indices.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*indices.rbegin(), uint64_t{kThreads * kPerThread - 1});
  ASSERT_TRUE((*log)->WaitPublished(kThreads * kPerThread - 1));
  ASSERT_TRUE((*log)->Close());

  NoteVerifier key = KeyOf(*signer);
  auto report = VerifyLog(ReaderOf(storage), key, "", nullptr, TilePathsOf(storage));
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->checkpoint.size, uint64_t{kThreads * kPerThread});
  // Every acknowledged entry is at its index.
  TileNodeReader nodes(ReaderOf(storage), report->checkpoint.size);
  for (const auto& v : got) {
    for (const auto& [i, e] : v) {
      auto proof = InclusionProof(i, report->checkpoint.size, nodes.AsNodeReader());
      ASSERT_TRUE(proof);
      EXPECT_TRUE(VerifyInclusion(i, report->checkpoint.size, HashLeaf(e), *proof,
                                  report->checkpoint.root));
    }
  }
}

// A storage whose tile and checkpoint writes fail while `failing` is set (out
// of descriptors, say); the write-ahead log keeps working.
class FlakyPublishStorage : public MemoryStorage {
 public:
  std::atomic<bool> failing{false};
  Status WriteFiles(std::span<const TileFile> files) override {
    if (failing.load()) return tl::make_unexpected(IoError("open tile: Too many open files"));
    return MemoryStorage::WriteFiles(files);
  }
  Status WriteCheckpoint(std::string_view note) override {
    if (failing.load()) return tl::make_unexpected(IoError("open checkpoint: Too many open files"));
    return MemoryStorage::WriteCheckpoint(note);
  }
};

TEST(AppenderTest, PublishingFailuresAreRetriedNotLatched) {
  FlakyPublishStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(signer);
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  auto log = Appender::Open(storage, *signer, {std::chrono::milliseconds(10)});
  ASSERT_TRUE(log) << log.error().ToString();
  storage.failing = true;
  auto first = (*log)->Add(EntryFor(0));
  ASSERT_TRUE(first);  // durable in the write-ahead log whatever publishing does
  // Publishing fails and is retried; adding goes on; health says so.
  for (int i = 0; i < 200 && (*log)->health().publish_retries < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  AppenderHealth h = (*log)->health();
  EXPECT_GE(h.publish_retries, 3u);
  EXPECT_FALSE(h.failed);
  EXPECT_NE(h.last_error.find("Too many open files"), std::string::npos) << h.last_error;
  EXPECT_EQ((*log)->published_size(), 0u);
  ASSERT_TRUE((*log)->Add(EntryFor(1)));
  // It stalls after long enough (2 s at this interval): /readyz turns 503.
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  EXPECT_TRUE((*log)->health().publish_stalled);
  // Once the storage recovers, both entries are published and all is well.
  storage.failing = false;
  ASSERT_TRUE((*log)->WaitPublished(1));
  h = (*log)->health();
  EXPECT_FALSE(h.failed);
  EXPECT_FALSE(h.publish_stalled);
  EXPECT_EQ((*log)->published_size(), 2u);
  ASSERT_TRUE((*log)->Close());
  auto report = VerifyLog(ReaderOf(storage), KeyOf(*signer), "", nullptr);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->entries, 2u);
}

// A storage whose write-ahead log appends wait at a gate the test opens one
// append at a time, optionally failing one; `durable_end` is how far the log
// is durable (set just before AppendWal returns, i.e. after its "fdatasync").
class GatedWalStorage : public MemoryStorage {
 public:
  std::atomic<uint64_t> durable_end{0};

  Status AppendWal(std::string_view bytes) override {
    {
      std::unique_lock<std::mutex> lock(gate_mu_);
      ++entered_;
      gate_cv_.notify_all();
      gate_cv_.wait(lock, [&] { return permits_ > 0; });
      --permits_;
      if (fail_at_ == entered_) return tl::make_unexpected(IoError("fdatasync wal/log: Input/output error"));
    }
    FB_RETURN_IF_ERROR(MemoryStorage::AppendWal(bytes));
    // The batch header: "FBW1" | first index u64 BE | count u32 BE | ...
    uint64_t first = 0, count = 0;
    for (int i = 4; i < 12; ++i) first = (first << 8) | static_cast<unsigned char>(bytes[i]);
    for (int i = 12; i < 16; ++i) count = (count << 8) | static_cast<unsigned char>(bytes[i]);
    durable_end.store(first + count);
    return Ok();
  }
  // Lets `n` more appends through.
  void Allow(int n) {
    std::lock_guard<std::mutex> lock(gate_mu_);
    permits_ += n;
    gate_cv_.notify_all();
  }
  // Waits until the sequencer has entered AppendWal `n` times in all.
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(gate_mu_);
    gate_cv_.wait(lock, [&] { return entered_ >= n; });
  }
  // The same, giving up after `timeout` (false).
  bool WaitEnteredFor(int n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(gate_mu_);
    return gate_cv_.wait_for(lock, timeout, [&] { return entered_ >= n; });
  }
  // The `n`-th append (from 1) fails instead of writing.
  void FailAppend(int n) {
    std::lock_guard<std::mutex> lock(gate_mu_);
    fail_at_ = n;
  }

 private:
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  int permits_ = 0;
  int entered_ = 0;
  int fail_at_ = -1;
};

// Each caller blocked in Add() is woken by its own group commit: with its own
// index, never before that commit's append returned, and every one of them.
TEST(AppenderTest, HeldSyncWakesEachCallerWithItsOwnIndexOnlyOnceDurable) {
  GatedWalStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  auto log = Appender::Open(storage, *signer, {std::chrono::milliseconds(5)});
  ASSERT_TRUE(log) << log.error().ToString();

  // The first commit is held inside its append.
  std::thread first([&] { EXPECT_EQ((*log)->Add("first"), 0u); });
  storage.WaitEntered(1);

  constexpr int kThreads = 64, kPerThread = 20;
  std::atomic<int> returned{0}, early{0};
  std::vector<std::vector<std::pair<uint64_t, std::string>>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        std::string e = "caller " + std::to_string(t) + " entry " + std::to_string(k);
        auto index = (*log)->Add(e);
        ASSERT_TRUE(index) << index.error().ToString();
        if (*index >= storage.durable_end.load()) ++early;  // answered before durable
        got[t].emplace_back(*index, e);
        ++returned;
      }
    });
  }
  // Give the callers time to queue behind the held commit (the checks below
  // hold however far they got): while it is held, nobody is answered.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(returned.load(), 0);
  EXPECT_EQ((*log)->sequenced_size(), 0u);
  // Release the commits one by one: each release answers some callers and
  // only ones whose entries are durable.
  // (The last release answers the last callers and no append follows.)
  for (int n = 2; returned.load() < kThreads * kPerThread; ++n) {
    storage.Allow(1);
    while (!storage.WaitEnteredFor(n, std::chrono::milliseconds(10)) &&
           returned.load() < kThreads * kPerThread) {
    }
  }
  storage.Allow(1 << 20);
  first.join();
  for (auto& th : threads) th.join();
  EXPECT_EQ(early.load(), 0);

  // Every caller got a distinct index, and the entry at its index is its own.
  auto cp = (*log)->Publish();
  ASSERT_TRUE(cp) << cp.error().ToString();
  LogReader reader(storage, KeyOf(*signer));
  auto snap = reader.Latest();
  ASSERT_TRUE(snap) << snap.error().ToString();
  std::set<uint64_t> seen{0};
  for (const auto& mine : got) {
    ASSERT_EQ(mine.size(), static_cast<size_t>(kPerThread));
    for (const auto& [index, text] : mine) {
      EXPECT_TRUE(seen.insert(index).second) << "index " << index << " answered twice";
      auto stored = reader.Entry(*snap, index);
      ASSERT_TRUE(stored) << stored.error().ToString();
      EXPECT_EQ(*stored, text);
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread + 1));
  EXPECT_EQ(*seen.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));
  ASSERT_TRUE((*log)->Close());
}

// A failed append answers its commit's callers, and those queued behind it,
// with the error (none hangs, none is told "durable"); later adds fail too.
TEST(AppenderTest, FailedSyncWakesEveryWaitingCallerWithTheError) {
  GatedWalStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  auto log = Appender::Open(storage, *signer, {std::chrono::milliseconds(5)});
  ASSERT_TRUE(log) << log.error().ToString();
  storage.FailAppend(2);

  std::thread first([&] { EXPECT_EQ((*log)->Add("first"), 0u); });
  storage.WaitEntered(1);
  constexpr int kThreads = 32;
  std::atomic<int> ok{0}, failed{0}, early{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto index = (*log)->Add("caller " + std::to_string(t));
      if (index) {
        if (*index >= storage.durable_end.load()) ++early;
        ++ok;
      } else {
        EXPECT_EQ(index.error().code(), ErrorCode::kIo) << index.error().ToString();
        ++failed;
      }
    });
  }
  // Also a caller waiting on an index that is not queued yet.
  std::thread future([&] {
    Status st = (*log)->WaitSequenced(1000);
    EXPECT_FALSE(st);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  storage.Allow(1 << 20);  // the first append succeeds, the second fails
  first.join();
  for (auto& th : threads) th.join();
  future.join();
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(ok.load() + failed.load(), kThreads);
  EXPECT_GE(failed.load(), 1);
  EXPECT_EQ(storage.durable_end.load(), 1u + static_cast<uint64_t>(ok.load()));
  EXPECT_TRUE((*log)->health().failed);
  EXPECT_FALSE((*log)->Add("after"));
  EXPECT_FALSE((*log)->Close());
}

// WaitSequenced finds the commit of an index that is queued (open or being
// written) and waits for an index that is not queued yet until it is durable.
TEST(AppenderTest, WaitSequencedForQueuedAndNotYetQueuedIndices) {
  GatedWalStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  auto log = Appender::Open(storage, *signer, {std::chrono::milliseconds(5)});
  ASSERT_TRUE(log) << log.error().ToString();
  std::atomic<bool> future_done{false};
  std::thread future([&] {
    EXPECT_TRUE((*log)->WaitSequenced(5));
    EXPECT_GE(storage.durable_end.load(), 6u);
    future_done = true;
  });
  ASSERT_EQ((*log)->Enqueue(EntryFor(0)), 0u);
  storage.WaitEntered(1);  // index 0 is being written, held
  for (int i = 1; i < 6; ++i) ASSERT_EQ((*log)->Enqueue(EntryFor(i)), static_cast<uint64_t>(i));
  std::atomic<int> done{0};
  std::thread w0([&] {
    EXPECT_TRUE((*log)->WaitSequenced(0));
    EXPECT_GE(storage.durable_end.load(), 1u);
    ++done;
  });
  std::thread w3([&] {
    EXPECT_TRUE((*log)->WaitSequenced(3));
    EXPECT_GE(storage.durable_end.load(), 4u);
    ++done;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(done.load(), 0);
  EXPECT_FALSE(future_done.load());
  storage.Allow(1 << 20);
  w0.join();
  w3.join();
  future.join();
  EXPECT_TRUE((*log)->WaitSequenced(5));
  ASSERT_TRUE((*log)->Close());
  // After the close, an index never queued is an error, not a hang.
  EXPECT_EQ((*log)->WaitSequenced(6).error().code(), ErrorCode::kFailedPrecondition);
}

TEST(LogReaderTest, ReadsEntriesRangesAndReceiptsAgainstOneCheckpoint) {
  MemoryStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(signer);
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  auto log = Appender::Open(storage, *signer, {std::chrono::milliseconds(5)});
  ASSERT_TRUE(log);
  for (uint64_t i = 0; i < 300; ++i) ASSERT_TRUE((*log)->Add(EntryFor(i)));
  ASSERT_TRUE((*log)->WaitPublished(299));
  LogReader reader(storage, KeyOf(*signer));
  auto snap = reader.Latest();
  ASSERT_TRUE(snap) << snap.error().ToString();
  EXPECT_EQ(snap->checkpoint.size, 300u);
  EXPECT_EQ(*reader.Entry(*snap, 257), EntryFor(257));
  std::vector<uint64_t> seen;
  ASSERT_TRUE(reader.ForEachEntry(*snap, 250, 260, [&](uint64_t i, std::string_view e) {
    EXPECT_EQ(e, EntryFor(i));
    seen.push_back(i);
    return Ok();
  }));
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_FALSE(reader.Entry(*snap, 300));
  auto receipt = reader.ReceiptFor(*snap, 42);
  ASSERT_TRUE(receipt) << receipt.error().ToString();
  EXPECT_EQ(receipt->extra, EntryFor(42));
  auto key = KeyOf(*signer);
  EXPECT_TRUE(VerifyReceipt(*receipt, receipt->extra, key, {}, 0));
  // Another log's key does not open the checkpoint.
  auto other = NoteSigner::Generate("firebreak.example/test");
  LogReader wrong(storage, KeyOf(*other));
  EXPECT_FALSE(wrong.Latest());
  ASSERT_TRUE((*log)->Close());
}

TEST(AppenderTest, EnqueueThenWaitAndOversizedEntries) {
  MemoryStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  auto log = Appender::Open(storage, *signer, {std::chrono::milliseconds(1000)});
  ASSERT_TRUE(log);
  EXPECT_EQ((*log)->Add(std::string(65536, 'x')).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE((*log)->Add(std::string(65535, 'x')));
  uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) last = *(*log)->Enqueue(EntryFor(i));
  EXPECT_EQ(last, 1000u);
  ASSERT_TRUE((*log)->WaitSequenced(last));
  auto cp = (*log)->Publish();
  ASSERT_TRUE(cp);
  EXPECT_EQ((*log)->published_size(), 1001u);
  auto opened = OpenCheckpoint(*cp, KeyOf(*signer));
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->size, 1001u);
}

// A storage that records every checkpoint it is given, checking at that
// moment that every tile and bundle the checkpoint's tree needs is already
// written (MemoryStorage writes are durable on return), and whose tile writes
// can be held at a gate.
class StepRecordingStorage : public MemoryStorage {
 public:
  Status WriteFiles(std::span<const TileFile> files) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++writes_entered_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !held_; });
    }
    return MemoryStorage::WriteFiles(files);
  }
  Status WriteCheckpoint(std::string_view note) override {
    // The note's text ends at the blank line before its signatures.
    auto cp = ParseCheckpoint(note.substr(0, note.find("\n\n") + 1));
    if (!cp) return tl::make_unexpected(cp.error());
    {
      std::lock_guard<std::mutex> lock(mu_);
      sizes_.push_back(cp->size);
      for (const TileRef& t : TilesForSize(cp->size, /*with_bundles=*/true)) {
        if (!FilesForTest().count(t.Path())) missing_.push_back(t.Path());
      }
    }
    return MemoryStorage::WriteCheckpoint(note);
  }
  void Hold(bool held) {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = held;
    cv_.notify_all();
  }
  void WaitWritesEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return writes_entered_ >= n; });
  }
  std::vector<uint64_t> sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return sizes_;
  }
  std::vector<std::string> missing() {
    std::lock_guard<std::mutex> lock(mu_);
    return missing_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int writes_entered_ = 0;
  std::vector<uint64_t> sizes_;       // of every checkpoint written, in order
  std::vector<std::string> missing_;  // tiles a checkpoint needed that were not there
};

// A backlog is published oldest first in steps of at most max_step_entries
// (whole batches), each with its own checkpoint, and no checkpoint is written
// before every tile and bundle of its tree is.
TEST(AppenderTest, BacklogIsPublishedInBoundedStepsEachTiledBeforeItsCheckpoint) {
  StepRecordingStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  AppenderOptions options;
  options.publish_interval = std::chrono::hours(1);  // only Publish() and Close() publish
  options.max_step_entries = 100;
  auto log = Appender::Open(storage, *signer, options);
  ASSERT_TRUE(log) << log.error().ToString();
  // One entry per batch (each Add waits for its own commit): 1,000 batches.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE((*log)->Add(EntryFor(i)));
  auto cp = (*log)->Publish();
  ASSERT_TRUE(cp) << cp.error().ToString();
  EXPECT_EQ((*log)->published_size(), 1000u);
  std::vector<uint64_t> sizes = storage.sizes();
  ASSERT_EQ(sizes.size(), 1u + 10u);  // InitLog's empty tree, then ten steps
  EXPECT_EQ(sizes.front(), 0u);
  for (size_t i = 1; i < sizes.size(); ++i) {
    EXPECT_GT(sizes[i], sizes[i - 1]) << "step " << i;
    EXPECT_LE(sizes[i] - sizes[i - 1], 100u) << "step " << i;
  }
  EXPECT_EQ(sizes.back(), 1000u);
  EXPECT_TRUE(storage.missing().empty()) << storage.missing().front();

  // A batch larger than the limit is never split: it is one step.
  uint64_t last = 0;
  for (int i = 0; i < 300; ++i) last = *(*log)->Enqueue(EntryFor(1000 + i));
  ASSERT_TRUE((*log)->WaitSequenced(last));
  ASSERT_TRUE((*log)->Publish());
  ASSERT_TRUE((*log)->Close());
  sizes = storage.sizes();
  EXPECT_EQ(sizes.back(), 1300u);
  EXPECT_TRUE(storage.missing().empty()) << storage.missing().front();
  auto report = VerifyLog(ReaderOf(storage), KeyOf(*signer), *cp, nullptr, TilePathsOf(storage));
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->checkpoint.size, 1300u);
}

// When a step took longer than the publishing interval, the entries that
// were sequenced meanwhile are published by a step that starts at once,
// not one interval later.
TEST(AppenderTest, AfterALongStepTheNextStartsAtOnce) {
  StepRecordingStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  const auto interval = std::chrono::milliseconds(1500);
  auto log = Appender::Open(storage, *signer, {interval});
  ASSERT_TRUE(log) << log.error().ToString();
  ASSERT_TRUE((*log)->Add(EntryFor(0)));
  storage.Hold(true);
  // A step for entry 0, forced now, and held while writing its tiles for
  // longer than the interval.
  std::thread publish([&] { EXPECT_TRUE((*log)->Publish()); });
  storage.WaitWritesEntered(1);
  std::this_thread::sleep_for(interval + std::chrono::milliseconds(100));
  auto second = (*log)->Add(EntryFor(1));  // sequenced just before the step ends
  ASSERT_TRUE(second);
  storage.Hold(false);
  publish.join();
  // Due one interval after it was sequenced, but the last step's duration
  // says to start now: published well within half an interval.
  EXPECT_TRUE((*log)->WaitPublished(*second, interval / 2));
  ASSERT_TRUE((*log)->Close());
  EXPECT_TRUE(storage.missing().empty());
}

// A copy of the storage taken while entries are sequenced but not yet
// published is what a crash leaves: reopening publishes them, consistently.
TEST(AppenderTest, RecoveryPublishesSequencedEntries) {
  MemoryStorage storage;
  auto signer = NoteSigner::Generate("firebreak.example/test");
  ASSERT_TRUE(Appender::InitLog(storage, *signer));
  NoteVerifier key = KeyOf(*signer);
  std::string first_cp;
  MemoryStorage crashed;
  {
    auto log = Appender::Open(storage, *signer, {std::chrono::hours(1)});
    ASSERT_TRUE(log);
    for (int i = 0; i < 300; ++i) ASSERT_TRUE((*log)->Add(EntryFor(i)));
    first_cp = *(*log)->Publish();
    for (int i = 300; i < 700; ++i) ASSERT_TRUE((*log)->Add(EntryFor(i)));
    EXPECT_EQ((*log)->published_size(), 300u);
    crashed.FilesForTest() = storage.FilesForTest();
    crashed.WalForTest() = storage.WalForTest();
  }
  // Tear the tail as a crash in mid-write would: half of a new batch.
  std::string torn = "FBW1" + std::string(8, '\0') + "garbage";
  crashed.WalForTest() += torn;
  auto log = Appender::Open(crashed, *signer, {std::chrono::milliseconds(10)});
  ASSERT_TRUE(log) << log.error().ToString();
  EXPECT_EQ((*log)->sequenced_size(), 700u);
  EXPECT_EQ((*log)->published_size(), 700u);
  EXPECT_EQ(*(*log)->Add("after"), 700u);
  ASSERT_TRUE((*log)->Close());
  auto report = VerifyLog(ReaderOf(crashed), key, first_cp, nullptr, TilePathsOf(crashed));
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->checkpoint.size, 701u);
  EXPECT_TRUE(report->old_checked);
}

TEST(AppenderTest, PosixLogSurvivesReopenAndTornTail) {
  TempDir dir;
  auto signer = NoteSigner::Generate("firebreak.example/posix");
  ASSERT_TRUE(PosixStorage::Create(dir.str()));
  EXPECT_EQ(PosixStorage::Create(dir.str()).error().code(), ErrorCode::kAlreadyExists);
  std::string cp1;
  {
    auto storage = PosixStorage::Open(dir.str());
    ASSERT_TRUE(storage) << storage.error().ToString();
    // A second writer is refused.
    EXPECT_EQ(PosixStorage::Open(dir.str()).error().code(), ErrorCode::kUnavailable);
    ASSERT_TRUE(Appender::InitLog(**storage, *signer));
    auto log = Appender::Open(**storage, *signer);
    ASSERT_TRUE(log);
    for (int i = 0; i < 600; ++i) ASSERT_TRUE((*log)->Add(EntryFor(i)));
    cp1 = *(*log)->Publish();
    for (int i = 600; i < 1000; ++i) ASSERT_TRUE((*log)->Add(EntryFor(i)));
    ASSERT_TRUE((*log)->Close());
  }
  // Append a torn batch by hand.
  {
    auto wal = ReadFile(dir.str() + "/wal/log");
    ASSERT_TRUE(wal);
    std::string tail = wal->substr(0, 37);  // a header and a bit: torn
    ASSERT_TRUE(WriteFileAtomically(dir.str() + "/wal/log", *wal + tail));
  }
  auto storage = PosixStorage::Open(dir.str());
  ASSERT_TRUE(storage);
  auto log = Appender::Open(**storage, *signer);
  ASSERT_TRUE(log) << log.error().ToString();
  EXPECT_EQ((*log)->sequenced_size(), 1000u);
  EXPECT_EQ(*(*log)->Add("x"), 1000u);
  ASSERT_TRUE((*log)->Close());
  NoteVerifier key = KeyOf(*signer);
  auto report = VerifyLog([&](const std::string& p) { return (*storage)->ReadFile(p); }, key, cp1,
                          nullptr);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->checkpoint.size, 1001u);
  EXPECT_FALSE(fs::exists(dir.str() + "/key"));
}

// ---- Tamper tests: verify must fail on every change. ----

class TamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signer_.emplace(*NoteSigner::Generate("firebreak.example/tamper"));
    ASSERT_TRUE(Appender::InitLog(storage_, *signer_));
    auto log = Appender::Open(storage_, *signer_, {std::chrono::hours(1)});
    ASSERT_TRUE(log);
    // Several checkpoints, so older partial tiles exist too.
    for (int i = 0; i < 700; ++i) {
      ASSERT_TRUE((*log)->Add(EntryFor(i)));
      if (i == 99 || i == 300 || i == 555) {
        std::string cp = *(*log)->Publish();
        if (i == 300) old_checkpoint_ = cp;
      }
    }
    ASSERT_TRUE((*log)->Publish());
    ASSERT_TRUE((*log)->Close());
    key_.emplace(KeyOf(*signer_));
    ASSERT_TRUE(Verify()) << Verify().error().ToString();
  }

  Result<VerifyReport> Verify() {
    return VerifyLog(ReaderOf(storage_), *key_, old_checkpoint_, nullptr, TilePathsOf(storage_));
  }

  MemoryStorage storage_;
  std::optional<NoteSigner> signer_;
  std::optional<NoteVerifier> key_;
  std::string old_checkpoint_;
};

TEST_F(TamperTest, FlippingAByteOfAnyFileFails) {
  std::mt19937 rng(5);
  int flips = 0;
  std::vector<std::string> paths;
  for (const auto& [p, _] : storage_.FilesForTest()) {
    if (p != "wal/position") paths.push_back(p);
  }
  ASSERT_GT(paths.size(), 10u);
  for (const std::string& path : paths) {
    std::string& data = storage_.FilesForTest()[path];
    std::vector<size_t> positions = {0, data.size() / 2, data.size() - 1};
    for (int k = 0; k < 3; ++k) positions.push_back(rng() % data.size());
    for (size_t pos : positions) {
      for (unsigned char bit : {0x01, 0x80}) {
        data[pos] = static_cast<char>(data[pos] ^ bit);
        auto r = Verify();
        EXPECT_FALSE(r) << "flipping bit " << int(bit) << " of byte " << pos << " of " << path
                        << " went unnoticed";
        data[pos] = static_cast<char>(data[pos] ^ bit);
        ++flips;
      }
    }
  }
  EXPECT_GT(flips, 100);
  ASSERT_TRUE(Verify());
}

TEST_F(TamperTest, TruncatingOrDroppingABundleFails) {
  for (const char* path : {"tile/entries/000", "tile/entries/002.p/188"}) {
    std::string saved = storage_.FilesForTest()[path];
    storage_.FilesForTest()[path] = saved.substr(0, saved.size() - 1);
    EXPECT_FALSE(Verify()) << path;
    // Dropping the last entry whole (a clean cut) also fails.
    auto entries = ParseBundle(saved);
    ASSERT_TRUE(entries);
    storage_.FilesForTest()[path] =
        saved.substr(0, saved.size() - entries->back().size() - 2);
    EXPECT_FALSE(Verify()) << path;
    storage_.FilesForTest().erase(path);
    EXPECT_FALSE(Verify()) << path;
    storage_.FilesForTest()[path] = saved;
  }
  ASSERT_TRUE(Verify());
}

TEST_F(TamperTest, ResignedRewrittenHistoryFailsAgainstAnOldCheckpoint) {
  // The operator rewrites entry 7 and re-signs everything with the log key.
  MemoryStorage rewritten;
  ASSERT_TRUE(Appender::InitLog(rewritten, *signer_));
  {
    auto log = Appender::Open(rewritten, *signer_, {std::chrono::hours(1)});
    ASSERT_TRUE(log);
    for (int i = 0; i < 700; ++i) ASSERT_TRUE((*log)->Add(i == 7 ? "{\"decision\":\"deny\"}" : EntryFor(i)));
    ASSERT_TRUE((*log)->Close());
  }
  // On its own the rewritten log is well formed...
  ASSERT_TRUE(VerifyLog(ReaderOf(rewritten), *key_, "", nullptr));
  // ...but not against a checkpoint anyone kept from before.
  auto r = VerifyLog(ReaderOf(rewritten), *key_, old_checkpoint_, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not consistent"), std::string::npos) << r.error().message();
  // A shorter log than an old checkpoint also fails.
  MemoryStorage shorter;
  ASSERT_TRUE(Appender::InitLog(shorter, *signer_));
  {
    auto log = Appender::Open(shorter, *signer_);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*log)->Add(EntryFor(i)));
    ASSERT_TRUE((*log)->Close());
  }
  EXPECT_FALSE(VerifyLog(ReaderOf(shorter), *key_, old_checkpoint_, nullptr));
  // And a checkpoint signed by another key does not verify at all.
  auto other = NoteSigner::Generate("firebreak.example/tamper");
  NoteVerifier other_key = KeyOf(*other);
  EXPECT_FALSE(VerifyLog(ReaderOf(storage_), other_key, "", nullptr));
}

}  // namespace
}  // namespace firebreak::ledger
