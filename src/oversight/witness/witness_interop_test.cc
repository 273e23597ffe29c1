// The witness's cosignatures, checked by an independent implementation of
// the C2SP texts (testdata/verify_cosignature.py, python3-cryptography):
// key ID, message layout and timestamp encoding. Skips when python3 or its
// cryptography module is missing.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "base/files.h"
#include "ledger/witness_protocol.h"
#include "oversight/witness/testing/tree.h"
#include "oversight/witness/witness.h"

namespace firebreak::oversight::witness {
namespace {

namespace fs = std::filesystem;

int RunVerifier(const std::string& note_file, const std::string& vkey) {
  std::string cmd = "python3 " + std::string(FIREBREAK_SOURCE_DIR) +
                    "/src/oversight/witness/testdata/verify_cosignature.py '" + note_file + "' '" + vkey + "'";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(WitnessInterop, AnIndependentVerifierAcceptsItsCosignatures) {
  fs::path dir = fs::temp_directory_path() / ("witness_interop_" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto log = *ledger::NoteSigner::Generate("firebreak.example/interop");
  auto signer = *ledger::CosignatureSigner::Generate("witness.example/interop");
  std::string vkey = signer.Verifier().KeyText();
  Witness::Options o;
  o.logs = {WatchedLog{log.name(), {*ledger::NoteVerifier::FromKeyText(log.VerifierKeyText())}}};
  o.state = (dir / "state.db").string();
  auto w = Witness::Open(std::move(signer), o);
  ASSERT_TRUE(w) << w.error().message();
  testing::Tree tree("interop");
  std::string cp = tree.Checkpoint(log, 17);
  Answer a = (*w)->AddCheckpoint(ledger::FormatAddCheckpoint({0, {}, cp}));
  ASSERT_EQ(a.status, 200) << a.body;
  std::string note = *ledger::AddSignatures(cp, *ledger::ParseCosignatures(a.body));
  ASSERT_TRUE(WriteFileAtomically((dir / "good").string(), note));
  int rc = RunVerifier((dir / "good").string(), vkey);
  if (rc == 77 || rc == 127) {
    fs::remove_all(dir);
    GTEST_SKIP() << "python3 with the cryptography module (Debian: python3-cryptography) is not installed";
  }
  EXPECT_EQ(rc, 0);
  // The same cosignature on another checkpoint text does not verify.
  std::string other = tree.Checkpoint(log, 18);
  auto forged = ledger::ParseNote(note);
  forged->text = ledger::ParseNote(other)->text;
  ASSERT_TRUE(WriteFileAtomically((dir / "bad").string(), ledger::FormatNote(*forged)));
  EXPECT_EQ(RunVerifier((dir / "bad").string(), vkey), 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace firebreak::oversight::witness
