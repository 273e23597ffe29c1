// Drives the real `firebreak` binary: exit codes, output shapes, and that
// bad input changes nothing.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>

#include "base/files.h"

namespace firebreak::cli {
namespace {
namespace fs = std::filesystem;

const std::string kSource = FIREBREAK_SOURCE_DIR;
const std::string kBinary = std::string(FIREBREAK_BINARY_DIR) + "/src/cli/firebreak";

struct CliRun {
  int code = -1;
  std::string out;  // stdout and stderr together
};

CliRun Firebreak(const std::string& args, const std::string& stdin_text = "") {
  // One file per process: ctest runs the cases of this binary in parallel.
  std::string in = ::testing::TempDir() + "/fb_cli_stdin_" + std::to_string(getpid());
  std::ofstream(in) << stdin_text;
  std::string cmd = kBinary + " " + args + " < " + in + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(Cli, HelpOnEveryCommand) {
  CliRun top = Firebreak("--help");
  EXPECT_EQ(top.code, 0);
  for (std::string cmd : {"check", "fmt", "eval", "test"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
    CliRun r = Firebreak(cmd + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Exit 0"), std::string::npos) << cmd << ": " << r.out;
  }
  EXPECT_EQ(Firebreak("").code, 2);
  EXPECT_EQ(Firebreak("frobnicate").code, 2);
}

TEST(Cli, WitnessCommands) {
  for (std::string sub : {"witness", "witness keygen", "witness serve", "witness evidence"}) {
    CliRun r = Firebreak(sub + " --help");
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub << ": " << r.out;
  }
  std::string dir = std::filesystem::temp_directory_path() / ("cli_witness_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  CliRun key = Firebreak("witness keygen --name witness.example/cli --key " + dir + "/w.key");
  EXPECT_EQ(key.code, 0) << key.out;
  EXPECT_EQ(key.out.rfind("witness.example/cli+", 0), 0u) << key.out;
  CliRun again = Firebreak("witness keygen --name witness.example/cli --key " + dir + "/w.key");
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.out.find("already exists"), std::string::npos) << again.out;
  EXPECT_EQ(Firebreak("witness serve").code, 2);
  {
    std::ofstream(dir + "/bad.json") << R"({"key": "w.key", "state": "s.db", "logs": [{"origin": "o", "keys": ["nope"]}]})";
  }
  CliRun bad = Firebreak("witness serve --config " + dir + "/bad.json");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("logs[0].keys"), std::string::npos) << bad.out;
  {
    std::ofstream(dir + "/ok.json") << R"({"key": "w.key", "state": "s.db", "logs": []})";
  }
  CliRun none = Firebreak("witness evidence --config " + dir + "/ok.json");
  EXPECT_EQ(none.code, 0) << none.out;
  EXPECT_NE(none.out.find("[]"), std::string::npos) << none.out;
  std::filesystem::remove_all(dir);
}

TEST(Cli, CheckExitCodes) {
  EXPECT_EQ(Firebreak("check " + kSource + "/policies/uk").code, 0);
  CliRun bad = Firebreak("check " + kSource + "/src/policy/testdata/diagnostics/e202_unknown_value");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("error[E202]"), std::string::npos) << bad.out;
  EXPECT_EQ(Firebreak("check /no/such/dir").code, 2);
}

TEST(Cli, CheckPrintsPins) {
  CliRun r = Firebreak("check --pins " + kSource + "/src/engine/testdata/semantics");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("pin f_protected \"sha256:"), std::string::npos) << r.out;
}

TEST(Cli, CheckPinsPrintsThePinsASetReliesOn) {
  CliRun r = Firebreak("check --pins " + kSource + "/policies/uk/examples/forces/north-shire");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("# 3 pinned firewall rule(s) this set relies on"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("relies on: pin A1_no_firewall_purpose_for_protected \"sha256:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("in pack example-force-north-shire"), std::string::npos) << r.out;
  // A set that pins nothing says so.
  CliRun none = Firebreak("check --pins " + kSource + "/policies/uk/npcc-2020");
  EXPECT_EQ(none.code, 0) << none.out;
  EXPECT_NE(none.out.find("# 0 pinned firewall rule(s)"), std::string::npos) << none.out;
}

TEST(Cli, DemoMakesEveryHolder) {
  for (std::string holder : {"nhs-trust", "school", "police-force"}) {
    std::string dir = ::testing::TempDir() + "/fb_cli_demo_" + holder + "_" + std::to_string(getpid());
    std::filesystem::remove_all(dir);
    CliRun r = Firebreak("demo --holder " + holder + " --dir " + dir + " --subjects 40 --listen 127.0.0.1:0 --policy " +
                         kSource + (holder == "police-force" ? "/policies/uk/strict-firewall"
                                                             : "/policies/uk/holders/" + holder));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("40 subjects"), std::string::npos) << r.out;
    if (holder == "nhs-trust") {
      EXPECT_NE(r.out.find("Created a synthetic NHS trust"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("DEMO-P11"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("\"purpose\":\"direct-care\""), std::string::npos) << r.out;
    } else if (holder == "school") {
      EXPECT_NE(r.out.find("Created a synthetic school"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("DEMO-S12"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("\"purpose\":\"statutory-return\""), std::string::npos) << r.out;
    } else {
      EXPECT_NE(r.out.find("DEMO-R05"), std::string::npos) << r.out;
    }
    EXPECT_TRUE(std::filesystem::exists(dir + "/store.db"));
    std::filesystem::remove_all(dir);
  }
  CliRun bad = Firebreak("demo --holder hospital --dir " + ::testing::TempDir() + "/fb_cli_demo_bad");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--holder must be police-force, nhs-trust or school"), std::string::npos) << bad.out;
}

TEST(Cli, CheckLockPrintsTheRequiredBlock) {
  CliRun r = Firebreak("check --lock " + kSource + "/policies/uk/strict-firewall");
  ASSERT_EQ(r.code, 0) << r.out;
  boost::json::object o = boost::json::parse(r.out).as_object();
  EXPECT_EQ(o.at("firewall_rules").as_object().size(), 3u);
  EXPECT_TRUE(o.at("guarantees").as_object().contains("GA1_never_firewall_purpose_for_protected"));
  for (const auto& kv : o.at("guarantees").as_object()) {
    EXPECT_EQ(kv.value().as_string().size(), 71u) << kv.key();
  }
}

// A demo on an ephemeral port: the walk-through must not print ":0" URLs.
TEST(Cli, DemoOnPortZeroPrintsCommandsThatWork) {
  std::string dir = ::testing::TempDir() + "/fb_cli_demo0_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  CliRun r = Firebreak("demo --dir " + dir + " --subjects 20 --listen 127.0.0.1:0 --policy " + kSource +
                       "/policies/uk/strict-firewall");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("localhost:0/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--port-file"), std::string::npos);
  EXPECT_NE(r.out.find("https://localhost:$PORT/v1/disclosures"), std::string::npos);
  EXPECT_NE(r.out.find("bearer_tokens"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Cli, FmtCheckChangesNothingAndFmtIsIdempotent) {
  std::string dir = ::testing::TempDir() + "/fb_cli_fmt_" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string file = dir + "/rules.fbp";
  std::string messy = "forbid   f{because \"x\"\nwhen purpose==statistics}\n";
  std::ofstream(file) << messy;
  CliRun check = Firebreak("fmt --check " + dir);
  EXPECT_EQ(check.code, 1) << check.out;
  EXPECT_EQ(ReadFile(file).value(), messy);
  EXPECT_EQ(Firebreak("fmt " + dir).code, 0);
  std::string once = ReadFile(file).value();
  EXPECT_EQ(once, "forbid f {\n  when purpose == statistics\n  because \"x\"\n}\n");
  EXPECT_EQ(Firebreak("fmt --check " + dir).code, 0);
  // A file with a syntax error is reported and left alone.
  std::ofstream(file) << "forbid f {\n  when ==\n}\n";
  CliRun broken = Firebreak("fmt " + dir);
  EXPECT_EQ(broken.code, 1);
  EXPECT_NE(broken.out.find("error[E101]"), std::string::npos) << broken.out;
  EXPECT_EQ(ReadFile(file).value(), "forbid f {\n  when ==\n}\n");
}

TEST(Cli, EvalOneRequest) {
  CliRun r = Firebreak("eval --policy " + kSource + "/src/engine/testdata/semantics --request -",
                    R"({"requester": {"org": "c", "org_type": "local-authority", "role": "officer"},
                        "purpose": "statistics", "action": "disclose", "categories": ["incident"],
                        "legal_basis": "ukgdpr-6-1-e"})");
  EXPECT_EQ(r.code, 0) << r.out;
  auto d = boost::json::parse(r.out).as_object();
  EXPECT_EQ(d["decision"], "permit");
  CliRun bad = Firebreak("eval --policy " + kSource + "/src/engine/testdata/semantics --request -", "{");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("malformed JSON"), std::string::npos) << bad.out;
  EXPECT_EQ(Firebreak("eval --policy " + kSource + "/src/engine/testdata/semantics").code, 2);
}

// A bad line gives an error object naming the line and the field; the
// lines around it are still decided.
TEST(Cli, EvalManyRequestsReportsBadLinesAndGoesOn) {
  std::string good = R"({"requester": {"org": "c", "org_type": "local-authority", "role": "officer"}, "purpose": "statistics", "action": "disclose", "categories": ["incident"], "legal_basis": "ukgdpr-6-1-e"})";
  std::string bad_value = R"({"requester": {"org": "c", "org_type": "local-authority", "role": "officer"}, "purpose": "statistic", "action": "disclose", "categories": [], "legal_basis": "ukgdpr-6-1-e"})";
  CliRun r = Firebreak("eval --policy " + kSource + "/src/engine/testdata/semantics --requests -",
                    good + "\n{oops\n" + bad_value + "\n\n" + good + "\n");
  EXPECT_EQ(r.code, 1);
  std::istringstream lines(r.out);
  std::string line;
  std::vector<boost::json::object> outs;
  while (std::getline(lines, line)) {
    if (line.rfind("{", 0) == 0) outs.push_back(boost::json::parse(line).as_object());
  }
  ASSERT_EQ(outs.size(), 4u) << r.out;
  EXPECT_EQ(outs[0]["decision"], "permit");
  EXPECT_EQ(outs[1]["line"], 2);
  EXPECT_NE(std::string(outs[1]["error"].as_object()["message"].as_string()).find("malformed JSON"),
            std::string::npos);
  EXPECT_EQ(outs[2]["line"], 3);
  EXPECT_EQ(outs[2]["error"].as_object()["field"], "purpose");
  EXPECT_EQ(outs[3]["decision"], "permit");
  EXPECT_NE(r.out.find("2 of 5 lines rejected"), std::string::npos) << r.out;
}

// More than one 2 MiB chunk of input, a line longer than a chunk, CRLF and a
// last line without its newline: answers come in line order with the right
// line numbers.
TEST(Cli, EvalManyRequestsAcrossChunksKeepsLineOrder) {
  auto good = [](const std::string& id) {
    return R"({"id": ")" + id +
           R"(", "requester": {"org": "c", "org_type": "local-authority", "role": "officer"}, "purpose": "statistics", "action": "disclose", "categories": ["incident"], "legal_basis": "ukgdpr-6-1-e"})";
  };
  const std::string bad_value = R"({"requester": {"org": "c", "org_type": "local-authority", "role": "officer"}, "purpose": "statistic", "action": "disclose", "categories": [], "legal_basis": "ukgdpr-6-1-e"})";
  const std::string long_id(3 << 20, 'x');
  std::string in;
  const int kLines = 12000;
  for (int i = 1; i <= kLines; ++i) {
    if (i == 11501) in += bad_value;  // in the third chunk
    else if (i == 9000) in += good(long_id);
    else in += good("r-" + std::to_string(i));
    if (i == 8000) in += "\r";
    if (i < kLines) in += "\n";
  }
  CliRun r = Firebreak("eval --policy " + kSource + "/src/engine/testdata/semantics --requests -", in);
  EXPECT_EQ(r.code, 1);
  std::istringstream lines(r.out);
  std::string line;
  std::vector<boost::json::object> outs;
  while (std::getline(lines, line)) {
    if (line.rfind("{", 0) == 0) outs.push_back(boost::json::parse(line).as_object());
  }
  ASSERT_EQ(outs.size(), size_t(kLines)) << r.out.substr(0, 2000);
  for (int i = 1; i <= kLines; ++i) {
    const boost::json::object& o = outs[size_t(i - 1)];
    if (i == 11501) {
      EXPECT_EQ(o.at("line"), 11501);
      EXPECT_EQ(o.at("error").as_object().at("field"), "purpose");
    } else if (i == 9000) {
      EXPECT_EQ(o.at("id").as_string().size(), long_id.size());
    } else {
      ASSERT_EQ(std::string(o.at("id").as_string()), "r-" + std::to_string(i)) << "line " << i;
      EXPECT_EQ(o.at("decision"), "permit");
    }
  }
  EXPECT_NE(r.out.find("1 of 12000 lines rejected"), std::string::npos);
}

TEST(Cli, TestCommandCountsAndFails) {
  CliRun ok = Firebreak("test " + kSource + "/policies/uk/strict-firewall");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find(" passed, 0 failed"), std::string::npos) << ok.out;
  std::string dir = ::testing::TempDir() + "/fb_cli_test_" + std::to_string(getpid());
  fs::create_directories(dir);
  std::ofstream(dir + "/wrong.fbt")
      << "policy " << kSource << "/src/engine/testdata/semantics\n\ntest expects-the-wrong-thing\n"
      << R"(request {"requester": {"org": "c", "org_type": "local-authority", "role": "officer"}, "purpose": "statistics", "action": "disclose", "categories": [], "legal_basis": "ukgdpr-6-1-e"})"
      << "\n----\ndecision deny\n";
  CliRun failing = Firebreak("test " + dir);
  EXPECT_EQ(failing.code, 1);
  EXPECT_NE(failing.out.find("0 passed, 1 failed"), std::string::npos) << failing.out;
  EXPECT_NE(failing.out.find("FAIL "), std::string::npos) << failing.out;
}

TEST(Cli, ReportAndFleet) {
  for (std::string cmd : {"report", "fleet"}) {
    CliRun r = Firebreak(cmd + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Exit 0"), std::string::npos) << cmd << ": " << r.out;
  }
  std::string dir = ::testing::TempDir() + "/fb_cli_report_" + std::to_string(getpid());
  fs::remove_all(dir);
  CliRun demo = Firebreak("demo --dir " + dir + "/force --subjects 10 --listen 127.0.0.1:0 --policy " + kSource +
                          "/policies/uk/strict-firewall");
  ASSERT_EQ(demo.code, 0) << demo.out;
  std::string common = "report --dir " + dir + "/force/log --vkey " + dir + "/force/keys/log.vkey --audit-key " + dir +
                       "/force/keys/audit.key --packs " + kSource + "/policies/uk/strict-firewall --to 2020-03 " +
                       "--cap 2 --ledger " + dir + "/ledger --yearly-budget 1 --quiet ";
  common += "--from 2020-0";  // + the month's last digit
  CliRun bad = Firebreak(common + "1 --epsilon 0.5");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("--epsilon"), std::string::npos) << bad.out;
  EXPECT_FALSE(fs::exists(dir + "/ledger/ledger.json"));  // bad input changes nothing
  CliRun bad_from = Firebreak(common + "x --epsilon 1/2");
  EXPECT_EQ(bad_from.code, 2) << bad_from.out;
  EXPECT_NE(bad_from.out.find("--from"), std::string::npos) << bad_from.out;

  CliRun first = Firebreak(common + "1 --epsilon 1/2 --format csv --out " + dir + "/r1.csv");
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("charged to the ledger"), std::string::npos) << first.out;
  CliRun again = Firebreak(common + "1 --epsilon 1/2 --format csv --out " + dir + "/r2.csv");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("returned as stored"), std::string::npos) << again.out;
  EXPECT_EQ(*ReadFile(dir + "/r1.csv"), *ReadFile(dir + "/r2.csv"));
  CliRun html = Firebreak(common + "1 --epsilon 1/2 --out " + dir + "/r.html");
  ASSERT_EQ(html.code, 0) << html.out;
  EXPECT_NE(ReadFile(dir + "/r.html")->find("<svg"), std::string::npos);
  CliRun over = Firebreak(common + "2 --epsilon 2/3");
  EXPECT_EQ(over.code, 1) << over.out;
  EXPECT_NE(over.out.find("over budget"), std::string::npos) << over.out;

  std::ofstream(dir + "/fleet.json") << "{\"holders\": [{\"name\": \"a\", \"log\": \"x\"}]}";
  CliRun fleet = Firebreak("fleet " + dir + "/fleet.json --state " + dir + "/fleet-state");
  EXPECT_EQ(fleet.code, 2);
  EXPECT_NE(fleet.out.find("holders[0].vkey"), std::string::npos) << fleet.out;
  std::string vkey = *ReadFile(dir + "/force/keys/log.vkey");
  while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == ' ')) vkey.pop_back();
  std::ofstream(dir + "/fleet.json") << "{\"holders\": [{\"name\": \"force\", \"log\": \"" << dir
                                     << "/force/log\", \"vkey\": \"" << vkey << "\"}]}";
  CliRun local = Firebreak("fleet " + dir + "/fleet.json --state " + dir + "/fleet-state");
  // A log with no policy entry yet (the gateway never ran) stands out.
  EXPECT_EQ(local.code, 1) << local.out;
  EXPECT_NE(local.out.find("no accepted policy entry"), std::string::npos) << local.out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace firebreak::cli
