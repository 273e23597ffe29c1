// Firebreak's readers of the C2SP formats against the independent reading
// of the specifications (c2sp_reference.h): first the reference itself on
// cases whose answer the specifications state, then both on the published
// examples, on what the log writes, and on 400,000 mutations of them.
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ledger/checkpoint.h"
#include "ledger/note.h"
#include "ledger/testing/c2sp_differential.h"
#include "ledger/testing/c2sp_reference.h"

namespace firebreak::ledger::c2sp {
namespace {

const std::string kDash = "\xE2\x80\x94 ";

// c2sp.org/signed-note's example (a text with an empty line in it).
const std::string kSpecNote =
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \xC3\xA8 subito sera.\n\n" + kDash +
    "quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
// c2sp.org/tlog-checkpoint's example.
const std::string kSpecCheckpoint = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n" +
                                    kDash +
                                    "example.com/behind-the-sofa "
                                    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
const std::string kRoot = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
const std::string kSig = "AAAAAQ==";  // key ID 1, an empty signature

std::string Escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c < 0x20 || c >= 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += char(c);
  }
  return out;
}

std::string Proof(std::string_view lines) { return "c2sp.org/tlog-proof@v1\n" + std::string(lines) + "\n" + kSpecCheckpoint; }

TEST(C2spReference, ReadsWhatTheSpecificationsSay) {
  struct Case {
    std::string what, input;
    bool note, checkpoint, proof, tile;
  };
  const std::string cp = "o\n0\n" + kRoot + "\n";
  const std::vector<Case> cases = {
      {"the signed-note example", kSpecNote, true, false, false, false},
      {"the checkpoint example", kSpecCheckpoint, true, false, false, false},
      {"a checkpoint text", cp, false, true, false, false},
      {"DEL is not a control character below U+0020", "a\x7f\n\n" + kDash + "k " + kSig + "\n", true, false, false, false},
      {"a tab is", "a\tb\n\n" + kDash + "k " + kSig + "\n", false, false, false, false},
      {"a surrogate is not UTF-8", "a\xED\xA0\x80\n\n" + kDash + "k " + kSig + "\n", false, false, false, false},
      {"an overlong form is not UTF-8", "a\xC0\xAF\n\n" + kDash + "k " + kSig + "\n", false, false, false, false},
      {"a no-break space in a key name", "a\n\n" + kDash + "k\xC2\xA0x " + kSig + "\n", false, false, false, false},
      {"a line separator in a key name", "a\n\n" + kDash + "k\xE2\x80\xA8x " + kSig + "\n", false, false, false, false},
      {"an ideographic space in a key name", "a\n\n" + kDash + "k\xE3\x80\x80x " + kSig + "\n", false, false, false, false},
      {"a plus in a key name", "a\n\n" + kDash + "k+x " + kSig + "\n", false, false, false, false},
      {"a signature of only a key ID", "a\n\n" + kDash + "k " + kSig + "\n", true, false, false, false},
      {"a signature shorter than a key ID", "a\n\n" + kDash + "k AAAA\n", false, false, false, false},
      {"base64 with its spare bits set", "a\n\n" + kDash + "k AAAAAR==\n", false, false, false, false},
      {"no signature line", "a\n\n", false, false, false, false},
      {"a hyphen for the dash", "a\n\n- k " + kSig + "\n", false, false, false, false},
      {"the last empty line separates", "a\n\n" + kDash + "k " + kSig + "\n\n" + kDash + "k " + kSig + "\n", true, false, false,
       false},
      {"a checkpoint size with a leading zero", "o\n01\n" + kRoot + "\n", false, false, false, false},
      {"a checkpoint root of 31 bytes", "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n", false, false, false, false},
      {"an empty extension line", "o\n1\n" + kRoot + "\n\next\n", false, false, false, false},
      {"an extension line", "o\n1\n" + kRoot + "\next\n", false, true, false, false},
      {"a size past 64 bits", "o\n18446744073709551616\n" + kRoot + "\n", false, false, false, false},
      {"a proof with extra data and no hashes", Proof("extra AQID\nindex 0\n"), true, false, true, false},
      {"a proof with a hash", Proof("index 7\n" + kRoot + "\n"), true, false, true, false},
      {"a proof index with a leading zero", Proof("index 07\n"), true, false, false, false},
      {"a proof whose checkpoint is not a signed note", "c2sp.org/tlog-proof@v1\nindex 0\n\nnot a note\n", false, false, false,
       false},
      {"a proof whose note is not a checkpoint", "c2sp.org/tlog-proof@v1\nindex 0\n\n" + kSpecNote, true, false, false, false},
      {"a full tile", "tile/0/x001/x234/067", false, false, false, true},
      {"a partial tile", "tile/3/005.p/255", false, false, false, true},
      {"a partial bundle", "tile/entries/x001/000.p/1", false, false, false, true},
      {"a width of 256", "tile/0/005.p/256", false, false, false, false},
      {"a width of 0", "tile/0/005.p/0", false, false, false, false},
      {"a width with a leading zero", "tile/0/005.p/07", false, false, false, false},
      {"a level with a leading zero", "tile/01/005", false, false, false, false},
      {"level 8 (none in a 2^64 tree)", "tile/8/000", false, false, false, false},
      {"an index not in groups of three", "tile/0/05", false, false, false, false},
      {"a leading all-zero group", "tile/0/x000/005", false, false, false, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(bool(ReadSignedNote(c.input)), c.note);
    EXPECT_EQ(bool(ReadCheckpointBody(c.input)), c.checkpoint);
    EXPECT_EQ(bool(ReadTlogProof(c.input)), c.proof);
    EXPECT_EQ(bool(ReadTilePath(c.input)), c.tile);
    auto d = FirstDisagreement(c.input);
    EXPECT_FALSE(d) << *d << ": " << Escaped(c.input);
  }
  auto note = ReadSignedNote(kSpecNote);
  ASSERT_TRUE(note);
  EXPECT_EQ(note->signatures[0].key_name, "quasimodo.example/salvatore");
  auto body = ReadCheckpointBody(ReadSignedNote(kSpecCheckpoint)->text);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->tree_size, 20852163u);
  auto tile = ReadTilePath("tile/entries/x001/x234/067.p/9");
  ASSERT_TRUE(tile);
  EXPECT_TRUE(tile->entries);
  EXPECT_EQ(tile->index, 1234067u);
  EXPECT_EQ(tile->partial_width, 9u);
}

// What the log writes: a signed, cosigned checkpoint and a receipt.
std::vector<std::string> Seeds() {
  std::vector<std::string> seeds = {kSpecNote, kSpecCheckpoint, "o\n5\n" + kRoot + "\next\n", "tile/0/x001/x234/067",
                                    "tile/entries/005.p/17", "tile/7/x018/x446/x744/x073/x709/551"};
  auto signer = NoteSigner::Generate("firebreak.example/log");
  auto witness = CosignatureSigner::Generate("witness.example/w1");
  EXPECT_TRUE(signer && witness);
  if (!signer || !witness) return seeds;
  Checkpoint cp;
  cp.origin = "firebreak.example/log";
  cp.size = 1234;
  const NoteSigner* signers[] = {&*signer};
  auto note = SignNote(cp.Text(), signers);
  EXPECT_TRUE(note);
  if (!note) return seeds;
  auto parsed = ParseNote(*note);
  parsed->signatures.push_back(witness->Cosign(cp.Text(), 1796000000));
  std::string cosigned = FormatNote(*parsed);
  seeds.push_back(cosigned);
  Receipt r;
  r.extra = "extra data";
  r.index = 1000;
  r.inclusion_proof.resize(3);
  r.inclusion_proof[1][0] = 7;
  r.checkpoint = cosigned;
  seeds.push_back(FormatReceipt(r));
  r.extra.clear();
  r.inclusion_proof.clear();
  seeds.push_back(FormatReceipt(r));
  return seeds;
}

std::string Mutate(std::string s, std::mt19937_64& rng) {
  static const std::vector<std::string> tokens = {
      "\n", "\n\n", kDash, " ", "=", "==", "+", "/", "0", "00", "9", "x", ".p/", "\x7f", "\t", "\xC2\xA0", "\xE2\x80\xA8",
      "\xED\xA0\x80", "\xC0\xAF", "\xE2\x80", "extra ", "index ", "c2sp.org/tlog-proof@v1\n", "tile/", "entries/", "AAAA",
      "18446744073709551615", "18446744073709551616", "256", "255"};
  int ops = 1 + int(rng() % 4);
  for (int k = 0; k < ops; ++k) {
    size_t at = s.empty() ? 0 : size_t(rng() % (s.size() + 1));
    switch (rng() % 6) {
      case 0:
        if (!s.empty()) s[std::min(at, s.size() - 1)] ^= char(1u << (rng() % 8));
        break;
      case 1: s.insert(at, tokens[rng() % tokens.size()]); break;
      case 2: s.erase(at, size_t(rng() % 8)); break;
      case 3:
        if (!s.empty()) s[std::min(at, s.size() - 1)] = tokens[rng() % tokens.size()][0];
        break;
      case 4: {  // duplicate a line
        size_t b = s.rfind('\n', at == 0 ? 0 : at - 1), e = s.find('\n', at);
        b = b == std::string::npos ? 0 : b + 1;
        if (e != std::string::npos && b <= e) s.insert(b, s.substr(b, e - b + 1));
        break;
      }
      default: s.resize(at); break;
    }
  }
  return s;
}

TEST(C2spDifferential, FirebreakReadsEveryMutationAsTheSpecificationsDo) {
  std::mt19937_64 rng(20261130);
  size_t accepted = 0, total = 0;
  for (const std::string& seed : Seeds()) {
    ASSERT_FALSE(FirstDisagreement(seed)) << *FirstDisagreement(seed) << ": " << Escaped(seed);
    for (int i = 0; i < 40'000; ++i) {
      std::string m = Mutate(seed, rng);
      ++total;
      if (ReadSignedNote(m) || ReadTlogProof(m) || ReadTilePath(m) || ReadCheckpointBody(m)) ++accepted;
      auto d = FirstDisagreement(m);
      ASSERT_FALSE(d) << *d << ": " << Escaped(m);
    }
  }
  // The mutations must reach both answers, or the comparison proves little.
  EXPECT_GT(accepted, total / 20);
  EXPECT_LT(accepted, total - total / 20);
  RecordProperty("mutations", int(total));
  RecordProperty("accepted", int(accepted));
}

}  // namespace
}  // namespace firebreak::ledger::c2sp
