// Tests of the policy language front end: golden diagnostics for every
// diagnostic id, formatter idempotence and hash stability, parsing details.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <unistd.h>

#include "base/files.h"
#include "policy/policy.h"

namespace firebreak::policy {
namespace {
namespace fs = std::filesystem;

const std::string kSourceDir = FIREBREAK_SOURCE_DIR;
const std::string kGoldenDir = kSourceDir + "/src/policy/testdata/diagnostics";

std::string Relative(std::string text) {
  std::string prefix = kSourceDir + "/";
  for (size_t pos; (pos = text.find(prefix)) != std::string::npos;) text.erase(pos, prefix.size());
  return text;
}

std::vector<std::string> GoldenCases() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kGoldenDir)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && name[0] != '_') out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class GoldenDiagnostics : public testing::TestWithParam<std::string> {};

// Each case directory is a pack whose expected.txt holds the exact rendered
// diagnostics. FIREBREAK_UPDATE_GOLDEN=1 rewrites them.
TEST_P(GoldenDiagnostics, MatchesExpected) {
  std::string dir = kGoldenDir + "/" + GetParam();
  auto loaded = LoadPolicySet({dir});
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_FALSE(loaded->ok()) << "the case must produce diagnostics";
  std::string got = Relative(loaded->Render());
  // The case is named after the id it exercises (e203_… → E203).
  std::string id = "E" + GetParam().substr(1, 3);
  EXPECT_NE(got.find("[" + id + "]"), std::string::npos) << got;
  std::string golden_path = dir + "/expected.txt";
  if (std::getenv("FIREBREAK_UPDATE_GOLDEN")) {
    ASSERT_TRUE(WriteFileAtomically(golden_path, got).has_value());
  }
  auto want = ReadFile(golden_path);
  ASSERT_TRUE(want.has_value()) << "missing " << golden_path
                                << " (run with FIREBREAK_UPDATE_GOLDEN=1 to create it)";
  EXPECT_EQ(got, *want);
}

INSTANTIATE_TEST_SUITE_P(AllIds, GoldenDiagnostics, testing::ValuesIn(GoldenCases()),
                         [](const auto& info) { return info.param; });

TEST(GoldenDiagnostics, EveryIdHasACase) {
  std::set<std::string> covered;
  for (const std::string& c : GoldenCases()) covered.insert("E" + c.substr(1, 3));
  std::vector<std::string> all = {
#define FB_DIAG_CODE(name, code) code,
      FB_DIAGNOSTIC_IDS(FB_DIAG_CODE)
#undef FB_DIAG_CODE
  };
  for (const std::string& id : all) EXPECT_TRUE(covered.count(id)) << "no golden case for " << id;
}

Module ParseText(SourceManager& sources, DiagnosticSink& sink, const std::string& text) {
  FileId id = sources.Add("test.fbp", text);
  return Parse(sources, id, sink);
}

// Formatting every policy file in the repository is idempotent, and
// re-parsing the formatted text gives the same canonical items.
TEST(Formatter, IdempotentOnEveryShippedFile) {
  std::vector<std::string> files;
  for (const std::string& root : {kSourceDir + "/policies", kGoldenDir + "/_schema"}) {
    if (!fs::exists(root)) continue;
    auto found = FindPolicyFiles(root);
    ASSERT_TRUE(found.has_value());
    files.insert(files.end(), found->begin(), found->end());
  }
  ASSERT_FALSE(files.empty());
  for (const std::string& f : files) {
    SourceManager sources;
    DiagnosticSink sink;
    Module m = ParseText(sources, sink, ReadFile(f).value());
    ASSERT_FALSE(sink.has_errors()) << f << "\n" << RenderDiagnostics(sources, sink);
    std::string once = FormatModule(m);
    Module m2 = ParseText(sources, sink, once);
    ASSERT_FALSE(sink.has_errors()) << f << " formatted:\n" << once;
    EXPECT_EQ(FormatModule(m2), once) << f;
    ASSERT_EQ(m.items.size(), m2.items.size()) << f;
    for (size_t i = 0; i < m.items.size(); ++i) {
      EXPECT_EQ(CanonicalItem(m, m.items[i]), CanonicalItem(m2, m2.items[i])) << f;
    }
  }
}

// Found by parser_fuzz: brackets that group a chain of the same operator are
// kept, so that formatting does not change the tree (or the policy hash).
TEST(Formatter, KeepsBracketsAroundTheSameOperator) {
  for (const char* when : {"a and (b and c)", "(a or b) or c", "a and (b or c)", "not (a and b)"}) {
    SourceManager sources;
    DiagnosticSink sink;
    std::string text = std::string("permit p {\n  when ") + when + "\n  grant [a]\n  because \"x\"\n}\n";
    Module m = ParseText(sources, sink, text);
    ASSERT_FALSE(sink.has_errors()) << RenderDiagnostics(sources, sink);
    EXPECT_EQ(FormatModule(m), text) << when;
    Module m2 = ParseText(sources, sink, FormatModule(m));
    EXPECT_EQ(CanonicalItem(m2, m2.items[0]), CanonicalItem(m, m.items[0])) << when;
  }
}

TEST(Formatter, KeepsCommentsAndCanonicalClauseOrder) {
  SourceManager sources;
  DiagnosticSink sink;
  Module m = ParseText(sources, sink,
                       "# leading\npermit   p1{because \"why\"  # trailing\n"
                       "grant [b,a]\n  # before when\n when purpose==x}\n");
  ASSERT_FALSE(sink.has_errors()) << RenderDiagnostics(sources, sink);
  EXPECT_EQ(FormatModule(m),
            "# leading\npermit p1 {\n  # before when\n  when purpose == x\n  grant [b, a]\n"
            "  because \"why\"  # trailing\n}\n");
  // The canonical form sorts lists and drops comments.
  EXPECT_EQ(CanonicalItem(m, m.items[0]),
            "permit p1 {\n  when purpose == x\n  grant [a, b]\n  because \"why\"\n}\n");
}

TEST(Formatter, KeepsBlankLinesBetweenClauses) {
  SourceManager sources;
  DiagnosticSink sink;
  std::string text =
      "schema s {\n  enum purpose [a]\n\n  # roles\n  enum role [r]\n  enum flag [f]\n}\n";
  Module m = ParseText(sources, sink, text);
  ASSERT_FALSE(sink.has_errors());
  EXPECT_EQ(FormatModule(m), text);
  // Extra blank lines fold to one; the canonical form has none.
  Module m2 = ParseText(sources, sink, "schema s {\n\n  enum purpose [a]\n\n\n  enum role [r]\n}\n");
  EXPECT_EQ(FormatModule(m2), "schema s {\n  enum purpose [a]\n\n  enum role [r]\n}\n");
  EXPECT_EQ(CanonicalItem(m2, m2.items[0]), "schema s {\n  enum purpose [a]\n  enum role [r]\n}\n");
}

TEST(Formatter, BreaksLongConditionsAtTopLevelOperators) {
  SourceManager sources;
  DiagnosticSink sink;
  std::string cond =
      "purpose in [immigration-enforcement, immigration-status-check] and subject.roles has_any "
      "[victim, witness, patient, pupil] and (action == referral or action == status-check)";
  Module m = ParseText(sources, sink, "forbid f {\n  when " + cond + "\n  because \"x\"\n}\n");
  ASSERT_FALSE(sink.has_errors());
  std::string out = FormatModule(m);
  EXPECT_NE(out.find("\n      and subject.roles"), std::string::npos) << out;
  EXPECT_NE(out.find("\n      and (action == referral or action == status-check)"),
            std::string::npos)
      << out;
}

TEST(Parser, PrecedenceAndQuantifierScope) {
  SourceManager sources;
  DiagnosticSink sink;
  Module m = ParseText(sources, sink,
                       "forbid f {\n  when not a.b or c.d and some case where case.role == victim "
                       "and e\n  because \"x\"\n}\n");
  ASSERT_FALSE(sink.has_errors());
  const Clause* when = m.items[0].Find(Keyword::kWhen);
  // `or` binds loosest; the quantifier's body is one comparison.
  EXPECT_EQ(FormatExpr(m, when->expr),
            "not a.b or c.d and (some case where case.role == victim) and e");
  const Expr& top = m.expr(when->expr);
  ASSERT_TRUE(std::holds_alternative<OrExpr>(top.node));
  const auto& rhs = m.expr(std::get<OrExpr>(top.node).children[1]);
  ASSERT_TRUE(std::holds_alternative<AndExpr>(rhs.node));
  EXPECT_EQ(std::get<AndExpr>(rhs.node).children.size(), 3u);
}

TEST(Parser, ReportsEveryBrokenItemInOneRun) {
  SourceManager sources;
  DiagnosticSink sink;
  ParseText(sources, sink,
            "forbid a {\n  when ==\n  because \"x\"\n}\n\nforbid b {\n  when purpose ==\n"
            "  because \"x\"\n}\n\nforbid c {\n  when true\n  because \"ok\"\n}\n");
  EXPECT_EQ(sink.diagnostics().size(), 2u) << RenderDiagnostics(sources, sink);
}

TEST(Timestamps, RoundTripAndReject) {
  int64_t t = 0;
  ASSERT_TRUE(ParseTimestamp("2024-03-08T12:34:56Z", &t));
  EXPECT_EQ(t, 1709901296);
  EXPECT_EQ(FormatTimestamp(t, false), "2024-03-08T12:34:56Z");
  ASSERT_TRUE(ParseTimestamp("1970-01-01", &t));
  EXPECT_EQ(t, 0);
  ASSERT_TRUE(ParseTimestamp("2000-02-29", &t));
  EXPECT_EQ(FormatTimestamp(t, true), "2000-02-29");
  EXPECT_FALSE(ParseTimestamp("2023-02-29", &t));
  EXPECT_FALSE(ParseTimestamp("2023-13-01", &t));
  EXPECT_FALSE(ParseTimestamp("2023-01-01T24:00:00Z", &t));
  EXPECT_FALSE(ParseTimestamp("2023-01-01T00:00:00", &t));
}

// Issue 11: a force pack pins the national firewall layer by content hash.
// Each example force loads with its pins verified; a copy of the national
// layer with a pinned rule altered, dropped or demoted does not load.
TEST(Pins, ExampleForcePacksPinTheNationalLayer) {
  const std::string forces = kSourceDir + "/policies/uk/examples/forces";
  int seen = 0;
  for (const char* force : {"north-shire", "east-vale", "west-borough"}) {
    auto loaded = LoadPolicySet({forces + "/" + force});
    ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
    ASSERT_TRUE(loaded->ok()) << loaded->Render();
    EXPECT_EQ(loaded->set->pins.size(), 3u) << force;
    for (const Pin& pin : loaded->set->pins) EXPECT_EQ(pin.pack, std::string("example-force-") + force);
    ++seen;
  }
  EXPECT_EQ(seen, 3);
}

class PinnedNationalLayer : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("firebreak-pins-" + std::to_string(::getpid()) + "-" +
             testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    fs::copy(kSourceDir + "/policies/uk", root_ / "uk", fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Replaces `from` (which must occur) with `to` in the national firewall.
  void Edit(const std::string& file, const std::string& from, const std::string& to) {
    fs::path path = root_ / "uk" / file;
    auto text = ReadFile(path.string());
    ASSERT_TRUE(text.has_value());
    size_t at = text->find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text->replace(at, from.size(), to);
    ASSERT_TRUE(WriteFileAtomically(path.string(), *text).has_value());
  }

  std::string LoadForce(const std::string& force) {
    auto loaded = LoadPolicySet({(root_ / "uk/examples/forces" / force).string()});
    EXPECT_TRUE(loaded.has_value());
    if (!loaded.has_value()) return "";
    EXPECT_FALSE(loaded->ok()) << "the force pack loaded over a changed national layer";
    return loaded->Render();
  }

  fs::path root_;
};

TEST_F(PinnedNationalLayer, AnAlteredRuleDoesNotLoad) {
  // One word of A1's condition: witnesses no longer protected.
  Edit("strict-firewall/firewall.fbp", "subject.roles has_any protected_roles\n  because \"Personal data",
       "subject.roles has_any victim_roles\n  because \"Personal data");
  std::string out = LoadForce("north-shire");
  EXPECT_NE(out.find("[E306]"), std::string::npos) << out;
  EXPECT_NE(out.find("pinned firewall rule `A1_no_firewall_purpose_for_protected` was altered"), std::string::npos)
      << out;
}

TEST_F(PinnedNationalLayer, ADroppedRuleDoesNotLoad) {
  Edit("strict-firewall-provenance/firewall.fbp", "firewall AP3_no_outbound_checks_from_protected_record {",
       "firewall AP3_renamed_away {");
  std::string out = LoadForce("east-vale");
  EXPECT_NE(out.find("[E305]"), std::string::npos) << out;
  EXPECT_NE(out.find("`AP3_no_outbound_checks_from_protected_record` was removed"), std::string::npos) << out;
}

TEST_F(PinnedNationalLayer, ARuleDemotedToAForbidDoesNotLoad) {
  Edit("strict-firewall-consent/firewall.fbp", "firewall AC2_no_immigration_relevant_data_to_ie_without_consent {",
       "forbid AC2_no_immigration_relevant_data_to_ie_without_consent {");
  std::string out = LoadForce("west-borough");
  EXPECT_NE(out.find("[E305]"), std::string::npos) << out;
  EXPECT_NE(out.find("is now a forbid"), std::string::npos) << out;
}

TEST(Suggest, FindsNearNames) {
  EXPECT_EQ(Suggest("victm", {"victim", "witness"}), "victim");
  EXPECT_EQ(Suggest("zzzzzz", {"victim", "witness"}), "");
}

}  // namespace
}  // namespace firebreak::policy
