#include "oversight/witness/witness.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "base/files.h"
#include "http/client.h"
#include "ledger/witness_protocol.h"
#include "oversight/witness/testing/tree.h"

namespace firebreak::oversight::witness {
namespace {

namespace fs = std::filesystem;
using testing::Tree;

constexpr std::string_view kOrigin = "firebreak.example/test-force/decisions";

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("witness_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    log_ = std::make_unique<ledger::NoteSigner>(*ledger::NoteSigner::Generate(std::string(kOrigin)));
    other_ = std::make_unique<ledger::NoteSigner>(*ledger::NoteSigner::Generate(std::string(kOrigin)));
    signer_ = std::make_unique<ledger::CosignatureSigner>(*ledger::CosignatureSigner::Generate("witness.example/w1"));
    Open();
  }
  void TearDown() override {
    witness_.reset();
    fs::remove_all(dir_);
  }
  void Open(double rate = 1e6, uint64_t max_evidence = 10000) {
    witness_.reset();
    Witness::Options o;
    o.max_evidence_per_log = max_evidence;
    WatchedLog log{std::string(kOrigin), {*ledger::NoteVerifier::FromKeyText(log_->VerifierKeyText())}};
    o.logs = {log};
    o.state = (dir_ / "state.db").string();
    o.rate_per_log = rate;
    o.burst_per_log = std::max(1.0, std::min(rate, 1e6));
    o.clock = [this] { return now_.load(); };
    auto w = Witness::Open(*ledger::CosignatureSigner::FromKeyText(signer_->PrivateKeyText()), o);
    ASSERT_TRUE(w) << w.error().message();
    witness_ = std::move(*w);
  }
  // The cosignature in a 200 answer, verified on `checkpoint`; its timestamp.
  uint64_t CheckCosigned(const Answer& a, std::string_view checkpoint) {
    EXPECT_EQ(a.status, 200) << a.body;
    auto sigs = ledger::ParseCosignatures(a.body);
    EXPECT_TRUE(sigs);
    if (!sigs) return 0;
    EXPECT_EQ(sigs->size(), 1u);
    auto note = ledger::ParseNote(checkpoint);
    ledger::NoteVerifier v = signer_->Verifier();
    EXPECT_TRUE(v.Verify(note->text, (*sigs)[0].signature)) << "the cosignature does not verify";
    EXPECT_EQ((*sigs)[0].key_id, v.key_id());
    return *ledger::CosignatureTimestamp((*sigs)[0]);
  }
  size_t EvidenceCount() { return witness_->ListEvidence()->size(); }

  fs::path dir_;
  std::unique_ptr<ledger::NoteSigner> log_, other_;
  std::unique_ptr<ledger::CosignatureSigner> signer_;
  std::unique_ptr<Witness> witness_;
  std::atomic<uint64_t> now_{1700000000};
  Tree tree_{"main"};
};

TEST_F(WitnessTest, CosignsTheFirstCheckpointAndThenOnlyConsistentOnes) {
  std::string cp5 = tree_.Checkpoint(*log_, 5);
  Answer a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({0, {}, cp5}));
  EXPECT_EQ(CheckCosigned(a, cp5), 1700000000u);
  // Also verifiable the way a client does it: append and open the note.
  auto cosigned = ledger::AddSignatures(cp5, *ledger::ParseCosignatures(a.body));
  ledger::NoteVerifier wv = signer_->Verifier();
  const ledger::NoteVerifier* vs[] = {&wv};
  EXPECT_TRUE(ledger::OpenNote(*cosigned, vs));
  EXPECT_EQ(**witness_->Latest(std::string(kOrigin)), *cosigned);

  now_ = 1700000100;
  Answer b = witness_->AddCheckpoint(tree_.Request(*log_, 5, 300));
  EXPECT_EQ(CheckCosigned(b, tree_.Checkpoint(*log_, 300)), 1700000100u);
  EXPECT_EQ(EvidenceCount(), 0u);
}

TEST_F(WitnessTest, UnknownOriginIs404) {
  auto stranger = *ledger::NoteSigner::Generate("elsewhere.example/log");
  Tree t("x");
  Answer a = witness_->AddCheckpoint(t.Request(stranger, 0, 3));
  EXPECT_EQ(a.status, 404) << a.body;
}

TEST_F(WitnessTest, NoTrustedSignatureOrABadOneIs403) {
  // Signed only by a key not trusted for the origin (same name, other key).
  EXPECT_EQ(witness_->AddCheckpoint(tree_.Request(*other_, 0, 3)).status, 403);
  // The trusted key's signature, tampered with.
  std::string cp = tree_.Checkpoint(*log_, 3);
  auto note = *ledger::ParseNote(cp);
  note.signatures[0].signature[10] ^= 1;
  Answer a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({0, {}, ledger::FormatNote(note)}));
  EXPECT_EQ(a.status, 403) << a.body;
  // A trusted signature beside an unknown one is fine (unknown keys are ignored).
  auto stranger = *ledger::NoteSigner::Generate("someone.example/else");
  const ledger::NoteSigner* both[] = {&stranger, log_.get()};
  ledger::Checkpoint c{std::string(kOrigin), 3, tree_.Root(3), {}};
  std::string two = *ledger::SignNote(c.Text(), both);
  EXPECT_EQ(witness_->AddCheckpoint(ledger::FormatAddCheckpoint({0, {}, two})).status, 200);
  EXPECT_EQ(EvidenceCount(), 0u);
}

TEST_F(WitnessTest, MalformedOrOldLargerThanSizeIs400) {
  EXPECT_EQ(witness_->AddCheckpoint("").status, 400);
  EXPECT_EQ(witness_->AddCheckpoint("old 1\n\nnot a note").status, 400);
  // A signed note that is not a checkpoint (its size line is not a number).
  const ledger::NoteSigner* s[] = {log_.get()};
  std::string not_cp = *ledger::SignNote(std::string(kOrigin) + "\nfive\nAAAA\n", s);
  EXPECT_EQ(witness_->AddCheckpoint("old 1\n\n" + not_cp).status, 400);
  Answer a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({6, {}, tree_.Checkpoint(*log_, 5)}));
  EXPECT_EQ(a.status, 400) << a.body;
}

TEST_F(WitnessTest, OldSizeOtherThanTheStoredOneIs409WithTheStoredSize) {
  ASSERT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 0, 10)).status, 200);
  for (uint64_t old : {0, 5, 11}) {
    Answer a = witness_->AddCheckpoint(tree_.Request(*log_, old, 20));
    EXPECT_EQ(a.status, 409) << old;
    EXPECT_EQ(a.content_type, "text/x.tlog.size");
    EXPECT_EQ(a.body, "10\n");
  }
  EXPECT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 10, 20)).status, 200);
  EXPECT_EQ(EvidenceCount(), 0u);
}

TEST_F(WitnessTest, MisbehaviourIs422OrForkedAndKeptAsEvidence) {
  // Size 0 with a root other than the empty tree's.
  ledger::Checkpoint zero{std::string(kOrigin), 0, tree_.Root(1), {}};
  const ledger::NoteSigner* s[] = {log_.get()};
  Answer a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({0, {}, *ledger::SignNote(zero.Text(), s)}));
  EXPECT_EQ(a.status, 422) << a.body;
  // Old 0 with a proof.
  a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({0, tree_.Proof(2, 8), tree_.Checkpoint(*log_, 8)}));
  EXPECT_EQ(a.status, 422) << a.body;
  EXPECT_EQ(EvidenceCount(), 2u);

  ASSERT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 0, 8)).status, 200);
  // A fork at 8: same size, another root → 409 (tlog-witness) and evidence.
  Tree fork = tree_.Fork(5, "fork");
  a = witness_->AddCheckpoint(fork.Request(*log_, 8, 8));
  EXPECT_EQ(a.status, 409) << a.body;
  EXPECT_EQ(a.body, "8\n");
  // A fork that grows: its proof from 8 does not match the stored root.
  a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({8, fork.Proof(8, 20), fork.Checkpoint(*log_, 20)}));
  EXPECT_EQ(a.status, 422) << a.body;
  // A proof that is garbage.
  auto proof = tree_.Proof(8, 20);
  proof[0][0] ^= 1;
  a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({8, proof, tree_.Checkpoint(*log_, 20)}));
  EXPECT_EQ(a.status, 422) << a.body;
  // Equal sizes with a proof.
  a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({8, tree_.Proof(4, 8), tree_.Checkpoint(*log_, 8)}));
  EXPECT_EQ(a.status, 422) << a.body;

  auto evidence = *witness_->ListEvidence();
  ASSERT_EQ(evidence.size(), 6u);
  EXPECT_EQ(evidence[2].status, 409);
  EXPECT_NE(evidence[2].reason.find("fork"), std::string::npos);
  EXPECT_EQ(evidence[2].request, fork.Request(*log_, 8, 8));
  EXPECT_NE(evidence[2].stored.find(Base64Encode(DigestBytes(tree_.Root(8)))), std::string::npos);
  EXPECT_EQ(evidence[3].status, 422);
  // The witness still holds the honest tree at 8.
  EXPECT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 8, 9)).status, 200);
}

TEST_F(WitnessTest, EvidenceIsCappedPerLog) {
  Open(1e6, /*max_evidence=*/3);
  ASSERT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 0, 8)).status, 200);
  auto proof = tree_.Proof(8, 20);
  proof[0][0] ^= 1;
  std::string bad = ledger::FormatAddCheckpoint({8, proof, tree_.Checkpoint(*log_, 20)});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(witness_->AddCheckpoint(bad).status, 422);
  EXPECT_EQ(EvidenceCount(), 3u);
  Open(1e6, 3);  // the count survives a restart
  EXPECT_EQ(witness_->AddCheckpoint(bad).status, 422);
  EXPECT_EQ(EvidenceCount(), 3u);
}

TEST_F(WitnessTest, AnUnchangedCheckpointIsRecosignedFresh) {
  std::string cp = tree_.Checkpoint(*log_, 4);
  ASSERT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 0, 4)).status, 200);
  now_ = 1700000500;
  Answer a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({4, {}, cp}));
  EXPECT_EQ(CheckCosigned(a, cp), 1700000500u);
  // A clock at zero still gives a non-zero timestamp.
  now_ = 0;
  a = witness_->AddCheckpoint(ledger::FormatAddCheckpoint({4, {}, cp}));
  EXPECT_GT(CheckCosigned(a, cp), 0u);
}

TEST_F(WitnessTest, StateSurvivesAReopen) {
  ASSERT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 0, 42)).status, 200);
  Open();
  Answer a = witness_->AddCheckpoint(tree_.Request(*log_, 0, 50));
  EXPECT_EQ(a.status, 409);
  EXPECT_EQ(a.body, "42\n");
  EXPECT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 42, 50)).status, 200);
}

TEST_F(WitnessTest, PerLogRateLimitIs429) {
  Open(/*rate=*/2);
  ASSERT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 0, 1)).status, 200);
  ASSERT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 1, 2)).status, 200);
  EXPECT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 2, 3)).status, 429);
}

TEST_F(WitnessTest, RacingForksFromOneSizeGetOneCosignature) {
  ASSERT_EQ(witness_->AddCheckpoint(tree_.Request(*log_, 0, 16)).status, 200);
  for (int round = 0; round < 20; ++round) {
    uint64_t from = 16 + uint64_t(round) * 10;
    Tree a_tree = tree_.Fork(from, "a" + std::to_string(round));
    Tree b_tree = tree_.Fork(from, "b" + std::to_string(round));
    std::string ra = a_tree.Request(*log_, from, from + 10), rb = b_tree.Request(*log_, from, from + 10);
    Answer aa, ab;
    std::thread t1([&] { aa = witness_->AddCheckpoint(ra); });
    std::thread t2([&] { ab = witness_->AddCheckpoint(rb); });
    t1.join();
    t2.join();
    ASSERT_EQ((aa.status == 200) + (ab.status == 200), 1) << aa.status << " " << ab.status;
    Tree& winner = aa.status == 200 ? a_tree : b_tree;
    tree_ = winner.Fork(from + 10, "main" + std::to_string(round));
  }
}

TEST_F(WitnessTest, RefusesALogKeyThatIsItsOwn) {
  witness_.reset();
  Witness::Options o;
  o.logs = {WatchedLog{std::string(kOrigin), {ledger::NoteVerifier::Create(
                                                 kOrigin, ledger::kSigTypeEd25519, signer_->Verifier().public_key())}}};
  o.state = (dir_ / "state.db").string();
  auto w = Witness::Open(*ledger::CosignatureSigner::FromKeyText(signer_->PrivateKeyText()), o);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message().find("key of its own"), std::string::npos);
}

TEST(WitnessConfigTest, ParsesAndNamesWhatIsWrong) {
  auto log = *ledger::NoteSigner::Generate("firebreak.example/log");
  std::string good = R"({"key": "w.key", "state": "w.db", "listen": "127.0.0.1:0", "logs": [
      {"origin": "firebreak.example/log", "keys": [")" + log.VerifierKeyText() + R"("]}]})";
  auto c = ParseWitnessConfig(good);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->logs.size(), 1u);
  EXPECT_EQ(c->rate_per_log, 50);
  auto bad = ParseWitnessConfig(R"({"key": "w.key", "state": "w.db", "logs": [], "colour": 1})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("colour"), std::string::npos);
  bad = ParseWitnessConfig(R"({"key": "w.key", "state": "w.db", "logs": [{"origin": "o", "keys": ["x"]}]})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("logs[0].keys"), std::string::npos);
  bad = ParseWitnessConfig(R"({"state": "w.db", "logs": []})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("key"), std::string::npos);
}

// Over HTTP, with the production client.
TEST_F(WitnessTest, ServesTheProtocolOverHttp) {
  witness_.reset();
  ASSERT_TRUE(WriteFileAtomically((dir_ / "w.key").string(), signer_->PrivateKeyText() + "\n", 0600));
  WitnessConfig config;
  config.key_file = (dir_ / "w.key").string();
  config.state = (dir_ / "state.db").string();
  config.listen = "127.0.0.1:0";
  config.prefix = "/witness";
  config.logs = {WatchedLog{std::string(kOrigin), {*ledger::NoteVerifier::FromKeyText(log_->VerifierKeyText())}}};
  auto server = Server::Start(config);
  ASSERT_TRUE(server) << server.error().message();
  std::string base = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/witness";
  auto client = *http::Client::Create({});

  auto r = client->Post(base + "/add-checkpoint", tree_.Request(*log_, 0, 7), "text/plain");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(ledger::ParseCosignatures(r->body));
  r = client->Post(base + "/add-checkpoint", tree_.Request(*log_, 3, 9), "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->content_type, "text/x.tlog.size");
  EXPECT_EQ(r->body, "7\n");
  // The monitoring endpoint, with the origin as a path or percent-encoded.
  r = client->Get(base + "/checkpoint/" + std::string(kOrigin));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.substr(0, kOrigin.size()), kOrigin);
  EXPECT_TRUE(ledger::OpenCheckpoint(r->body, *ledger::NoteVerifier::FromKeyText(log_->VerifierKeyText())));
  r = client->Get(base + "/checkpoint/firebreak.example%2Ftest-force%2Fdecisions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = client->Get(base + "/checkpoint/unknown.example/log");
  EXPECT_EQ(r->status, 404);
  // The about page names the witness's key and the logs.
  r = client->Get(base + "/");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find(signer_->Verifier().KeyText()), std::string::npos);
  EXPECT_NE(r->body.find(std::string(kOrigin)), std::string::npos);
  // Wrong method, unknown path, body over the limit.
  EXPECT_EQ(client->Get(base + "/add-checkpoint")->status, 405);
  EXPECT_EQ(client->Get("http://127.0.0.1:" + std::to_string((*server)->port()) + "/add-checkpoint")->status, 404);
  auto big = client->Post(base + "/add-checkpoint", std::string(100000, 'x'), "text/plain");
  if (big) {
    EXPECT_EQ(big->status, 413);  // or the connection is closed first
  }
  (*server)->Stop();
}

}  // namespace
}  // namespace firebreak::oversight::witness
