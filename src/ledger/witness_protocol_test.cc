#include "ledger/witness_protocol.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "ledger/checkpoint.h"

namespace firebreak::ledger {
namespace {

// The example request body of C2SP tlog-witness ("add-checkpoint").
constexpr std::string_view kSpecRequest =
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\xE2\x80\x94 example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\xE2\x80\x94 example.com/behind-the-sofa "
    "opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";

TEST(WitnessProtocol, ParsesTheSpecExampleRequestAndWritesItBackByteForByte) {
  auto req = ParseAddCheckpoint(kSpecRequest);
  ASSERT_TRUE(req) << req.error().message();
  EXPECT_EQ(req->old_size, 20852014u);
  ASSERT_EQ(req->proof.size(), 4u);
  EXPECT_EQ(Base64Encode(DigestBytes(req->proof[0])), "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=");
  auto cp = ParseNote(req->checkpoint);
  ASSERT_TRUE(cp);
  auto parsed = ParseCheckpoint(cp->text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->origin, "example.com/behind-the-sofa");
  EXPECT_EQ(parsed->size, 20852163u);
  EXPECT_EQ(cp->signatures.size(), 2u);
  EXPECT_EQ(FormatAddCheckpoint(*req), kSpecRequest);
}

TEST(WitnessProtocol, ParsesTheSpecExampleAnswer) {
  // The example response body of tlog-witness: three cosignature lines.
  std::string body =
      "\xE2\x80\x94 witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"
      "\xE2\x80\x94 witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==\n"
      "\xE2\x80\x94 witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n";
  auto sigs = ParseCosignatures(body);
  ASSERT_TRUE(sigs) << sigs.error().message();
  ASSERT_EQ(sigs->size(), 3u);
  EXPECT_EQ((*sigs)[0].name, "witness.example/w1");
  EXPECT_EQ((*sigs)[2].name, "witness.example/w2");
  EXPECT_EQ(FormatCosignatures(*sigs), body);
}

TEST(WitnessProtocol, TheCosignatureExampleCarriesItsTimestamp) {
  // tlog-cosignature's example line; its signed message shows "time 1679315147".
  auto sigs = ParseCosignatures(
      "\xE2\x80\x94 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n");
  ASSERT_TRUE(sigs);
  ASSERT_EQ(sigs->size(), 1u);
  auto ts = CosignatureTimestamp((*sigs)[0]);
  ASSERT_TRUE(ts);
  EXPECT_EQ(*ts, 1679315147u);
}

TEST(WitnessProtocol, RejectsMalformedRequests) {
  const std::string cp = "o\n1\nAAAA\n\n\xE2\x80\x94 o AAAAAAA=\n";
  for (std::string bad : {std::string(""), std::string("old 1"), "old 01\n\n" + cp, "old -1\n\n" + cp,
                          "old 1\n" + cp, "new 1\n\n" + cp, "old 1\nAAAA\n\n" + cp,
                          std::string("old 1\n\n"), "old 18446744073709551616\n\n" + cp,
                          "old  1\n\n" + cp}) {
    EXPECT_FALSE(ParseAddCheckpoint(bad)) << bad;
  }
  std::string many = "old 1\n";
  for (int i = 0; i < 64; ++i) many += Base64Encode(std::string(32, 'a')) + "\n";
  EXPECT_FALSE(ParseAddCheckpoint(many + "\n" + cp));
  std::string ok = "old 1\n";
  for (int i = 0; i < 63; ++i) ok += Base64Encode(std::string(32, 'a')) + "\n";
  EXPECT_TRUE(ParseAddCheckpoint(ok + "\n" + cp));
  EXPECT_TRUE(ParseAddCheckpoint("old 0\n\n" + cp));
  EXPECT_EQ(ParseAddCheckpoint("old 18446744073709551615\n\n" + cp)->old_size, UINT64_MAX);
}

TEST(WitnessProtocol, TlogSize) {
  EXPECT_EQ(FormatTlogSize(42), "42\n");
  EXPECT_EQ(*ParseTlogSize("42\n"), 42u);
  EXPECT_EQ(*ParseTlogSize("0\n"), 0u);
  EXPECT_FALSE(ParseTlogSize("42"));
  EXPECT_FALSE(ParseTlogSize("042\n"));
  EXPECT_FALSE(ParseTlogSize(" 42\n"));
}

TEST(WitnessProtocol, CosignaturesFromARealSignerVerifyOnTheCheckpoint) {
  auto log = NoteSigner::Generate("firebreak.example/log");
  auto w = CosignatureSigner::Generate("witness.example/w1");
  ASSERT_TRUE(log && w);
  Checkpoint cp{"firebreak.example/log", 3, HashLeaf("x"), {}};
  const NoteSigner* signers[] = {&*log};
  auto signed_cp = SignNote(cp.Text(), signers);
  ASSERT_TRUE(signed_cp);
  std::string answer = FormatCosignatures({w->Cosign(cp.Text(), 1700000000)});
  auto sigs = ParseCosignatures(answer);
  ASSERT_TRUE(sigs);
  auto cosigned = AddSignatures(*signed_cp, *sigs);
  ASSERT_TRUE(cosigned);
  // Adding the same line twice keeps one.
  EXPECT_EQ(*AddSignatures(*cosigned, *sigs), *cosigned);
  NoteVerifier wv = w->Verifier();
  const NoteVerifier* vs[] = {&wv};
  auto opened = OpenNote(*cosigned, vs);
  ASSERT_TRUE(opened);
  // The key survives a round trip through its text.
  auto again = CosignatureSigner::FromKeyText(w->PrivateKeyText());
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->Verifier().KeyText(), wv.KeyText());
  EXPECT_FALSE(CosignatureSigner::FromKeyText(log->PrivateKeyText()));
  EXPECT_FALSE(NoteSigner::FromKeyText(w->PrivateKeyText()));
}

}  // namespace
}  // namespace firebreak::ledger
