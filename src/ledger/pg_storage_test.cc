// The log's storage on PostgreSQL: the LogStorage contract (on every
// backend), the Appender over it, the lease (acquire, renew, expire, take
// over, epochs that only grow), fencing (a writer with an old epoch is
// refused), recovery by a new sequencer, and real processes: a sequencer
// paused past its lease writes nothing after another took over, and
// sequencers killed with SIGKILL at random instants lose nothing they
// acknowledged.
//
// The server: FIREBREAK_TEST_PG_URL (scripts/test.sh), else a throwaway one
// started here with scripts/pg-local.sh; the PostgreSQL tests skip, saying
// why, only when neither is possible.
#include "ledger/pg_storage.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "base/files.h"
#include "ledger/cluster_log.h"
#include "ledger/ledger.h"
#include "ledger/testing/pg_test_server.h"

namespace firebreak::ledger {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing_pg::Query;
using testing_pg::Server;

// A log name of the current test's own (all tests share one database).
std::string TestLogName() {
  std::string name = "t" + std::to_string(::getpid()) + "_";
  for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(static_cast<unsigned char>(c))) : '_';
  }
  return name;
}

std::unique_ptr<PgLogStorage> OpenPg(const std::string& log) {
  auto s = PgLogStorage::Open(Server().url, log);
  EXPECT_TRUE(s) << s.error().ToString();
  return s ? std::move(*s) : nullptr;
}

// Waits (bounded) until the lease of `s`'s log is no longer live.
bool WaitExpired(PgLogStorage& s, std::chrono::milliseconds limit = 20s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    auto l = s.CurrentLease();
    if (l && (!*l || !(*l)->live)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

uint64_t SizeOfCheckpoint(const std::string& note) {
  auto n = ParseNote(note);
  if (!n) return 0;
  auto cp = ParseCheckpoint(n->text);
  return cp ? cp->size : 0;
}

std::string EntryFor(uint64_t i) { return "{\"decision\":\"permit\",\"n\":" + std::to_string(i) + "}"; }
NoteVerifier KeyOf(const NoteSigner& s) { return *NoteVerifier::FromKeyText(s.VerifierKeyText()); }
FileReader ReaderOf(LogStorage& s) {
  return [&s](const std::string& p) { return s.ReadFile(p); };
}

// ---- The LogStorage contract, on every backend ----

class StorageContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      storage_ = std::make_unique<MemoryStorage>();
    } else if (GetParam() == "posix") {
      dir_ = fs::temp_directory_path() / ("firebreak-pglog-contract-" + std::to_string(::getpid()));
      fs::remove_all(dir_);
      ASSERT_TRUE(PosixStorage::Create(dir_.string()));
      auto s = PosixStorage::Open(dir_.string());
      ASSERT_TRUE(s) << s.error().ToString();
      storage_ = std::move(*s);
    } else {
      REQUIRE_PG();
      auto pg = OpenPg(TestLogName() + "_" + std::to_string(counter_++));
      ASSERT_TRUE(pg);
      auto epoch = pg->TryAcquireLease("contract", 60s);
      ASSERT_TRUE(epoch && *epoch);
      storage_ = std::move(pg);
    }
  }
  void TearDown() override {
    storage_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  static inline int counter_ = 0;
  std::unique_ptr<LogStorage> storage_;
  fs::path dir_;
};

TEST_P(StorageContract, WriteAheadLogAppendsReadsAcrossBatchesAndTruncates) {
  LogStorage& s = *storage_;
  EXPECT_EQ(*s.WalSize(), 0u);
  EXPECT_EQ(*s.ReadWal(0, 10), "");
  ASSERT_TRUE(s.AppendWal("hello "));
  ASSERT_TRUE(s.AppendWal("write-ahead "));
  ASSERT_TRUE(s.AppendWal(std::string("log\0!", 5)));
  EXPECT_EQ(*s.WalSize(), 23u);
  EXPECT_EQ(*s.ReadWal(0, 100), std::string("hello write-ahead log\0!", 23));
  EXPECT_EQ(*s.ReadWal(3, 10), "lo write-a");  // across two batches
  EXPECT_EQ(*s.ReadWal(18, 3), "log");
  EXPECT_EQ(*s.ReadWal(23, 3), "");
  EXPECT_EQ(*s.ReadWal(100, 3), "");
  ASSERT_TRUE(s.TruncateWal(18));
  EXPECT_EQ(*s.WalSize(), 18u);
  EXPECT_EQ(*s.ReadWal(0, 100), "hello write-ahead ");
  ASSERT_TRUE(s.TruncateWal(8));  // inside a batch: byte-wise
  EXPECT_EQ(*s.ReadWal(0, 100), "hello wr");
  ASSERT_TRUE(s.AppendWal("ong"));
  EXPECT_EQ(*s.ReadWal(0, 100), "hello wrong");
  EXPECT_EQ(*s.WalSize(), 11u);
}

TEST_P(StorageContract, FilesAndCheckpointAreReplacedWhole) {
  LogStorage& s = *storage_;
  auto missing = s.ReadFile("tile/0/000");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  std::string binary("\x00\xff\x01 tile", 8);
  std::vector<TileFile> files = {{"tile/0/000", binary}, {"tile/entries/000.p/3", "bundle"}};
  ASSERT_TRUE(s.WriteFiles(files));
  EXPECT_EQ(*s.ReadFile("tile/0/000"), binary);
  EXPECT_EQ(*s.ReadFile("tile/entries/000.p/3"), "bundle");
  std::vector<TileFile> again = {{"tile/0/000", "new"}};
  ASSERT_TRUE(s.WriteFiles(again));
  EXPECT_EQ(*s.ReadFile("tile/0/000"), "new");
  ASSERT_TRUE(s.WriteFiles({}));
  ASSERT_TRUE(s.WriteCheckpoint("cp one\n"));
  ASSERT_TRUE(s.WriteCheckpoint("cp two\n"));
  EXPECT_EQ(*s.ReadFile("checkpoint"), "cp two\n");
}

TEST_P(StorageContract, AppenderRecoversAndTheLogVerifies) {
  LogStorage& s = *storage_;
  auto signer = NoteSigner::Generate("firebreak.example/contract");
  ASSERT_TRUE(signer);
  ASSERT_TRUE(Appender::InitLog(s, *signer));
  {
    auto log = Appender::Open(s, *signer, {20ms});
    ASSERT_TRUE(log) << log.error().ToString();
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) ASSERT_TRUE((*log)->Add(EntryFor(uint64_t(t * 1000 + i))));
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE((*log)->Close());
  }
  auto log = Appender::Open(s, *signer, {20ms});
  ASSERT_TRUE(log) << log.error().ToString();
  EXPECT_EQ((*log)->sequenced_size(), 300u);
  auto index = (*log)->Add(EntryFor(9999));
  ASSERT_TRUE(index);
  EXPECT_EQ(*index, 300u);
  ASSERT_TRUE((*log)->Publish());
  ASSERT_TRUE((*log)->Close());
  auto report = VerifyLog(ReaderOf(s), KeyOf(*signer), "", nullptr);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->checkpoint.size, 301u);
  LogReader reader(s, KeyOf(*signer));
  auto snap = reader.Latest();
  ASSERT_TRUE(snap);
  EXPECT_EQ(*reader.Entry(*snap, 300), EntryFor(9999));
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContract, ::testing::Values("memory", "posix", "postgresql"),
                         [](const auto& info) { return info.param; });

// ---- The lease ----

TEST(PgLeaseTest, AcquireRenewExpireTakeOverWithGrowingEpochs) {
  REQUIRE_PG();
  std::string log = TestLogName();
  auto a = OpenPg(log), b = OpenPg(log);
  ASSERT_TRUE(a && b);
  auto ea = a->TryAcquireLease("node-a", 60s);
  ASSERT_TRUE(ea) << ea.error().ToString();
  ASSERT_TRUE(*ea);
  EXPECT_EQ(**ea, 1u);
  EXPECT_EQ(a->epoch(), 1u);
  // A live lease is not taken, and a renewal keeps it.
  auto eb = b->TryAcquireLease("node-b", 60s);
  ASSERT_TRUE(eb);
  EXPECT_FALSE(*eb);
  EXPECT_EQ(b->epoch(), 0u);
  ASSERT_TRUE(a->RenewLease(60s));
  auto info = a->CurrentLease();
  ASSERT_TRUE(info && *info);
  EXPECT_EQ((*info)->holder, "node-a");
  EXPECT_EQ((*info)->epoch, 1u);
  EXPECT_TRUE((*info)->live);

  // Shortened to expire: nobody renews it, b takes over with a new epoch,
  // and a's renewal is refused.
  ASSERT_TRUE(a->RenewLease(50ms));
  ASSERT_TRUE(WaitExpired(*b));
  auto renew_late = a->RenewLease(60s);
  ASSERT_FALSE(renew_late);
  EXPECT_EQ(renew_late.error().code(), ErrorCode::kFailedPrecondition);
  eb = b->TryAcquireLease("node-b", 60s);
  ASSERT_TRUE(eb && *eb);
  EXPECT_EQ(**eb, 2u);
  info = b->CurrentLease();
  ASSERT_TRUE(info && *info);
  EXPECT_EQ((*info)->holder, "node-b");

  // Released: taken at once, the epoch still grows; many takeovers, each
  // with a greater epoch than the last.
  uint64_t last = **eb;
  for (int i = 0; i < 10; ++i) {
    PgLogStorage& from = i % 2 ? *a : *b;
    PgLogStorage& to = i % 2 ? *b : *a;
    ASSERT_TRUE(from.ReleaseLease());
    EXPECT_EQ(from.epoch(), 0u);
    auto e = to.TryAcquireLease(i % 2 ? "node-b" : "node-a", 60s);
    ASSERT_TRUE(e && *e);
    EXPECT_GT(**e, last);
    last = **e;
  }
}

TEST(PgLeaseTest, BadTermAndBadUrlAreClearErrors) {
  REQUIRE_PG();
  auto s = OpenPg(TestLogName());
  ASSERT_TRUE(s);
  auto bad = s->TryAcquireLease("x", 0ms);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  auto unreachable = PgLogStorage::Open("postgresql://fb:s3cret-pw@/nodb?host=/nonexistent-dir");
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(unreachable.error().message().find("database nodb"), std::string::npos)
      << unreachable.error().message();
  EXPECT_EQ(unreachable.error().message().find("s3cret-pw"), std::string::npos);
}

// ---- Fencing ----

TEST(PgFencingTest, WritesWithoutTheLeaseOrWithAnOldEpochAreRefused) {
  REQUIRE_PG();
  std::string log = TestLogName();
  auto a = OpenPg(log), b = OpenPg(log);
  ASSERT_TRUE(a && b);
  // No lease: nothing is written.
  auto no_lease = a->AppendWal("x");
  ASSERT_FALSE(no_lease);
  EXPECT_EQ(no_lease.error().code(), ErrorCode::kFailedPrecondition);

  auto ea = a->TryAcquireLease("node-a", 100ms);
  ASSERT_TRUE(ea && *ea);
  ASSERT_TRUE(a->AppendWal("from a;"));
  ASSERT_TRUE(a->WriteCheckpoint("cp of a"));

  // Expired, not yet taken over: a is refused already.
  ASSERT_TRUE(WaitExpired(*a));
  auto expired = a->AppendWal("late");
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code(), ErrorCode::kFailedPrecondition);

  auto eb = b->TryAcquireLease("node-b", 60s);
  ASSERT_TRUE(eb && *eb);
  ASSERT_GT(**eb, **ea);
  ASSERT_TRUE(b->AppendWal("from b;"));

  // a wakes up believing it holds epoch 1: every kind of write is refused
  // and nothing changes.
  a->SetEpochForTest(**ea);
  std::vector<TileFile> files = {{"tile/0/000", "forged"}};
  Status writes[] = {a->AppendWal("forged;"), a->TruncateWal(0), a->WriteFiles(files),
                     a->WriteCheckpoint("forged cp")};
  for (const Status& st : writes) {
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code(), ErrorCode::kFailedPrecondition) << st.error().ToString();
    EXPECT_NE(st.error().message().find("lease"), std::string::npos);
  }
  EXPECT_EQ(*b->ReadWal(0, 100), "from a;from b;");
  EXPECT_EQ(*b->ReadFile("checkpoint"), "cp of a");
  EXPECT_FALSE(b->ReadFile("tile/0/000"));
  // Even an epoch from the future (never granted) writes nothing.
  a->SetEpochForTest(**eb + 1);
  EXPECT_FALSE(a->AppendWal("forged;"));
  EXPECT_EQ(*b->WalSize(), 14u);
}

TEST(PgFencingTest, ConcurrentWritersUnderATakeoverNeverInterleave) {
  // a writes as fast as it can while b takes over: every batch a wrote
  // commits before b's epoch begins, and none after.
  REQUIRE_PG();
  std::string log = TestLogName();
  auto a = OpenPg(log), b = OpenPg(log);
  ASSERT_TRUE(a && b);
  auto ea = a->TryAcquireLease("node-a", 200ms);
  ASSERT_TRUE(ea && *ea);
  std::atomic<int> written{0};
  std::thread writer([&] {
    // Bounded, so that a broken fence fails the test instead of hanging it.
    for (int i = 0; i < 100000; ++i) {
      if (!a->AppendWal("a")) break;
      ++written;
    }
  });
  ASSERT_TRUE(WaitExpired(*b));
  auto eb = b->TryAcquireLease("node-b", 60s);
  ASSERT_TRUE(eb && *eb);
  writer.join();
  ASSERT_TRUE(b->AppendWal("B"));
  std::string wal = *b->ReadWal(0, 1 << 20);
  EXPECT_EQ(wal, std::string(size_t(written.load()), 'a') + "B");
  EXPECT_EQ(Query("SELECT count(*) FROM fb_log_wal WHERE log = '" + log + "' AND epoch = " + std::to_string(**ea)),
            std::to_string(written.load()));
}

// ---- Recovery by a new sequencer ----

TEST(PgRecoveryTest, ANewSequencerReplaysTheWriteAheadLogAndChecksEachRoot) {
  REQUIRE_PG();
  std::string log = TestLogName();
  auto signer = NoteSigner::Generate("firebreak.example/pg-recovery");
  ASSERT_TRUE(signer);
  auto a = OpenPg(log), b = OpenPg(log);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->TryAcquireLease("node-a", 300ms) && a->epoch() > 0);
  ASSERT_TRUE(Appender::InitLog(*a, *signer));
  std::string published_by_a;
  {
    // a sequences 50 entries, publishes the first 20 and is then cut off
    // (its lease expires unrenewed) before it publishes the rest.
    auto log_a = Appender::Open(*a, *signer, {1h});
    ASSERT_TRUE(log_a) << log_a.error().ToString();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE((*log_a)->Add(EntryFor(uint64_t(i))));
    auto cp = (*log_a)->Publish();
    ASSERT_TRUE(cp) << cp.error().ToString();
    published_by_a = *cp;
    for (int i = 20; i < 50; ++i) ASSERT_TRUE((*log_a)->Add(EntryFor(uint64_t(i))));
    // One more batch whose recorded root is then corrupted (as a damaged
    // row would be): it must be cut, never signed.
    ASSERT_TRUE((*log_a)->Add(EntryFor(50)));
    ASSERT_TRUE(WaitExpired(*b));
    // Closing cannot publish any more: fenced.
    EXPECT_FALSE((*log_a)->Close());
  }
  EXPECT_EQ(*b->ReadFile("checkpoint"), published_by_a);
  Query("UPDATE fb_log_wal SET bytes = overlay(bytes PLACING '\\x00'::BYTEA FROM length(bytes)) "
        "WHERE log = '" + log + "' AND wal_offset = (SELECT max(wal_offset) FROM fb_log_wal WHERE log = '" + log + "')");

  ASSERT_TRUE(b->TryAcquireLease("node-b", 60s) && b->epoch() > 0);
  auto log_b = Appender::Open(*b, *signer, {20ms});
  ASSERT_TRUE(log_b) << log_b.error().ToString();
  EXPECT_EQ((*log_b)->sequenced_size(), 50u);  // the corrupt batch is cut
  EXPECT_EQ((*log_b)->published_size(), 50u);
  auto next = (*log_b)->Add(EntryFor(1000));
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 50u);
  auto cp = (*log_b)->Publish();
  ASSERT_TRUE(cp);
  ASSERT_TRUE((*log_b)->Close());

  // The log verifies, holds every entry at its index, and extends what a
  // published.
  auto report = VerifyLog(ReaderOf(*b), KeyOf(*signer), published_by_a, nullptr);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->old_checked);
  EXPECT_EQ(report->checkpoint.size, 51u);
  LogReader reader(*b, KeyOf(*signer));
  auto snap = reader.Latest();
  ASSERT_TRUE(snap);
  for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(*reader.Entry(*snap, i), EntryFor(i));
  EXPECT_EQ(*reader.Entry(*snap, 50), EntryFor(1000));
}

// ---- Real processes ----

struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string text;
};

Child Spawn(const std::string& log, const std::string& key_file, int term_ms, int threads) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::string term = std::to_string(term_ms), th = std::to_string(threads);
    ::execl(LEDGER_PG_HELPER, LEDGER_PG_HELPER, Server().url.c_str(), log.c_str(), key_file.c_str(), term.c_str(),
            th.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return {pid, fds[0], {}};
}

// Reads what `c` printed until `deadline` (or EOF).
void Drain(Child& c, std::chrono::steady_clock::time_point deadline) {
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{c.out, POLLIN, 0};
    int r = ::poll(&p, 1, int((left.count() + 999) / 1000));  // rounded up: never spins
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    ssize_t n = ::read(c.out, buf, sizeof buf);
    if (n > 0) {
      c.text.append(buf, size_t(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      return;
    }
  }
}

// Waits (bounded) until `c` has printed `what` at least `count` times.
bool WaitFor(Child& c, const std::string& what, size_t count = 1, std::chrono::seconds limit = 30s) {
  auto until = std::chrono::steady_clock::now() + limit;
  auto seen = [&] {
    size_t n = 0;
    for (size_t at = 0; (at = c.text.find(what, at)) != std::string::npos; at += what.size()) ++n;
    return n >= count;
  };
  while (!seen() && std::chrono::steady_clock::now() < until) Drain(c, std::chrono::steady_clock::now() + 20ms);
  return seen();
}

// The "ack <index> <entry>" lines of `text`.
std::map<uint64_t, std::string> Acks(const std::string& text) {
  std::map<uint64_t, std::string> out;
  size_t pos = 0;
  for (size_t eol; (eol = text.find('\n', pos)) != std::string::npos; pos = eol + 1) {
    std::string_view line(text.data() + pos, eol - pos);
    if (line.substr(0, 4) != "ack ") continue;
    line.remove_prefix(4);
    size_t sp = line.find(' ');
    out.emplace(std::stoull(std::string(line.substr(0, sp))), std::string(line.substr(sp + 1)));
  }
  return out;
}

struct KeyFile {
  fs::path dir;
  std::string path;
  NoteSigner signer;
};

KeyFile MakeKey(const std::string& origin) {
  fs::path dir = fs::temp_directory_path() / ("firebreak-pglog-key-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto signer = NoteSigner::Generate(origin);
  EXPECT_TRUE(signer);
  std::string path = (dir / "key").string();
  EXPECT_TRUE(WriteFileAtomically(path, signer->PrivateKeyText() + "\n", 0600));
  return {dir, path, std::move(*signer)};
}

// Every entry of `acked` at its index, and the whole log verifies.
void ExpectAllAcknowledgedAndVerified(LogStorage& s, const NoteSigner& signer,
                                      const std::map<uint64_t, std::string>& acked) {
  auto report = VerifyLog(ReaderOf(s), KeyOf(signer), "", nullptr);
  ASSERT_TRUE(report) << report.error().ToString();
  LogReader reader(s, KeyOf(signer));
  auto snap = reader.Latest();
  ASSERT_TRUE(snap);
  auto next = acked.begin();
  Status st = reader.ForEachEntry(*snap, 0, snap->checkpoint.size, [&](uint64_t i, std::string_view e) -> Status {
    if (next != acked.end() && next->first == i) {
      if (e != next->second) return tl::make_unexpected(DataLoss("index " + std::to_string(i) + " differs"));
      ++next;
    }
    return Ok();
  });
  ASSERT_TRUE(st) << st.error().ToString();
  ASSERT_TRUE(next == acked.end()) << "acknowledged index " << next->first << " is beyond the log (size "
                                   << snap->checkpoint.size << ")";
}

TEST(PgSequencerProcessTest, APausedSequencerWritesNothingAfterAnotherTookOver) {
  REQUIRE_PG();
  std::string log = TestLogName();
  KeyFile key = MakeKey("firebreak.example/pg-fencing");
  constexpr int kTermMs = 300;
  Child a = Spawn(log, key.path, kTermMs, 2);
  ASSERT_TRUE(WaitFor(a, "ack ", 50)) << a.text.substr(0, 500);
  ::kill(a.pid, SIGSTOP);
  Drain(a, std::chrono::steady_clock::now() + 50ms);
  auto acked = Acks(a.text);
  std::string epoch_a = Query("SELECT epoch FROM fb_log_lease WHERE log = '" + log + "'");

  // Another node takes over once the paused one's lease has expired, and
  // recovers the log.
  auto b = OpenPg(log);
  ASSERT_TRUE(b);
  ASSERT_TRUE(WaitExpired(*b));
  auto eb = b->TryAcquireLease("node-b", 60s);
  ASSERT_TRUE(eb && *eb) << "the lease was not free after it expired";
  auto log_b = Appender::Open(*b, key.signer, {20ms});
  ASSERT_TRUE(log_b) << log_b.error().ToString();
  std::string wal_rows_a = Query("SELECT count(*) FROM fb_log_wal WHERE log = '" + log + "' AND epoch = " + epoch_a);
  uint64_t wal_size = *b->WalSize();
  std::string checkpoint = *b->ReadFile("checkpoint");

  // The paused sequencer wakes up believing it still leads: it is refused
  // and stops; nothing of its epoch is written after the takeover.
  ::kill(a.pid, SIGCONT);
  int status = 0;
  auto until = std::chrono::steady_clock::now() + 30s;
  while (::waitpid(a.pid, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < until) {
    Drain(a, std::chrono::steady_clock::now() + 20ms);
  }
  Drain(a, std::chrono::steady_clock::now() + 50ms);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 5) << "status " << status << ": " << a.text.substr(0, 300);
  EXPECT_NE(a.text.find("lost " + epoch_a), std::string::npos);
  ::close(a.out);
  EXPECT_EQ(Query("SELECT count(*) FROM fb_log_wal WHERE log = '" + log + "' AND epoch = " + epoch_a), wal_rows_a);
  EXPECT_EQ(*b->WalSize(), wal_size);
  EXPECT_EQ(*b->ReadFile("checkpoint"), checkpoint);
  EXPECT_EQ(Query("SELECT count(*) FROM fb_log_files WHERE log = '" + log + "' AND epoch > " + std::to_string(**eb)),
            "0");
  // What a acknowledged after the pause, if anything, it wrote before the
  // takeover: every acknowledgement is in b's log.
  auto all = Acks(a.text);
  EXPECT_GE(all.size(), acked.size());
  ASSERT_TRUE((*log_b)->Add("{\"by\":\"b\"}"));
  ASSERT_TRUE((*log_b)->Publish());
  ASSERT_TRUE((*log_b)->Close());
  ExpectAllAcknowledgedAndVerified(*b, key.signer, all);
  fs::remove_all(key.dir);
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

TEST(PgSequencerProcessTest, SequencersKilledAtRandomInstantsLoseNothingAcknowledged) {
  REQUIRE_PG();
  const int kills = EnvInt("FIREBREAK_PG_KILLS", 20);
  const unsigned seed =
      unsigned(EnvInt("FIREBREAK_PG_KILL_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  std::printf("pg sequencer kill test: %d kills, seed %u (FIREBREAK_PG_KILL_SEED to repeat)\n", kills, seed);
  std::mt19937 rng(seed);
  std::string log = TestLogName();
  KeyFile key = MakeKey("firebreak.example/pg-kill");
  NoteVerifier verifier = KeyOf(key.signer);
  auto reader_storage = OpenPg(log);
  ASSERT_TRUE(reader_storage);
  constexpr int kTermMs = 400;

  // Three nodes contend for the lease; the one leading is killed, and a
  // fresh node takes its place.
  std::vector<Child> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(Spawn(log, key.path, kTermMs, 2));
  std::map<uint64_t, std::string> acked;
  std::vector<Checkpoint> checkpoints;
  std::vector<double> failover_ms;
  auto leader = [&]() -> int {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].text.find("ready ") != std::string::npos) return int(i);
    }
    return -1;
  };
  auto killed_at = std::chrono::steady_clock::now();
  for (int round = 0; round < kills; ++round) {
    // Wait for a leader that has acknowledged something (bounded).
    int l = -1;
    auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      for (Child& c : nodes) Drain(c, std::chrono::steady_clock::now() + 2ms);
      l = leader();
      if (l >= 0 && nodes[size_t(l)].text.find("ack ") != std::string::npos) break;
    }
    ASSERT_GE(l, 0) << "round " << round << ": no node took the lease";
    ASSERT_NE(nodes[size_t(l)].text.find("ack "), std::string::npos) << "round " << round << ": no entry sequenced";
    if (round > 0) {
      failover_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed_at).count());
    }
    // Let it run a random while, then kill it at a random instant.
    Drain(nodes[size_t(l)],
          std::chrono::steady_clock::now() + std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
    ::kill(nodes[size_t(l)].pid, SIGKILL);
    killed_at = std::chrono::steady_clock::now();
    int status = 0;
    ::waitpid(nodes[size_t(l)].pid, &status, 0);
    Drain(nodes[size_t(l)], std::chrono::steady_clock::now() + 20ms);
    ::close(nodes[size_t(l)].out);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the leader exited by itself: " << nodes[size_t(l)].text.substr(0, 400);
    for (const auto& [index, entry] : Acks(nodes[size_t(l)].text)) {
      auto [it, inserted] = acked.emplace(index, entry);
      ASSERT_TRUE(inserted || it->second == entry) << "index " << index << " acknowledged with two entries";
    }
    // Whatever the log serves now is a signed checkpoint to be checked
    // against the last one at the end.
    auto note = reader_storage->ReadFile("checkpoint");
    ASSERT_TRUE(note) << note.error().ToString();
    auto cp = OpenCheckpoint(*note, verifier);
    ASSERT_TRUE(cp) << cp.error().ToString();
    checkpoints.push_back(*cp);
    nodes[size_t(l)] = Spawn(log, key.path, kTermMs, 2);
  }
  // The followers never led: they acknowledged nothing; stop them all.
  for (Child& c : nodes) {
    ::kill(c.pid, SIGKILL);
    ::waitpid(c.pid, nullptr, 0);
    Drain(c, std::chrono::steady_clock::now() + 20ms);
    ::close(c.out);
    for (const auto& [index, entry] : Acks(c.text)) acked.emplace(index, entry);
  }
  // A last sequencer recovers and publishes everything.
  ASSERT_TRUE(WaitExpired(*reader_storage));
  ASSERT_TRUE(reader_storage->TryAcquireLease("final", 60s) && reader_storage->epoch() > 0);
  {
    auto final_log = Appender::Open(*reader_storage, key.signer, {20ms});
    ASSERT_TRUE(final_log) << final_log.error().ToString();
    ASSERT_TRUE((*final_log)->Publish());
    ASSERT_TRUE((*final_log)->Close());
  }
  ExpectAllAcknowledgedAndVerified(*reader_storage, key.signer, acked);
  auto last = OpenCheckpoint(*reader_storage->ReadFile("checkpoint"), verifier);
  ASSERT_TRUE(last);
  TileNodeReader nodes_reader(ReaderOf(*reader_storage), last->size);
  for (const Checkpoint& old : checkpoints) {
    if (old.size == 0) continue;
    ASSERT_LE(old.size, last->size);
    auto proof = ConsistencyProof(old.size, last->size, nodes_reader.AsNodeReader());
    ASSERT_TRUE(proof) << proof.error().ToString();
    ASSERT_TRUE(VerifyConsistency(old.size, last->size, old.root, last->root, *proof))
        << "checkpoint " << old.size << " is inconsistent with " << last->size;
  }
  std::sort(failover_ms.begin(), failover_ms.end());
  if (!failover_ms.empty()) {
    std::printf("pg sequencer kill test: %zu acknowledged entries, size %llu; fail-over (kill to the next "
                "sequenced entry, lease term %d ms): median %.0f ms, max %.0f ms\n",
                acked.size(), static_cast<unsigned long long>(last->size), kTermMs,
                failover_ms[failover_ms.size() / 2], failover_ms.back());
  }
  EXPECT_GT(acked.size(), 0u);
  fs::remove_all(key.dir);
}

// ---- ClusterLog: nodes in one process ----

ClusterLogOptions NodeOptions(const std::string& log, const std::string& node) {
  ClusterLogOptions o;
  o.url = Server().url;
  o.log = log;
  o.node = node;
  o.lease_term = 300ms;
  o.publish_interval = 20ms;
  o.forward_timeout = 20s;
  return o;
}

// How often each entry occurs in the log (all must be 1).
std::map<std::string, int> Occurrences(LogStorage& s, const NoteSigner& signer) {
  std::map<std::string, int> out;
  LogReader reader(s, KeyOf(signer));
  auto snap = reader.Latest();
  EXPECT_TRUE(snap);
  if (!snap) return out;
  EXPECT_TRUE(reader.ForEachEntry(*snap, 0, snap->checkpoint.size, [&](uint64_t, std::string_view e) {
    ++out[std::string(e)];
    return Ok();
  }));
  return out;
}

TEST(ClusterLogTest, NodesForwardToTheOneSequencerAndEachEntryIsLoggedOnce) {
  REQUIRE_PG();
  std::string log = TestLogName();
  auto signer = NoteSigner::Generate("firebreak.example/cluster");
  ASSERT_TRUE(signer);
  std::vector<std::unique_ptr<ClusterLog>> nodes;
  for (const char* name : {"a", "b", "c"}) {
    auto n = ClusterLog::Open(NodeOptions(log, name), *signer);
    ASSERT_TRUE(n) << n.error().ToString();
    nodes.push_back(std::move(*n));
  }
  std::map<uint64_t, std::string> acked;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, n, t] {
        for (int i = 0; i < 60; ++i) {
          std::string e = "{\"node\":" + std::to_string(n) + ",\"t\":" + std::to_string(t) + ",\"i\":" +
                          std::to_string(i) + "}";
          auto index = nodes[n]->Add(e);
          ASSERT_TRUE(index) << index.error().ToString();
          std::lock_guard lock(mu);
          ASSERT_TRUE(acked.emplace(*index, e).second) << "index " << *index << " given twice";
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  int leading = 0;
  for (auto& n : nodes) leading += n->health().leading ? 1 : 0;
  EXPECT_LE(leading, 1);
  // Any node serves the published log.
  ASSERT_TRUE(nodes[0]->WaitPublished(acked.rbegin()->first, 20s));
  ASSERT_TRUE(nodes[2]->WaitPublished(acked.rbegin()->first, 20s));
  EXPECT_EQ(SizeOfCheckpoint(nodes[1]->checkpoint()), acked.size());
  for (auto& n : nodes) ASSERT_TRUE(n->Close());
  ExpectAllAcknowledgedAndVerified(nodes[1]->reader(), *signer, acked);
  for (const auto& [entry, count] : Occurrences(nodes[1]->reader(), *signer)) {
    EXPECT_EQ(count, 1) << entry;
  }
  EXPECT_EQ(Query("SELECT count(*) FROM fb_log_queue WHERE log = '" + log + "'"), "0");
}

TEST(ClusterLogTest, ACleanStopHandsTheLeaseOverAndNoSequencerFailsClosed) {
  REQUIRE_PG();
  std::string log = TestLogName();
  auto signer = NoteSigner::Generate("firebreak.example/cluster");
  ASSERT_TRUE(signer);
  auto a = ClusterLog::Open(NodeOptions(log, "a"), *signer);
  ASSERT_TRUE(a);
  auto first = (*a)->Add("{\"n\":0}");
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE((*a)->health().leading);
  auto b = ClusterLog::Open(NodeOptions(log, "b"), *signer);
  ASSERT_TRUE(b);
  EXPECT_EQ(*(*b)->Add("{\"n\":1}"), 1u);  // forwarded to a
  EXPECT_FALSE((*b)->health().leading);
  ASSERT_TRUE((*a)->Close());
  EXPECT_EQ(*(*b)->Add("{\"n\":2}"), 2u);  // b took over
  EXPECT_TRUE((*b)->health().leading);
  ASSERT_TRUE((*b)->Close());

  // A lease held elsewhere and never handed over: a forwarded entry fails
  // (kUnavailable: the gateway answers 503) instead of waiting for ever.
  auto squatter = OpenPg(log);
  ASSERT_TRUE(squatter);
  ASSERT_TRUE(squatter->TryAcquireLease("squatter", 60s) && squatter->epoch() > 0);
  auto o = NodeOptions(log, "c");
  o.forward_timeout = 300ms;
  auto c = ClusterLog::Open(o, *signer);
  ASSERT_TRUE(c);
  auto refused = (*c)->Add("{\"n\":3}");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE((*c)->health().leading);
  ASSERT_TRUE((*c)->Close());
}

TEST(ClusterLogTest, ASequencerThatLostItsLeaseFailsItsEntriesAsUnavailable) {
  REQUIRE_PG();
  std::string log = TestLogName();
  auto signer = NoteSigner::Generate("firebreak.example/cluster");
  ASSERT_TRUE(signer);
  auto o = NodeOptions(log, "a");
  o.lease_term = 60s;  // never expires by itself here
  o.forward_timeout = 500ms;
  auto a = ClusterLog::Open(o, *signer);
  ASSERT_TRUE(a);
  ASSERT_TRUE((*a)->Add("{\"n\":0}"));
  ASSERT_TRUE((*a)->health().leading);
  ASSERT_TRUE((*a)->WaitPublished(0, 10s));  // published while a held the lease
  // Another holder takes the lease over (as after an expiry a's clock did
  // not see): a's next writes are refused by the fence; its callers see a
  // log that is unavailable now (a 503), never another error.
  Query("UPDATE fb_log_lease SET expires_at = clock_timestamp() WHERE log = '" + log + "'");
  auto squatter = OpenPg(log);
  ASSERT_TRUE(squatter);
  ASSERT_TRUE(squatter->TryAcquireLease("squatter", 60s) && squatter->epoch() > 0);
  for (int i = 1; i <= 5; ++i) {
    auto r = (*a)->Add("{\"n\":" + std::to_string(i) + "}");
    ASSERT_FALSE(r) << "entry " << i << " was sequenced without the lease";
    EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable) << r.error().ToString();
  }
  ASSERT_TRUE((*a)->Close());
  EXPECT_EQ(SizeOfCheckpoint(*squatter->ReadFile("checkpoint")), 1u);
  EXPECT_EQ(*squatter->SequencedSize(), 1u);
}

// ---- ClusterLog: three node processes, the sequencer killed 20 times ----

Child SpawnNode(const std::string& log, const std::string& key_file, int term_ms, int threads) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::string term = std::to_string(term_ms), th = std::to_string(threads);
    ::execl(LEDGER_PG_HELPER, LEDGER_PG_HELPER, "node", Server().url.c_str(), log.c_str(), key_file.c_str(),
            term.c_str(), th.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return {pid, fds[0], {}};
}

size_t CountOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

TEST(ClusterLogProcessTest, ThreeNodesUnderLoadSurviveTheSequencerKilledAtRandomInstants) {
  REQUIRE_PG();
  const int kills = EnvInt("FIREBREAK_PG_KILLS", 20);
  const unsigned seed =
      unsigned(EnvInt("FIREBREAK_PG_KILL_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  std::printf("cluster kill test: %d kills, seed %u (FIREBREAK_PG_KILL_SEED to repeat)\n", kills, seed);
  std::mt19937 rng(seed);
  std::string log = TestLogName();
  KeyFile key = MakeKey("firebreak.example/pg-cluster");
  NoteVerifier verifier = KeyOf(key.signer);
  auto reader = OpenPg(log);
  ASSERT_TRUE(reader);
  constexpr int kTermMs = 400;
  std::vector<Child> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(SpawnNode(log, key.path, kTermMs, 3));
  std::map<uint64_t, std::string> acked;
  std::vector<Checkpoint> checkpoints;
  std::vector<double> failover_ms;
  auto collect = [&](Child& c) -> ::testing::AssertionResult {
    for (const auto& [index, entry] : Acks(c.text)) {
      auto [it, inserted] = acked.emplace(index, entry);
      if (!inserted && it->second != entry) {
        return ::testing::AssertionFailure() << "index " << index << " acknowledged for two entries";
      }
    }
    return ::testing::AssertionSuccess();
  };
  auto total_acks = [&] {
    size_t n = 0;
    for (Child& c : nodes) n += CountOf(c.text, "ack ");
    return n;
  };
  for (int round = 0; round < kills; ++round) {
    // Wait for a live lease held by one of the nodes, and for some entry
    // sequenced since the last kill (from any node): the fail-over time.
    size_t before = total_acks();
    int leader = -1;
    auto started = std::chrono::steady_clock::now();
    auto until = started + 30s;
    while (std::chrono::steady_clock::now() < until) {
      for (Child& c : nodes) Drain(c, std::chrono::steady_clock::now() + 1ms);
      if (total_acks() <= before) continue;
      std::string holder = Query("SELECT holder FROM fb_log_lease WHERE log = '" + log +
                                 "' AND expires_at > clock_timestamp()");
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (holder.rfind("node" + std::to_string(nodes[i].pid) + "/", 0) == 0) leader = int(i);
      }
      if (leader >= 0) break;
    }
    ASSERT_GE(leader, 0) << "round " << round << ": no node sequenced an entry within 30 s; lease: "
                         << Query("SELECT holder || ' ' || epoch FROM fb_log_lease WHERE log = '" + log + "'")
                         << "; first node printed: " << nodes[0].text.substr(0, 300);
    if (round > 0) {
      failover_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                      started).count());
    }
    auto at = std::chrono::steady_clock::now() +
              std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 200)(rng));
    while (std::chrono::steady_clock::now() < at) {
      for (Child& c : nodes) Drain(c, std::chrono::steady_clock::now() + 1ms);
    }
    Child& victim = nodes[size_t(leader)];
    ::kill(victim.pid, SIGKILL);
    int status = 0;
    ::waitpid(victim.pid, &status, 0);
    Drain(victim, std::chrono::steady_clock::now() + 20ms);
    ::close(victim.out);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the sequencer exited by itself: " << victim.text.substr(0, 400);
    ASSERT_TRUE(collect(victim));
    auto note = reader->ReadFile("checkpoint");
    ASSERT_TRUE(note) << note.error().ToString();
    auto cp = OpenCheckpoint(*note, verifier);
    ASSERT_TRUE(cp) << cp.error().ToString();
    checkpoints.push_back(*cp);
    victim = SpawnNode(log, key.path, kTermMs, 3);
  }
  for (Child& c : nodes) {
    ::kill(c.pid, SIGKILL);
    ::waitpid(c.pid, nullptr, 0);
    Drain(c, std::chrono::steady_clock::now() + 20ms);
    ::close(c.out);
    ASSERT_TRUE(collect(c));
  }
  ASSERT_TRUE(WaitExpired(*reader));
  ASSERT_TRUE(reader->TryAcquireLease("final", 60s) && reader->epoch() > 0);
  {
    auto final_log = Appender::Open(*reader, key.signer, {20ms});
    ASSERT_TRUE(final_log) << final_log.error().ToString();
    ASSERT_TRUE((*final_log)->Publish());
    ASSERT_TRUE((*final_log)->Close());
  }
  ExpectAllAcknowledgedAndVerified(*reader, key.signer, acked);
  for (const auto& [entry, count] : Occurrences(*reader, key.signer)) EXPECT_EQ(count, 1) << entry;
  auto last = OpenCheckpoint(*reader->ReadFile("checkpoint"), verifier);
  ASSERT_TRUE(last);
  TileNodeReader tiles(ReaderOf(*reader), last->size);
  for (const Checkpoint& old : checkpoints) {
    if (old.size == 0) continue;
    ASSERT_LE(old.size, last->size);
    auto proof = ConsistencyProof(old.size, last->size, tiles.AsNodeReader());
    ASSERT_TRUE(proof) << proof.error().ToString();
    ASSERT_TRUE(VerifyConsistency(old.size, last->size, old.root, last->root, *proof))
        << "checkpoint " << old.size << " is inconsistent with " << last->size;
  }
  std::sort(failover_ms.begin(), failover_ms.end());
  if (!failover_ms.empty()) {
    std::printf("cluster kill test: %zu acknowledged entries (forwarded included), size %llu; fail-over "
                "(kill to the next sequenced entry, lease term %d ms): median %.0f ms, p99 %.0f ms, max %.0f ms\n",
                acked.size(), static_cast<unsigned long long>(last->size), kTermMs,
                failover_ms[failover_ms.size() / 2],
                failover_ms[std::min(failover_ms.size() - 1, failover_ms.size() * 99 / 100)], failover_ms.back());
  }
  EXPECT_GT(acked.size(), 0u);
  fs::remove_all(key.dir);
}

}  // namespace
}  // namespace firebreak::ledger
