#include "base/base.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <openssl/evp.h>

namespace firebreak {
namespace {

std::string Hex(const Digest& d) { return HexEncode(DigestBytes(d)); }

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(Sha256, KnownAnswers) {
  // FIPS 180-2 examples.
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  EXPECT_EQ(h.Hash2("a", "bc"), Sha256("abc"));
  EXPECT_EQ(h.Hash3("a", "b", "c"), Sha256("abc"));
}

TEST(HmacSha256, Rfc4231Case2) {
  HmacSha256 mac("Jefe");
  std::string expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  EXPECT_EQ(Hex(mac.Mac("what do ya want for nothing?")), expected);
  // The context is reusable.
  EXPECT_EQ(Hex(mac.Mac("what do ya want for nothing?")), expected);
  EXPECT_EQ(Hex(HmacSha256Once("Jefe", "what do ya want for nothing?")), expected);
}

// HmacSha256Once keeps a few keyed contexts per thread: whatever the order
// of keys, each answer is that key's MAC (more keys than are kept, taking
// turns, repeated, and keys that share a prefix).
TEST(HmacSha256, OnceWithManyKeysInTurn) {
  std::vector<std::string> keys = {"Jefe", "k1", "k2", "k3", "k4", "k5", "Jef", std::string(64, 'x'),
                                   std::string(65, 'x')};
  std::vector<std::string> order;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) order.push_back(keys[(i * 5 + size_t(round)) % keys.size()]);
    order.push_back(keys[0]);
    order.push_back(keys[1]);
    order.push_back(keys[0]);
  }
  for (const std::string& key : order) {
    HmacSha256 fresh(key);
    EXPECT_EQ(Hex(HmacSha256Once(key, "message for " + key)), Hex(fresh.Mac("message for " + key))) << key;
  }
  EXPECT_EQ(Hex(HmacSha256Once("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Encoding, Base64EveryLength) {
  // Against OpenSSL's encoder, and back, for every length 0..64 and every
  // byte value.
  for (size_t n = 0; n <= 64; ++n) {
    std::string bytes;
    for (size_t i = 0; i < n; ++i) bytes += char((i * 37 + n * 11) & 0xff);
    std::string enc = Base64Encode(bytes);
    std::string reference((n + 2) / 3 * 4 + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(reference.data()),
                              reinterpret_cast<const unsigned char*>(bytes.data()), int(n));
    reference.resize(size_t(len));
    EXPECT_EQ(enc, reference) << n;
    auto back = Base64Decode(enc);
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, bytes) << n;
  }
  std::string all;
  for (int c = 0; c < 256; ++c) all += char(c);
  EXPECT_EQ(Base64Decode(Base64Encode(all)).value(), all);
}

// Random bytes are drawn from a per-thread buffer: draws differ, and a
// forked child never repeats what its parent draws next.
TEST(RandomBytes, DrawsDifferAndForkedChildrenDoNotRepeatTheParent) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    auto r = RandomBytes(size_t(1 + i % 40));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), size_t(1 + i % 40));
    if (r->size() >= 12) {
      EXPECT_TRUE(seen.insert(*r).second);
    }
  }
  ASSERT_TRUE(RandomBytes(16));  // the buffer holds more than the next draw
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto r = RandomBytes(16);
    ssize_t n = r ? write(fds[1], r->data(), r->size()) : -1;
    _exit(n == 16 ? 0 : 1);
  }
  auto mine = RandomBytes(16);
  ASSERT_TRUE(mine);
  std::string theirs(16, '\0');
  ASSERT_EQ(read(fds[0], theirs.data(), 16), 16);
  int status = 0;
  waitpid(child, &status, 0);
  close(fds[0]);
  close(fds[1]);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(*mine, theirs);
}

TEST(Aes256Gcm, SealOpenAndRejectTampering) {
  std::string key(32, 'k'), other(32, 'o');
  auto sealed = SealAes256Gcm(key, "the victim's facts", "request-1");
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(sealed->size(), 12 + 18 + 16u);
  EXPECT_EQ(OpenAes256Gcm(key, *sealed, "request-1").value(), "the victim's facts");
  // A fresh nonce each time: the same plaintext seals differently.
  EXPECT_NE(SealAes256Gcm(key, "the victim's facts", "request-1").value(), *sealed);
  EXPECT_EQ(OpenAes256Gcm(other, *sealed, "request-1").error().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(OpenAes256Gcm(key, *sealed, "request-2").error().code(), ErrorCode::kDataLoss);
  for (size_t i = 0; i < sealed->size(); i += 7) {
    std::string bad = *sealed;
    bad[i] ^= 1;
    EXPECT_FALSE(OpenAes256Gcm(key, bad, "request-1").has_value()) << i;
  }
  EXPECT_FALSE(OpenAes256Gcm(key, "short", "").has_value());
  EXPECT_EQ(SealAes256Gcm("short", "x", "").error().code(), ErrorCode::kInvalidArgument);
}

TEST(Encoding, HexRoundTripAndErrors) {
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
  EXPECT_EQ(HexDecode("01AB").value(), "\x01\xab");
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(Encoding, Base64Rfc4648Vectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, enc] : cases) {
    EXPECT_EQ(Base64Encode(plain), enc);
    auto back = Base64Decode(enc);
    ASSERT_TRUE(back.has_value()) << enc;
    EXPECT_EQ(*back, plain);
  }
}

TEST(Encoding, Base64RejectsNonCanonical) {
  EXPECT_FALSE(Base64Decode("Zg=").has_value());     // length
  EXPECT_FALSE(Base64Decode("Zh==").has_value());    // trailing bits
  EXPECT_FALSE(Base64Decode("Z===").has_value());    // too much padding
  EXPECT_FALSE(Base64Decode("Zg==Zm8=").has_value());  // padding in the middle
  EXPECT_FALSE(Base64Decode("Zm9*").has_value());    // alphabet
}

// AppendJsonString writes what Boost.JSON's serializer writes, for every
// byte, at every offset of runs that the 8-byte scan crosses or ends in.
TEST(Encoding, AppendJsonStringIsBoostJsonsEscaping) {
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString(std::string("a\"b\\c\n\x01\x1f\x7f\xc3\xa9\0", 12)),
            "\"a\\\"b\\\\c\\n\\u0001\\u001f\x7f\xc3\xa9\\u0000\"");
  for (int b = 0; b < 256; ++b) {
    for (size_t len : {1, 7, 8, 9, 15, 16, 17, 24}) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'x');
        s[at] = char(b);
        if (at + 3 < len) s[at + 3] = char(b);  // two in one word
        std::string expected = boost::json::serialize(boost::json::string(s));
        ASSERT_EQ(JsonString(s), expected) << "byte " << b << " at " << at << " of " << len;
      }
    }
  }
  // Appends: what `out` held stays.
  std::string out = "[";
  AppendJsonString("a", &out);
  EXPECT_EQ(out, "[\"a\"");
}

// Code point `cp` written in `len` bytes of UTF-8's bit pattern, whether or
// not that is its shortest form (for overlong forms and out-of-range values).
std::string EncodeAs(uint32_t cp, int len) {
  if (len == 1) return std::string(1, char(cp));
  static const unsigned char kLead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  std::string out(size_t(len), '\0');
  for (int i = len - 1; i > 0; --i) {
    out[size_t(i)] = char(0x80 | (cp & 0x3F));
    cp >>= 6;
  }
  out[0] = char(kLead[len] | cp);
  return out;
}

int ShortestLength(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

TEST(Utf8, EveryScalarValueIsValidInItsShortestFormOnly) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    int len = ShortestLength(cp);
    std::string s = "a" + EncodeAs(cp, len) + "z";
    ASSERT_TRUE(IsValidUtf8(s)) << std::hex << "U+" << cp;
    // Every longer (overlong) form is refused, at the lead byte.
    for (int longer = len + 1; longer <= 4; ++longer) {
      ASSERT_EQ(FindInvalidUtf8("a" + EncodeAs(cp, longer) + "z"), std::optional<size_t>(1))
          << std::hex << "U+" << cp << " in " << longer << " bytes";
    }
    // Every proper prefix of a multi-byte form is cut short, at its end and
    // before an ASCII byte.
    for (int cut = 1; cut < len; ++cut) {
      std::string prefix = EncodeAs(cp, len).substr(0, size_t(cut));
      ASSERT_EQ(FindInvalidUtf8("ab" + prefix), std::optional<size_t>(2)) << std::hex << "U+" << cp;
      ASSERT_EQ(FindInvalidUtf8("ab" + prefix + "c"), std::optional<size_t>(2)) << std::hex << "U+" << cp;
    }
  }
}

TEST(Utf8, SurrogatesAndCodePointsAboveTheLastAreInvalid) {
  for (uint32_t cp = 0xD800; cp <= 0xDFFF; ++cp) {
    ASSERT_EQ(FindInvalidUtf8("x" + EncodeAs(cp, 3)), std::optional<size_t>(1)) << std::hex << cp;
  }
  // A high and a low surrogate in a row (CESU-8's pair) is no better.
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\xBD\xED\xB8\x80"));
  for (uint32_t cp = 0x110000; cp <= 0x1FFFFF; cp += 0x101) {
    ASSERT_EQ(FindInvalidUtf8(EncodeAs(cp, 4)), std::optional<size_t>(0)) << std::hex << cp;
  }
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));   // U+10FFFF, the last
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // U+110000
}

TEST(Utf8, StrayAndImpossibleBytes) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));  // U+0000 is valid UTF-8
  EXPECT_TRUE(IsValidUtf8("Siobh\xC3\xA1n \xE5\x90\x8D\xE5\x89\x8D \xF0\x9F\x98\x80"));
  for (int b = 0x80; b <= 0xBF; ++b) {
    EXPECT_EQ(FindInvalidUtf8("ok" + std::string(1, char(b))), std::optional<size_t>(2)) << b;  // continuation alone
  }
  for (int b : {0xC0, 0xC1, 0xF5, 0xF6, 0xF7, 0xF8, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF}) {
    EXPECT_EQ(FindInvalidUtf8(std::string(1, char(b)) + "\x80\x80\x80"), std::optional<size_t>(0)) << b;
  }
  // A lead byte followed by something that does not continue it.
  EXPECT_EQ(FindInvalidUtf8("\xC3\xA9\xE2\x28\xA1"), std::optional<size_t>(2));
  EXPECT_EQ(FindInvalidUtf8("\xF0\x9F\x98"), std::optional<size_t>(0));
  // The first bad sequence is the one named.
  EXPECT_EQ(FindInvalidUtf8("abc\xFF\xC3"), std::optional<size_t>(3));
}

// An independent judge: Boost.JSON's parser refuses a string literal that is
// not valid UTF-8. Random byte strings, weighted to the bytes that matter,
// must get the same verdict from both.
TEST(Utf8, AgreesWithBoostJsonsParser) {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const unsigned char kInteresting[] = {'a',  0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                        0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4,
                                        0xF5, 0xFF};
  int valid = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    size_t len = next() % 7;
    for (size_t k = 0; k < len; ++k) s += char(kInteresting[next() % std::size(kInteresting)]);
    boost::system::error_code ec;
    boost::json::parse("\"" + s + "\"", ec);
    ASSERT_EQ(IsValidUtf8(s), !ec) << HexEncode(s);
    valid += !ec;
  }
  EXPECT_GT(valid, 1000);  // both verdicts were exercised
}

TEST(Utf8, CheckNamesTheByteAndOffsetNotTheText) {
  EXPECT_TRUE(CheckUtf8("record field `given_name`", "Zo\xC3\xAB"));
  Status bad = CheckUtf8("record field `given_name`", "Ana\xFFsecret");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "record field `given_name` is not valid UTF-8 (byte 0xff at offset 3)");
}

TEST(Error, ContextAndMacros) {
  auto fails = []() -> Result<int> { return tl::make_unexpected(NotFound("x")); };
  auto caller = [&]() -> Result<int> {
    FB_ASSIGN_OR_RETURN(int v, fails());
    return v + 1;
  };
  auto r = caller();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().WithContext("loading").ToString(), "not-found: loading: x");
}

TEST(Files, AtomicWriteThenRead) {
  std::string path = testing::TempDir() + "/fb_files_test.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "hello").has_value());
  EXPECT_EQ(ReadFile(path).value(), "hello");
  auto missing = ReadFile(path + ".missing");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace firebreak
