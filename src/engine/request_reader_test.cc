// Differential tests of RequestReader (one SAX pass) against the reference
// reader (`ReadRequest` over `boost::json::parse`): on the example requests,
// the request_fuzz corpus, generated requests and their mutations, and a set
// of malformed texts, both must read the same request or give the same error
// (path and message, word for word). Valid requests must be read by the fast
// path itself, so that the comparison is not trivially the reference against
// itself.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "engine/engine.h"
#include "engine/testing/generator.h"
#include "policy/policy.h"

namespace firebreak::engine {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kSourceDir = FIREBREAK_SOURCE_DIR;

std::shared_ptr<const Engine> LoadEngine(const std::vector<std::string>& dirs) {
  auto loaded = policy::LoadPolicySet(dirs);
  EXPECT_TRUE(loaded.has_value()) << loaded.error().ToString();
  if (!loaded) return nullptr;
  EXPECT_TRUE(loaded->ok()) << loaded->Render();
  if (!loaded->ok()) return nullptr;
  return Engine::Compile(loaded->set);
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every field, so that two requests read differently cannot compare equal.
std::string Dump(const Request& r) {
  std::string out = fmt::format(
      "id={}|org={}|org_type={}|user_role={}|purpose={}|action={}|legal_basis={}|categories={}|"
      "has_subject={}|no_subject={}|roles={}|flags={}|concern={}|reg={}|init={}|consent={}|"
      "recipient={}|chosen={}|has_record={}|collected_as={}|has_record_case={}|rc_type={}|rc_status={}|cases=",
      r.id, r.org, r.org_type, r.user_role, r.purpose, r.action, r.legal_basis, r.categories, r.has_subject,
      r.no_subject, r.roles, r.flags, r.concern, r.regularisation_pending, r.subject_initiated, r.consent_to_ie,
      r.application_recipient, r.chosen_categories, r.has_record, r.collected_as, r.has_record_case,
      r.record_case_type, r.record_case_status);
  for (const CaseFacts& c : r.cases) out += fmt::format("[{},{},{},{}]", c.type, c.status, c.role, c.flags);
  out += "|context=";
  for (const ContextValue& c : r.context) {
    out += fmt::format("[{},{},{},{},{}]", c.present, c.boolean, c.number, c.mask, c.id);
  }
  return out;
}

// "ok <request>" or "error <path>: <message>".
std::string Reference(std::string_view text, const policy::Schema& schema) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return "error : malformed JSON: " + ec.message();
  auto r = ReadRequest(v, schema);
  if (!r) return "error " + r.error().path + ": " + r.error().message;
  return "ok " + Dump(*r);
}

std::string New(const RequestReader& reader, std::string_view text, Request* reused) {
  auto ok = reader.Read(text, reused);
  if (!ok) return "error " + ok.error().path + ": " + ok.error().message;
  return "ok " + Dump(*reused);
}

// Compares both readers on `text`, with a fresh request and with one that
// held the previous text's request. Returns true when the text was valid.
bool Agree(const RequestReader& reader, const policy::Schema& schema, std::string_view text, Request* reused) {
  std::string want = Reference(text, schema);
  Request fresh;
  EXPECT_EQ(New(reader, text, &fresh), want) << "text: " << text;
  EXPECT_EQ(New(reader, text, reused), want) << "text (reused request): " << text;
  return want.rfind("ok ", 0) == 0;
}

class UkReader : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = LoadEngine({kSourceDir + "/policies/uk/strict-firewall"});
    ASSERT_NE(engine_, nullptr);
    reader_ = std::make_unique<RequestReader>(engine_->schema());
  }
  const policy::Schema& schema() const { return engine_->schema(); }

  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<RequestReader> reader_;
  Request reused_;
};

TEST_F(UkReader, ExampleRequestsAreReadByTheFastPathAsByTheReference) {
  int valid = 0;
  for (const auto& e : fs::directory_iterator(kSourceDir + "/policies/uk/examples")) {
    if (e.path().extension() != ".json") continue;
    std::string text = ReadText(e.path());
    bool ok = Agree(*reader_, schema(), text, &reused_);
    if (!ok) continue;
    ++valid;
    // One line, as scripts/bench-eval.sh writes them.
    std::string line = json::serialize(json::parse(text));
    Agree(*reader_, schema(), line, &reused_);
    Request r;
    EXPECT_TRUE(reader_->ReadFast(text, &r)) << e.path();
    EXPECT_TRUE(reader_->ReadFast(line, &r)) << e.path();
    EXPECT_EQ(Dump(r), Reference(text, schema()).substr(3));
  }
  EXPECT_GE(valid, 7);  // the examples scripts/bench-eval.sh cycles
}

TEST_F(UkReader, FuzzCorpusAgrees) {
  int n = 0, valid = 0;
  for (const auto& e : fs::directory_iterator(kSourceDir + "/src/engine/testdata/fuzz/request_fuzz")) {
    ++n;
    valid += Agree(*reader_, schema(), ReadText(e.path()), &reused_);
  }
  EXPECT_GE(n, 100);
  EXPECT_GE(valid, 1);
}

// Texts the reference refuses, or that only it reads (keys given twice), at
// every level of the wire form.
TEST_F(UkReader, MalformedAndOddTextsAgree) {
  const std::string requester = R"("requester":{"org":"o","org_type":"police-force","role":"police-officer"})";
  const std::string head = "{" + requester +
                           R"(,"purpose":"safeguarding","action":"disclose","categories":["identity"],"legal_basis":"none")";
  const std::string subject_head =
      R"("roles":["victim"],"flags":[],"immigration_concern":"none","regularisation_pending":false,"subject_initiated":false,"consent_to_ie":false)";
  const std::string subject = R"(,"subject":{)" + subject_head + R"(,"cases":[]})";
  auto with_subject = [&](const std::string& more) { return head + R"(,"subject":{)" + subject_head + more + "}}"; };
  const std::string long_escaped = [] {
    std::string s;
    for (int i = 0; i < 3000; ++i) s += "\\u0041b";
    return s;
  }();
  std::vector<std::string> texts = {
      "", " ", "\n", "{", "}", "[]", "null", "1", "\"x\"", "{}", "{} {}", "{}x", "\xEF\xBB\xBF{}", "{\"a\":1,}",
      "{/*c*/}", "{\"id\":\"\xC3\x28\"}", head + "}", head + "} ", head + "}\r", head + "}\n", head + ",}",
      head + R"(,"id":1})", head + R"(,"id":null})", head + R"(,"id":"\u0041\n"})", head + R"(,"id":")" + long_escaped + "\"}",
      head + R"(,"\u0069d":"x"})", head + R"(,"id":"a","id":"b"})", head + R"(,"purpose":"statistics"})",
      head + R"(,"colour":"red"})", head + R"(,"colour":"red","id":1})", head + R"(,"id":1,"colour":"red"})",
      "{" + requester + "}", R"({"purpose":"safeguarding"})", R"({"requester":null})", R"({"requester":[]})",
      R"({"requester":{"org":"o","org_type":"police-force","role":"police-officer","x":1}})",
      R"({"requester":{"org":"o","org_type":"police-forc","role":"police-officer"},"purpose":"x"})",
      R"({"requester":{"org":"","org_type":"police-force","role":"police-officer"},"purpose":"safeguarding","action":"disclose","categories":[],"legal_basis":"none"})",
      head.substr(0, head.find("[\"identity\"]")) + R"("identity"})" + R"(,"action":"disclose","legal_basis":"none"})",
      head.substr(0, head.find("[\"identity\"]")) + R"(["identity",["x"]],"legal_basis":"none"})",
      head.substr(0, head.find("[\"identity\"]")) + R"(["identity",null],"legal_basis":"none"})",
      head.substr(0, head.find("[\"identity\"]")) + R"(["identity","identity","adress"],"legal_basis":"none"})",
      head + R"(,"subject":null})", head + R"(,"subject":"none"})", head + R"(,"subject":"nobody"})",
      head + R"(,"subject":1})", head + R"(,"subject":[]})", head + R"(,"subject":{}})", head + subject + "}",
      head + subject + R"(,"subject":null})", with_subject(""), with_subject(R"(,"cases":{})"),
      with_subject(R"(,"cases":[{"type":"assault","status":"charged","role":"victim"}])"),
      with_subject(R"(,"cases":[{"type":"assault","status":"charged","role":"witness","flags":["domestic-abuse"]},{"type":"assault","status":"charged","role":"victim"}])"),
      with_subject(R"(,"cases":[{"type":"assault","status":"charged","role":"victim","flags":null}])"),
      with_subject(R"(,"cases":[{"type":"assault","status":"charged"}])"),
      with_subject(R"(,"cases":[{"type":"assault","status":"charged","role":"victim","x":1}])"),
      with_subject(R"(,"cases":[1])"), with_subject(R"(,"cases":[[]])"), with_subject(R"(,"cases":[null])"),
      with_subject(R"(,"cases":[],"application":null)"),
      with_subject(R"(,"cases":[],"application":{"recipient":"x","categories":["identity"]})"),
      with_subject(R"(,"cases":[],"application":{"recipient":"","categories":[]})"),
      with_subject(R"(,"cases":[],"application":{"recipient":"x"})"),
      with_subject(R"(,"cases":[],"application":"x")"),
      with_subject(R"(,"cases":[],"cases":[])"),
      head + subject + R"(,"record":null})", head + subject + R"(,"record":{"collected_as":"victim"}})",
      head + subject + R"(,"record":{"collected_as":"victim","case":null}})",
      head + subject + R"(,"record":{"collected_as":"victim","case":{"type":"assault","status":"charged"}}})",
      head + subject + R"(,"record":{"collected_as":"victim","case":{"type":"assault"}}})",
      head + subject + R"(,"record":{"case":{"type":"assault","status":"charged"}}})",
      head + subject + R"(,"record":{"collected_as":"victim","case":[]}})", head + subject + R"(,"record":"x"})",
      head + R"(,"context":null})", head + R"(,"context":{}})", head + R"(,"context":[]})",
      head + R"(,"context":{"nope":1}})", head + R"(,"context":{"nope":1},"colour":1})",
      R"({"a":)" + std::string(40, '[') + std::string(40, ']') + "}", std::string(40, '{'),
      head + R"(,"id":"x")", head + R"(,"id":"x" "y"})", head + "}}", "{\"id\":\"\x01\"}",
  };
  for (const std::string& t : texts) Agree(*reader_, schema(), t, &reused_);
}

// The synthetic schema has a context value of every type: generated requests
// (valid: read by the fast path) and each with many small mutations.
TEST(SyntheticReader, GeneratedRequestsAndMutationsAgree) {
  std::string tmp = ::testing::TempDir() + "/fb_reader_synthetic";
  auto engine = LoadEngine({testing::WriteSyntheticSchema(tmp)});
  ASSERT_NE(engine, nullptr);
  const policy::Schema& schema = engine->schema();
  ASSERT_FALSE(schema.context.empty());
  RequestReader reader(schema);
  testing::Generator gen(schema, 7);
  std::mt19937_64 rng(11);
  Request reused;
  const std::vector<std::string> tokens = {"1", "-1", "0", "1.5", "1e3", "18446744073709551615", "-9223372036854775808",
                                           "null", "true", "false", "[]", "{}", "\"\"", "\"x\"", "\"none\"",
                                           "\"2024-03-08T12:00:00Z\"", "\"2024-13-08T12:00:00Z\"", "[\"x\"]", ","};
  int fast = 0;
  for (int i = 0; i < 300; ++i) {
    Request r = gen.RandomRequest(3);
    if (i % 3 == 0) r.id = "req-" + std::to_string(i);
    std::string text = json::serialize(RequestToJson(r, schema));
    ASSERT_TRUE(Agree(reader, schema, text, &reused)) << text;
    Request f;
    fast += reader.ReadFast(text, &f);
    for (int m = 0; m < 20; ++m) {
      std::string t = text;
      size_t at = std::uniform_int_distribution<size_t>(0, t.size() - 1)(rng);
      switch (m % 5) {
        case 0: t.erase(at, 1); break;                      // a character dropped
        case 1: t.insert(at, 1, t[(at * 7) % t.size()]); break;  // one repeated elsewhere
        case 2: {                                           // a value replaced by another token
          size_t colon = t.find(':', at);
          if (colon == std::string::npos) break;
          size_t end = t.find_first_of(",}", colon + 1);
          if (t[colon + 1] == '[' || t[colon + 1] == '{') end = t.find_first_of("]}", colon + 1) + 1;
          if (end == std::string::npos || end <= colon) break;
          t.replace(colon + 1, end - colon - 1, tokens[at % tokens.size()]);
          break;
        }
        case 3: t.resize(at); break;  // cut short
        case 4: {                      // a key renamed or given twice
          size_t q = t.find("\":", at);
          if (q == std::string::npos) break;
          size_t open = t.rfind('"', q - 1);
          if (open == std::string::npos) break;
          std::string key = t.substr(open, q - open + 1);
          size_t brace = t.rfind('{', open);
          if (brace == std::string::npos) break;
          if (at % 2) t.insert(brace + 1, key + ":null,");
          else t.insert(open + 1, "x");
          break;
        }
      }
      Agree(reader, schema, t, &reused);
    }
  }
  EXPECT_EQ(fast, 300);  // every valid generated request took the fast path
}

}  // namespace
}  // namespace firebreak::engine
