// The monitor against logs that behave and logs that do not: a rollback, a
// fork at the same size, a rewritten entry (in the partial bundle it kept,
// and further back), a truncated bundle, a tile that does not match its
// entries, and a split view seen by two monitors.
#include "oversight/monitor/monitor.h"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/base.h"
#include "ledger/appender.h"
#include "ledger/storage.h"
#include "ledger/verify.h"

namespace firebreak::oversight {
namespace {

namespace fs = std::filesystem;

std::string Entry(uint64_t i, const std::string& tag = "") {
  return fmt::format("{{\"v\":3,\"kind\":\"decision\",\"n\":{}{}}}", i, tag);
}

// A log in `dir` signed by `signer` holding `entries`, published once at
// the end (and at each size in `checkpoints_at`, each copied to
// dir + ".<size>").
void MakeLog(const std::string& dir, const ledger::NoteSigner& signer, const std::vector<std::string>& entries,
             const std::vector<size_t>& checkpoints_at = {}) {
  fs::remove_all(dir);
  ASSERT_TRUE(ledger::PosixStorage::Create(dir));
  auto storage = ledger::PosixStorage::Open(dir);
  ASSERT_TRUE(storage);
  ASSERT_TRUE(ledger::Appender::InitLog(**storage, signer));
  auto appender = ledger::Appender::Open(**storage, signer);
  ASSERT_TRUE(appender) << appender.error().ToString();
  for (size_t i = 0; i < entries.size(); ++i) {
    ASSERT_TRUE((*appender)->Add(entries[i]));
    if (std::find(checkpoints_at.begin(), checkpoints_at.end(), i + 1) != checkpoints_at.end()) {
      ASSERT_TRUE((*appender)->Publish());
      std::string copy = fmt::format("{}.{}", dir, i + 1);
      fs::remove_all(copy);
      fs::copy(dir, copy, fs::copy_options::recursive);
    }
  }
  ASSERT_TRUE((*appender)->Publish());
  ASSERT_TRUE((*appender)->Close());
}

std::vector<std::string> Entries(size_t n, const std::string& tag = "") {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(Entry(i, tag));
  return out;
}

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() / fmt::format("monitor_test_{}_{}", getpid(),
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    fs::remove_all(root_);
    fs::create_directories(root_);
    auto s = ledger::NoteSigner::Generate("firebreak.example/monitored");
    ASSERT_TRUE(s);
    signer_.emplace(std::move(*s));
    auto v = ledger::NoteVerifier::FromKeyText(signer_->VerifierKeyText());
    ASSERT_TRUE(v);
    vkey_ = *v;
  }
  void TearDown() override { fs::remove_all(root_); }

  MonitorOptions Options(const std::string& state, const std::string& served) {
    MonitorOptions o;
    o.state_dir = root_ + "/" + state;
    o.log_key = vkey_;
    o.fetch = FetchFromDir(served);
    return o;
  }
  // Runs and expects exactly one piece of evidence of `kind`.
  Evidence ExpectEvidence(const MonitorOptions& o, const std::string& kind) {
    auto run = RunMonitor(o);
    EXPECT_TRUE(run) << run.error().ToString();
    if (!run) return {};
    EXPECT_EQ(run->evidence.size(), 1u);
    if (run->evidence.size() != 1) return {};
    const Evidence& e = run->evidence[0];
    EXPECT_EQ(e.kind, kind) << e.sentence;
    EXPECT_FALSE(e.sentence.empty());
    EXPECT_FALSE(e.seen.empty());
    // The evidence file is self-contained JSON with both checkpoints.
    EXPECT_TRUE(fs::exists(run->evidence_files.at(0)));
    auto text = ReadFile(run->evidence_files.at(0));
    EXPECT_TRUE(text);
    if (text) {
      auto j = boost::json::parse(*text).as_object();
      EXPECT_EQ(j.at("kind").as_string(), kind);
      EXPECT_EQ(j.at("seen_checkpoint").as_string(), e.seen);
    }
    return e;
  }
  uint64_t KeptSize(const std::string& state) {
    auto note = ReadFile(root_ + "/" + state + "/checkpoint");
    if (!note) return ~0ull;
    auto cp = ledger::OpenCheckpoint(*note, vkey_);
    return cp ? cp->size : ~0ull;
  }

  std::string root_;
  std::optional<ledger::NoteSigner> signer_;
  ledger::NoteVerifier vkey_ = ledger::NoteVerifier::Create("x", 1, std::string(32, '\0'));
};

TEST_F(MonitorTest, FollowsAGrowingLogAndKeepsAVerifiableMirror) {
  std::string served = root_ + "/log";
  auto all = Entries(1500);
  MakeLog(served, *signer_, all, {300, 700});
  // First pass at size 300, then 700 (from the copies), then 1500.
  auto o = Options("state", served + ".300");
  auto run = RunMonitor(o);
  ASSERT_TRUE(run) << run.error().ToString();
  EXPECT_TRUE(run->evidence.empty());
  EXPECT_EQ(run->new_entries, 300u);
  EXPECT_EQ(KeptSize("state"), 300u);
  for (auto [copy, size] : {std::pair{served + ".700", 700u}, std::pair{served, 1500u}}) {
    o.fetch = FetchFromDir(copy);
    uint64_t before = KeptSize("state");
    run = RunMonitor(o);
    ASSERT_TRUE(run) << run.error().ToString();
    EXPECT_TRUE(run->evidence.empty()) << run->evidence[0].sentence;
    EXPECT_EQ(run->previous_size, before);
    EXPECT_EQ(run->new_entries, size - before);
    EXPECT_EQ(KeptSize("state"), size);
  }
  // Nothing new: a no-op.
  run = RunMonitor(o);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->new_entries, 0u);
  // The mirror is a log in its own right, identical to the served one.
  std::string state = root_ + "/state";
  auto report = ledger::VerifyLog(FetchFromDir(state), vkey_, "", {});
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->entries, 1500u);
  for (std::string p : {"tile/entries/005.p/220", "tile/0/005.p/220", "tile/1/000.p/5", "tile/entries/000"}) {
    EXPECT_EQ(ReadFile(state + "/" + p).value_or("mirror lacks it"), ReadFile(served + "/" + p).value_or("log lacks it"))
        << p;
  }
}

TEST_F(MonitorTest, Rollback) {
  std::string served = root_ + "/log";
  MakeLog(served, *signer_, Entries(500), {200});
  auto o = Options("state", served);
  ASSERT_TRUE(RunMonitor(o));
  o.fetch = FetchFromDir(served + ".200");
  ExpectEvidence(o, "rollback");
  EXPECT_EQ(KeptSize("state"), 500u);  // the kept checkpoint stays
}

TEST_F(MonitorTest, ForkAtTheSameSize) {
  MakeLog(root_ + "/a", *signer_, Entries(100));
  auto other = Entries(100);
  other[99] = Entry(99, ",\"evil\":1");
  MakeLog(root_ + "/b", *signer_, other);
  auto o = Options("state", root_ + "/a");
  ASSERT_TRUE(RunMonitor(o));
  o.fetch = FetchFromDir(root_ + "/b");
  Evidence e = ExpectEvidence(o, "fork");
  EXPECT_NE(e.kept, e.seen);
}

TEST_F(MonitorTest, RewrittenEntryInTheKeptPartialBundle) {
  MakeLog(root_ + "/a", *signer_, Entries(100));
  auto rewritten = Entries(150);
  rewritten[10] = Entry(10, ",\"rewritten\":1");
  MakeLog(root_ + "/b", *signer_, rewritten);
  auto o = Options("state", root_ + "/a");
  ASSERT_TRUE(RunMonitor(o));
  o.fetch = FetchFromDir(root_ + "/b");
  Evidence e = ExpectEvidence(o, "rewritten-entry");
  EXPECT_EQ(e.index, 10u);
}

TEST_F(MonitorTest, RewrittenEntryFurtherBackIsAForkWithAFailingProof) {
  MakeLog(root_ + "/a", *signer_, Entries(600));
  auto rewritten = Entries(900);
  rewritten[10] = Entry(10, ",\"rewritten\":1");
  MakeLog(root_ + "/b", *signer_, rewritten);
  auto o = Options("state", root_ + "/a");
  ASSERT_TRUE(RunMonitor(o));
  o.fetch = FetchFromDir(root_ + "/b");
  Evidence e = ExpectEvidence(o, "fork");
  EXPECT_FALSE(e.proof.empty());
  EXPECT_EQ(e.proof_result, "the computed old root does not match") << e.proof_result;
}

TEST_F(MonitorTest, TruncatedBundle) {
  std::string served = root_ + "/log";
  MakeLog(served, *signer_, Entries(300), {100});
  auto o = Options("state", served + ".100");
  ASSERT_TRUE(RunMonitor(o));
  std::string bundle = served + "/tile/entries/001.p/44";
  auto data = ReadFile(bundle);
  ASSERT_TRUE(data);
  ASSERT_TRUE(WriteFileAtomically(bundle, data->substr(0, data->size() - 7)));
  o.fetch = FetchFromDir(served);
  Evidence e = ExpectEvidence(o, "bad-bundle");
  EXPECT_EQ(e.path, "tile/entries/001.p/44");
}

TEST_F(MonitorTest, TileThatDoesNotMatchItsEntries) {
  std::string served = root_ + "/log";
  MakeLog(served, *signer_, Entries(300));
  std::string tile = served + "/tile/0/000";
  auto data = ReadFile(tile);
  ASSERT_TRUE(data);
  std::string bad = *data;
  bad[40] ^= 1;
  ASSERT_TRUE(WriteFileAtomically(tile, bad));
  ExpectEvidence(Options("state", served), "tile-mismatch");
}

TEST_F(MonitorTest, SplitViewSeenByTwoMonitors) {
  // The log shows one history to monitor A and another to monitor B.
  MakeLog(root_ + "/a", *signer_, Entries(400), {250});
  auto other = Entries(250);
  other[7] = Entry(7, ",\"for-b\":1");
  MakeLog(root_ + "/b", *signer_, other);
  ASSERT_TRUE(RunMonitor(Options("state-a", root_ + "/a")));
  ASSERT_TRUE(RunMonitor(Options("state-b", root_ + "/b")));
  auto b_note = ReadFile(root_ + "/state-b/checkpoint");
  ASSERT_TRUE(b_note);
  // A compares B's checkpoint (smaller: from its mirror's tiles) ...
  auto check = CheckAgainstMirror(root_ + "/state-a", vkey_, *b_note);
  ASSERT_TRUE(check) << check.error().ToString();
  ASSERT_TRUE(check->has_value());
  EXPECT_EQ((*check)->kind, "split-view");
  // ... and in a run, as a peer.
  auto o = Options("state-a", root_ + "/a");
  o.peer_checkpoints = {*b_note};
  ExpectEvidence(o, "split-view");
  // Two monitors that each kept a checkpoint of the same size.
  ASSERT_TRUE(RunMonitor(Options("state-a250", root_ + "/a.250")));
  auto a250 = ReadFile(root_ + "/state-a250/checkpoint");
  ASSERT_TRUE(a250);
  EXPECT_NE(*a250, *b_note);
  check = CheckAgainstMirror(root_ + "/state-b", vkey_, *a250);
  ASSERT_TRUE(check) << check.error().ToString();
  ASSERT_TRUE(check->has_value());
  EXPECT_EQ((*check)->kind, "split-view");
  // An honest peer agrees.
  auto honest = ReadFile(root_ + "/a.250/checkpoint");
  ASSERT_TRUE(honest);
  check = CheckAgainstMirror(root_ + "/state-a", vkey_, *honest);
  ASSERT_TRUE(check);
  EXPECT_FALSE(check->has_value());
}

TEST_F(MonitorTest, ACheckpointNotSignedByTheLog) {
  std::string served = root_ + "/log";
  MakeLog(served, *signer_, Entries(10));
  auto impostor = ledger::NoteSigner::Generate("firebreak.example/monitored");
  ASSERT_TRUE(impostor);
  MakeLog(root_ + "/fake", *impostor, Entries(20));
  auto o = Options("state", served);
  ASSERT_TRUE(RunMonitor(o));
  o.fetch = FetchFromDir(root_ + "/fake");
  ExpectEvidence(o, "bad-signature");
  EXPECT_EQ(KeptSize("state"), 10u);
}

TEST_F(MonitorTest, RequiredCosignaturesAndBadState) {
  std::string served = root_ + "/log";
  MakeLog(served, *signer_, Entries(10));
  auto o = Options("state", served);
  auto w = ledger::CosignatureSigner::Generate("witness.example/w");
  ASSERT_TRUE(w);
  o.witnesses = {w->Verifier()};
  o.min_witnesses = 1;
  auto run = RunMonitor(o);
  ASSERT_FALSE(run);
  EXPECT_NE(run.error().message().find("cosignatures"), std::string::npos);
  // A state directory that is something else is refused, untouched.
  fs::create_directories(root_ + "/other");
  ASSERT_TRUE(WriteFileAtomically(root_ + "/other/notes.txt", "mine"));
  EXPECT_FALSE(RunMonitor(Options("other", served)));
  EXPECT_EQ(ReadFile(root_ + "/other/notes.txt").value_or(""), "mine");
}

}  // namespace
}  // namespace firebreak::oversight
