#include "ledger/note.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "ledger/checkpoint.h"

namespace firebreak::ledger {
namespace {

// The signed-note example key and note of golang.org/x/mod/sumdb/note, which
// C2SP signed-note standardises (Ed25519 is deterministic, so signing must
// reproduce the published note byte for byte).
constexpr const char* kPeterSigner =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr const char* kPeterVerifier =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr const char* kPeterText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr const char* kPeterNote =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

TEST(NoteTest, ExampleKeySignsTheExampleNoteExactly) {
  auto signer = NoteSigner::FromKeyText(kPeterSigner);
  ASSERT_TRUE(signer) << signer.error().ToString();
  EXPECT_EQ(signer->VerifierKeyText(), kPeterVerifier);
  EXPECT_EQ(signer->PrivateKeyText(), kPeterSigner);
  const NoteSigner* signers[] = {&*signer};
  auto note = SignNote(kPeterText, signers);
  ASSERT_TRUE(note);
  EXPECT_EQ(*note, kPeterNote);
}

TEST(NoteTest, ExampleNoteOpensAndTamperingIsCaught) {
  auto v = NoteVerifier::FromKeyText(kPeterVerifier);
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ(v->key_id(), 0xc74f20a3u);
  const NoteVerifier* vs[] = {&*v};
  auto opened = OpenNote(kPeterNote, vs);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->note.text, kPeterText);
  ASSERT_EQ(opened->verified_by.size(), 1u);

  std::string tampered = kPeterNote;
  tampered.replace(tampered.find("cryptography"), 12, "cryptographY");
  EXPECT_EQ(OpenNote(tampered, vs).error(), NoteError::kInvalidSignature);
  // Every single-byte change of the note fails to open.
  std::string note = kPeterNote;
  for (size_t i = 0; i < note.size(); ++i) {
    std::string bad = note;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(OpenNote(bad, vs)) << "byte " << i;
  }
  // An unknown key is ignored: the note is then unverified.
  auto other = NoteSigner::Generate("PeterNeumann");
  ASSERT_TRUE(other);
  auto ov = NoteVerifier::FromKeyText(other->VerifierKeyText());
  const NoteVerifier* ovs[] = {&*ov};
  EXPECT_EQ(OpenNote(kPeterNote, ovs).error(), NoteError::kUnverified);
}

TEST(NoteTest, SecondPublishedExample) {
  // c2sp signed-note example key "example.com/foo".
  auto v = NoteVerifier::FromKeyText(
      "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
  ASSERT_TRUE(v) << v.error().ToString();
  const NoteVerifier* vs[] = {&*v};
  std::string note =
      "This is an example message.\n\n\xE2\x80\x94 example.com/foo "
      "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
      "\n";
  auto opened = OpenNote(note, vs);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->note.text, "This is an example message.\n");
}

TEST(NoteTest, MalformedNotesAndKeys) {
  auto v = NoteVerifier::FromKeyText(kPeterVerifier);
  const NoteVerifier* vs[] = {&*v};
  EXPECT_EQ(OpenNote("no signatures\n", vs).error(), NoteError::kMalformed);
  EXPECT_EQ(OpenNote("text\n\n-- PeterNeumann AAAA\n", vs).error(), NoteError::kMalformed);
  EXPECT_EQ(OpenNote(std::string(kPeterNote) + "x", vs).error(), NoteError::kMalformed);
  EXPECT_EQ(OpenNote("a\tb\n\n\xE2\x80\x94 x AAAAAAA=\n", vs).error(), NoteError::kMalformed);
  EXPECT_FALSE(NoteVerifier::FromKeyText("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
                                         "LDE4izWy10TW"));  // wrong id
  EXPECT_FALSE(NoteVerifier::FromKeyText("bad name+c74f20a3+ARpc"));
  EXPECT_FALSE(NoteSigner::Generate("has+plus"));
  EXPECT_FALSE(NoteSigner::Generate(""));
}

TEST(CosignatureTest, RoundTripAndTamper) {
  auto log = NoteSigner::Generate("firebreak.example/log");
  auto witness = CosignatureSigner::Generate("witness.example/w1");
  ASSERT_TRUE(log && witness);
  Checkpoint cp{"firebreak.example/log", 5, HashLeaf("x"), {}};
  const NoteSigner* signers[] = {&*log};
  auto signed_cp = SignNote(cp.Text(), signers);
  ASSERT_TRUE(signed_cp);
  auto parsed = ParseNote(*signed_cp);
  parsed->signatures.push_back(witness->Cosign(cp.Text(), 1700000000));
  std::string cosigned = FormatNote(*parsed);

  NoteVerifier wv = witness->Verifier();
  EXPECT_EQ(wv.type(), kSigTypeCosignatureV1);
  auto wv2 = NoteVerifier::FromKeyText(wv.KeyText());
  ASSERT_TRUE(wv2);
  EXPECT_EQ(wv2->key_id(), wv.key_id());
  const NoteVerifier* ws[] = {&wv};
  auto opened = OpenNote(cosigned, ws);
  ASSERT_TRUE(opened);
  // The 0x04 key ID differs from an 0x01 key ID of the same key and name.
  EXPECT_NE(wv.key_id(),
            KeyId(witness->name(), kSigTypeEd25519, parsed->signatures.back().signature));
  // Changing the timestamp breaks the cosignature.
  auto broken = *parsed;
  broken.signatures.back().signature[7] ^= 1;
  EXPECT_EQ(OpenNote(FormatNote(broken), ws).error(), NoteError::kInvalidSignature);
  EXPECT_EQ(CosignatureMessage("a\n", 7), "cosignature/v1\ntime 7\na\n");
}

TEST(CheckpointTest, FormatParseAndStrictness) {
  Checkpoint cp{"firebreak.example/suffolk-police/decisions", 70000, HashLeaf("r"), {}};
  auto back = ParseCheckpoint(cp.Text());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->origin, cp.origin);
  EXPECT_EQ(back->size, 70000u);
  EXPECT_EQ(back->root, cp.root);
  std::string root = Base64Encode(DigestBytes(cp.root));
  EXPECT_FALSE(ParseCheckpoint("o\n070000\n" + root + "\n"));
  EXPECT_FALSE(ParseCheckpoint("o\n-1\n" + root + "\n"));
  EXPECT_FALSE(ParseCheckpoint("o\n1\n" + root));
  EXPECT_FALSE(ParseCheckpoint("o\n1\nAAAA\n"));
  EXPECT_FALSE(ParseCheckpoint("o\n18446744073709551616\n" + root + "\n"));
  auto ext = ParseCheckpoint("o\n0\n" + root + "\nextension line\n");
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->extensions.size(), 1u);
}

TEST(ReceiptTest, RoundTripAndVerify) {
  auto log = NoteSigner::Generate("firebreak.example/log");
  auto witness = CosignatureSigner::Generate("witness.example/w1");
  ASSERT_TRUE(log && witness);
  std::vector<std::string> entries = {"a", "b", "c", "d", "e"};
  std::vector<Hash> leaves;
  for (const auto& e : entries) leaves.push_back(HashLeaf(e));
  NodeReader read = [&](int level, uint64_t index) -> Result<Hash> {
    uint64_t w = uint64_t{1} << level;
    return RootFromLeafHashes(std::span<const Hash>(leaves).subspan(index * w, w));
  };
  Checkpoint cp{log->name(), 5, RootFromLeafHashes(leaves), {}};
  const NoteSigner* signers[] = {&*log};
  auto note = ParseNote(*SignNote(cp.Text(), signers));
  note->signatures.push_back(witness->Cosign(cp.Text(), 42));
  Receipt r;
  r.index = 3;
  r.extra = "context";
  r.inclusion_proof = *InclusionProof(3, 5, read);
  r.checkpoint = FormatNote(*note);
  std::string text = FormatReceipt(r);
  EXPECT_EQ(text.substr(0, 23), "c2sp.org/tlog-proof@v1\n");
  auto back = ParseReceipt(text);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->index, 3u);
  EXPECT_EQ(back->extra, "context");
  EXPECT_EQ(back->checkpoint, r.checkpoint);

  auto lv = NoteVerifier::FromKeyText(log->VerifierKeyText());
  NoteVerifier wv = witness->Verifier();
  const NoteVerifier* ws[] = {&wv};
  EXPECT_TRUE(VerifyReceipt(*back, "d", *lv, ws, 1));
  EXPECT_EQ(VerifyReceipt(*back, "c", *lv, ws, 1).error(), ReceiptError::kInclusionFailed);
  EXPECT_EQ(VerifyReceipt(*back, "d", *lv, ws, 2).error(), ReceiptError::kTooFewCosignatures);
  back->index = 2;
  EXPECT_EQ(VerifyReceipt(*back, "d", *lv, ws, 1).error(), ReceiptError::kInclusionFailed);
}

// Key names are note text: valid UTF-8 (base's one validator) with no
// control characters, and no spaces or '+'.
TEST(NoteKeyName, IsValidUtf8WithoutControlCharacters) {
  EXPECT_TRUE(IsValidKeyName("witness.example/w1"));
  EXPECT_TRUE(IsValidKeyName("t\xC3\xA9moin"));           // é
  EXPECT_TRUE(IsValidKeyName("w\xF0\x9F\x94\x92"));        // U+1F512
  EXPECT_TRUE(IsValidKeyName("del\x7F"));                  // DEL is allowed
  EXPECT_FALSE(IsValidKeyName(""));
  EXPECT_FALSE(IsValidKeyName("bad\x01name"));             // a control character
  EXPECT_FALSE(IsValidKeyName(std::string("nul\0x", 5)));  // NUL
  EXPECT_FALSE(IsValidKeyName("over\xC0\xAFlong"));        // overlong '/'
  EXPECT_FALSE(IsValidKeyName("sur\xED\xA0\x80rogate"));   // U+D800
  EXPECT_FALSE(IsValidKeyName("big\xF4\x90\x80\x80"));     // above U+10FFFF
  EXPECT_FALSE(IsValidKeyName("cut\xE2\x82"));             // cut short
  EXPECT_FALSE(IsValidKeyName("stray\x80"));               // a stray continuation byte
  EXPECT_FALSE(IsValidKeyName("a+b"));
  EXPECT_FALSE(IsValidKeyName("a b"));
}

}  // namespace
}  // namespace firebreak::ledger
