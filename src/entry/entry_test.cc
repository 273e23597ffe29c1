#include "entry/entry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "base/base.h"

namespace firebreak::entry {
namespace {

namespace json = boost::json;

const std::string kTestdata = std::string(FIREBREAK_SOURCE_DIR) + "/src/entry/testdata/";

std::string Read(const std::string& name) {
  auto r = ReadFile(kTestdata + name);
  EXPECT_TRUE(r) << name;
  return r ? *r : "";
}

AuditKey Key(char fill) {
  auto k = AuditKeyFromHex(std::string(64, fill));
  EXPECT_TRUE(k);
  return *k;
}

TEST(CanonicalJson, SortsKeysAndEscapesMinimally) {
  json::value v = json::parse(R"({"b":[1,"x\n\"y"],"a":{"d":null,"c":true},"é":-3})");
  EXPECT_EQ(CanonicalJson(v), "{\"a\":{\"c\":true,\"d\":null},\"b\":[1,\"x\\n\\\"y\"],\"é\":-3}");
  EXPECT_EQ(CanonicalJson(json::string(std::string("\x01", 1))), "\"\\u0001\"");
}

// Strings are scanned 8 bytes at a time: every byte value at every offset
// of strings of 0 to 40 bytes, against the escaping written out one byte at
// a time.
TEST(CanonicalJson, EscapesEveryByteAtEveryOffset) {
  auto reference = [](const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += char(c);
          }
      }
    }
    return out + "\"";
  };
  for (size_t n = 0; n <= 40; ++n) {
    for (size_t at = 0; at < std::max<size_t>(n, 1); ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string s(n, 'a');
        for (size_t i = 0; i < n; ++i) s[i] = char('A' + (i * 7) % 50);  // letters and [\]^_` …
        if (n > 0) s[at] = char(c);
        std::string got = CanonicalJson(json::string(s));
        ASSERT_EQ(got, reference(s)) << "length " << n << ", byte " << c << " at " << at;
      }
    }
  }
}

TEST(AuditKey, HasAStablePublicIdAndRejectsBadKeys) {
  AuditKey a = Key('a'), b = Key('b');
  EXPECT_EQ(a.id.size(), 16u);
  EXPECT_NE(a.id, b.id);
  EXPECT_EQ(Key('a').id, a.id);
  EXPECT_FALSE(AuditKeyFromHex("abcd"));
  EXPECT_FALSE(AuditKeyFromHex(std::string(64, 'z')));
  EXPECT_TRUE(AuditKeyFromHex(std::string(64, '0') + "\n"));
}

TEST(FitSealed, EveryPlaintextHasOneSizeWhateverTheSubject) {
  json::object base{{"subject", std::string(64, 'f')}, {"roles", json::array{"victim", "witness"}},
                    {"withheld", json::array{"address", "contact"}}};
  for (size_t n_cases : {0u, 1u, 9u, 10u, 50u}) {
    std::vector<json::value> cases, records;
    for (size_t i = 0; i < n_cases; ++i) {
      cases.push_back(json::object{{"type", "domestic-abuse"}, {"status", "under-investigation"}, {"role", "victim"}});
      records.push_back(json::object{{"collected_as", "victim"}, {"decision", "deny"}, {"rules", json::array{"A1"}}});
    }
    auto plain = FitSealed(base, cases, records, {"A1_no_firewall_purpose_for_protected"});
    ASSERT_TRUE(plain) << plain.error().ToString();
    EXPECT_EQ(plain->size(), kSealedSize) << n_cases << " cases";
    json::object o = json::parse(*plain).as_object();
    size_t listed = o.at("cases").as_array().size();
    size_t left = o.contains("cases_not_listed") ? size_t(o.at("cases_not_listed").as_int64()) : 0;
    EXPECT_EQ(listed + left, n_cases);
    EXPECT_EQ(o.at("rules").as_array().size(), 1u);
  }
}

TEST(FitSealed, RefusesWhatCannotFitRatherThanGrow) {
  json::object base{{"subject", std::string(2000, 'f')}};
  EXPECT_FALSE(FitSealed(base, {}, {}, {}));
}

TEST(Seal, RoundTripsUnderTheNamedKeyOnly) {
  AuditKey k = Key('1'), other = Key('2');
  json::object e{{"v", kVersion}, {"kind", "decision"}, {"request_id", std::string(32, '0')}};
  auto plain = FitSealed(json::object{{"subject", nullptr}, {"unresolved", "unknown-reference"}}, {}, {}, {});
  ASSERT_TRUE(plain);
  ASSERT_TRUE(SealInto(e, k, *plain));
  EXPECT_EQ(e.at("audit_key").as_string(), k.id);
  std::string text = CanonicalJson(e);
  auto opened = Open(text, Keyring({other, k}));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(opened->at("opened").as_object().at("unresolved").as_string(), "unknown-reference");
  EXPECT_FALSE(opened->contains("sealed"));
  auto missing = Open(text, Keyring({other}));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find(k.id), std::string::npos);
  // The request id is the associated data: moving a sealed part to another entry fails.
  json::object moved = e;
  moved["request_id"] = std::string(32, '1');
  EXPECT_FALSE(Open(CanonicalJson(moved), Keyring({k})));
  // Per-entry keys: the same plaintext under the same audit key differs by entry.
  json::object e2{{"v", kVersion}, {"request_id", std::string(32, '1')}};
  ASSERT_TRUE(SealInto(e2, k, *plain));
  EXPECT_NE(e2.at("sealed"), e.at("sealed"));
}

TEST(Parse, RefusesUnknownVersions) {
  EXPECT_TRUE(Parse(R"({"v":2})"));
  EXPECT_TRUE(Parse(R"({"v":3})"));
  // Found by entry_fuzz: a number like 61e7054175 is no integer, and its
  // canonical form would not read back.
  for (const char* bad : {R"({"v":1})", R"({"v":5})", R"({"v":"3"})", R"({})", "[]", "not json",
                          R"({"v":3,"time":61e7054175})", R"({"v":3,"x":[1.5]})"}) {
    EXPECT_FALSE(Parse(bad)) << bad;
  }
}

// A version-2 entry written by the gateway before entry schema 3 (a refusal
// about the demo's DEMO-R05) still opens, to the same plaintext.
TEST(Golden, Version2EntryStillOpens) {
  auto key = AuditKeyFromHex(Read("v2-refusal.key"));
  ASSERT_TRUE(key);
  auto opened = Open(Read("v2-refusal.entry"), Keyring({*key}));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(opened->at("v").as_int64(), 2);
  EXPECT_EQ(CanonicalJson(opened->at("opened")), CanonicalJson(json::parse(Read("v2-refusal.opened.json"))));
}

// A version-3 entry (1,024 sealed bytes, written before version 4) still
// opens to its checked-in plaintext under the derived per-entry key.
TEST(Golden, Version3EntryStillOpens) {
  auto opened = Open(Read("v3-refusal.entry"), Keyring({Key('3')}));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(opened->at("v").as_int64(), 3);
  std::string golden = Read("v3-refusal.opened.json");
  EXPECT_EQ(golden.size(), 1024u);
  EXPECT_EQ(CanonicalJson(opened->at("opened")), CanonicalJson(json::parse(golden)));
}

// A version-4 entry (checked in; FIREBREAK_UPDATE_GOLDEN=1 rewrites it) opens
// to its checked-in plaintext under the derived per-entry key.
TEST(Golden, Version4Entry) {
  AuditKey key = Key('3');
  json::object facts{{"subject", std::string(64, 'c')},
                     {"roles", json::array{"victim"}},
                     {"flags", json::array()},
                     {"immigration_concern", "none"},
                     {"effective_purpose", "immigration-enforcement"},
                     {"application", json::object{{"recipient", "her-adviser"}, {"categories", json::array{"identity", "incident"}}}},
                     {"obligations", json::array()}};
  std::vector<json::value> cases(
      50, json::object{{"type", "assault"}, {"status", "charged"}, {"role", "victim"}, {"flags", json::array{"domestic-abuse"}}});
  if (std::getenv("FIREBREAK_UPDATE_GOLDEN")) {
    auto plain = FitSealed(facts, cases, {}, {"A1_no_firewall_purpose_for_protected"});
    ASSERT_TRUE(plain);
    json::object e{{"v", kVersion},        {"kind", "decision"},
                   {"request_id", std::string(32, 'e')}, {"endpoint", "disclosures"},
                   {"decision", "deny"},   {"asked", json::array{"address", "contact"}},
                   {"disclosed", json::array()}};
    ASSERT_TRUE(SealInto(e, key, *plain));
    ASSERT_TRUE(WriteFileAtomically(kTestdata + "v4-refusal.entry", CanonicalJson(e)));
    ASSERT_TRUE(WriteFileAtomically(kTestdata + "v4-refusal.opened.json", *plain));
  }
  auto opened = Open(Read("v4-refusal.entry"), Keyring({key}));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(opened->at("v").as_int64(), 4);
  std::string golden = Read("v4-refusal.opened.json");
  EXPECT_EQ(golden.size(), kSealedSize);
  EXPECT_EQ(CanonicalJson(opened->at("opened")), CanonicalJson(json::parse(golden)));
  EXPECT_EQ(opened->at("opened").as_object().at("cases_not_listed").as_int64() +
                int64_t(opened->at("opened").as_object().at("cases").as_array().size()),
            50);
}

}  // namespace
}  // namespace firebreak::entry
