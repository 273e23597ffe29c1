// The answers written as text (`RenderDecision`, `RenderDisclosure`) against
// the JSON trees they were built as before issue 9, kept here as the
// reference: for generated subjects, records and decisions, each answer must
// be exactly what serialising its tree gives, byte for byte. Subjects come
// from a demo force (SQLite) and from an in-memory store, with hostile text
// in every value the store holds; merged decisions are also generated
// directly, outside any policy's reach. And an outward refusal reads the
// same whatever refused it.
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/testing/suite.h"
#include "demo/demo.h"
#include "engine/engine.h"
#include "gateway/internal/pipeline.h"
#include "gateway/internal/wire.h"
#include "policy/policy.h"
#include "store/store.h"

namespace firebreak::gateway::internal {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using policy::EnumKind;

// ---------------------------------------------------------------------------
// The reference: the trees pipeline.cc built before the answers were written
// as text. Do not "fix" these: they define the bytes callers have been
// getting.

std::pair<int, json::object> TreeDisclosure(const engine::Engine& engine, const Merged& merged,
                                            const FieldMap& field_map, const std::string& receipt) {
  const policy::Schema& schema = engine.schema();
  json::array out_records;
  if (merged.permit) {
    for (const Evaluation& e : merged.evaluations) {
      if (!e.record || !e.decision.permit) continue;
      json::object fields;
      for (const store::Field& f : e.record->fields) {
        auto it = field_map.find(f.name);
        if (it == field_map.end()) continue;
        int c = schema.Find(EnumKind::kCategory, it->second);
        if (c >= 0 && (e.decision.disclosed >> c) & 1) fields[f.name] = f.value;
      }
      if (!fields.empty()) out_records.push_back(json::object{{"fields", std::move(fields)}});
    }
  }
  bool granted = merged.permit;
  json::object out{
      {"decision", granted ? "permit" : "refused"},
      {"receipt", receipt},
      {"disclosed", granted ? Names(schema, EnumKind::kCategory, merged.disclosed) : json::array()},
      {"withheld", Names(schema, EnumKind::kCategory, granted ? merged.withheld : merged.asked)},
      {"obligations", granted ? Names(schema, EnumKind::kObligation, merged.obligations) : json::array()},
      {"records", std::move(out_records)},
      {"message", granted ? "Disclosed as the holder's policy permits; see the obligations."
                          : "No disclosure: the holder's policy does not permit this request."},
  };
  return {granted ? 200 : 403, std::move(out)};
}

json::object TreeDecision(const engine::Engine& engine, const Resolution& res, const Merged& merged,
                          const std::string& receipt, uint64_t index) {
  const policy::Schema& schema = engine.schema();
  const auto& purposes = schema.Values(EnumKind::kPurpose);
  json::object out{{"decision", merged.permit ? "permit" : "deny"},
                   {"disclosed", Names(schema, EnumKind::kCategory, merged.disclosed)},
                   {"withheld", Names(schema, EnumKind::kCategory, merged.withheld)},
                   {"rules", json::value_from(merged.rules)},
                   {"reasons", json::value_from(merged.reasons)},
                   {"obligations", Names(schema, EnumKind::kObligation, merged.obligations)},
                   {"purpose", purposes[merged.purpose]},
                   {"declared_purpose", purposes[merged.declared_purpose]},
                   {"policy_hash", engine.policy_hash()},
                   {"receipt", receipt},
                   {"log_index", index}};
  json::array evals;
  for (const Evaluation& e : merged.evaluations) {
    json::object d = engine.ToJson(e.decision, e.request);
    if (e.record) {
      json::object rec{{"id", e.record->id}, {"kind", e.record->kind}, {"collected_as", e.record->collected_as}};
      if (!e.record->case_id.empty()) {
        rec["case"] = e.record->case_id;
        rec["case_type"] = e.record->case_type;
        rec["case_status"] = e.record->case_status;
      }
      d["record"] = std::move(rec);
    }
    evals.push_back(std::move(d));
  }
  out["evaluations"] = std::move(evals);
  if (res.subject) out["subject"] = json::object{{"reference", res.subject->reference}};
  return out;
}

// ---------------------------------------------------------------------------

// What the generated cases covered, so that a test can tell it exercised
// what it claims to.
struct Seen {
  int permits = 0, denies = 0, refusals_403 = 0;
  int records_disclosed = 0;      // records listed in a disclosure
  int evaluations_on_record = 0;  // per-record evaluations in a decision
  int unresolved = 0, with_subject = 0;
};

// Both answers against their trees. Fatal on the first difference.
void ExpectSameAsTrees(const engine::Engine& engine, const Resolution& res, const Merged& m,
                       const FieldMap& field_map, const std::string& receipt, uint64_t index, Seen* seen) {
  auto [status, text] = RenderDisclosure(engine, m, field_map, receipt);
  auto [tree_status, tree] = TreeDisclosure(engine, m, field_map, receipt);
  ASSERT_EQ(status, tree_status);
  ASSERT_EQ(text, json::serialize(tree));
  std::string decision = RenderDecision(engine, res, m, receipt, index);
  json::object decision_tree = TreeDecision(engine, res, m, receipt, index);
  ASSERT_EQ(decision, json::serialize(decision_tree));
  ++(m.permit ? seen->permits : seen->denies);
  if (status == 403) ++seen->refusals_403;
  seen->records_disclosed += int(tree.at("records").as_array().size());
  for (const Evaluation& e : m.evaluations) seen->evaluations_on_record += e.record ? 1 : 0;
  if (!res.unresolved.empty()) ++seen->unresolved;
  if (res.subject) ++seen->with_subject;
}

// Text of every awkward kind: quotes, backslashes, every control byte,
// DEL, UTF-8 of two to four bytes, bytes that are not UTF-8, long runs
// (the escaper scans 8 bytes at a time), empty.
class Hostile {
 public:
  explicit Hostile(uint64_t seed) : rng_(seed) {}

  // `utf8`: valid UTF-8 without NUL only (what every store keeps: store.h's
  // CheckWritable; and what can travel in a request's JSON).
  std::string Text(size_t max_pieces = 8, bool utf8 = false) {
    if (Uniform(8) == 0) return "";
    // The last three are not UTF-8: a store may hold them all the same.
    static const char* const kPieces[] = {
        "plain", " ", "\"", "\\", "\\\"", "\"\\", "é", "名前", "😀", "\x7f", "</script>", "\\u0000", "a,b",
        "{\"k\":1}", "0123456789abcdef0123456789", "\t", "\n", "\r\n", "\xff", "\xc3", "\xe2\x82",
    };
    const int kinds = int(std::size(kPieces)) - (utf8 ? 3 : 0);
    std::string s;
    size_t pieces = size_t(Uniform(int(max_pieces)) + 1);
    for (size_t i = 0; i < pieces; ++i) {
      int k = Uniform(kinds + 4);
      if (k < kinds) {
        s += kPieces[k];
      } else {
        s += char(utf8 ? 1 + Uniform(31) : Uniform(32));  // a control byte, NUL included unless `utf8`
      }
    }
    return s;
  }
  std::string Pick(const std::vector<std::string>& v) { return v[size_t(Uniform(int(v.size())))]; }
  std::vector<std::string> Some(const std::vector<std::string>& v, int most) {
    std::set<std::string> out;
    for (int n = Uniform(most + 1); n > 0; --n) out.insert(Pick(v));
    return {out.begin(), out.end()};
  }
  int Uniform(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  uint64_t Bits() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

// Hostile field names mapped to categories (added to the store's field map).
// `utf8`: valid UTF-8 without NUL only (every store refuses other text: the
// SQLite store keeps a record's fields as JSON text, PostgreSQL's text ends
// at a NUL).
void MapHostileFields(store::Store& st, const policy::Schema& schema, Hostile& g, bool utf8) {
  const auto& categories = schema.Values(EnumKind::kCategory);
  for (int i = 0; i < 12; ++i) {
    std::string name = "f" + std::to_string(i) + g.Text(3, utf8);
    ASSERT_TRUE(st.SetFieldCategory(name, g.Pick(categories)));
  }
  // A name that is only escapes, and one of more than 8 bytes without any.
  ASSERT_TRUE(st.SetFieldCategory("\"\\\x01\x1f", g.Pick(categories)));
  ASSERT_TRUE(st.SetFieldCategory("a-long-plain-field-name", g.Pick(categories)));
}

// Adds `n` subjects whose free text (reference, names, case ids, record
// kinds, field values) is hostile; their roles, flags, cases and concern are
// the schema's own, at random. Every seventh has no record, every eleventh
// has 40. Returns their references. `utf8` as for MapHostileFields.
std::vector<std::string> AddHostileSubjects(store::Store& st, const policy::Schema& schema, Hostile& g, int n,
                                            bool utf8) {
  auto fields = st.FieldCategories();
  EXPECT_TRUE(fields);
  std::vector<std::string> names = {"unmapped", "also-unmapped\""};
  if (fields) {
    for (const auto& [name, category] : *fields) names.push_back(name);
  }
  std::vector<std::string> refs;
  for (int i = 0; i < n; ++i) {
    store::Subject s;
    s.reference = "HOSTILE-" + std::to_string(i) + g.Text(4, /*utf8=*/true);
    s.given_name = g.Text(3, utf8);
    s.family_name = g.Text(3, utf8);
    s.date_of_birth = "1980-01-01";
    s.concern = g.Pick(schema.Values(EnumKind::kConcern));
    s.regularisation_pending = g.Uniform(2);
    s.subject_initiated = g.Uniform(2);
    s.consent_to_ie = g.Uniform(2);
    s.flags = g.Some(schema.Values(EnumKind::kFlag), 2);
    s.service_roles = g.Some(schema.Values(EnumKind::kRole), 1);
    if (g.Uniform(6) == 0) {
      s.application = store::ApplicationChoice{"her-adviser", g.Some(schema.Values(EnumKind::kCategory), 3),
                                               "PC 1", "2026-10-02"};
      if (s.application->categories.empty()) s.application.reset();
    }
    auto id = st.AddSubject(s);
    EXPECT_TRUE(id) << id.error().ToString();
    if (!id) return refs;
    std::vector<std::string> cases;
    for (int c = g.Uniform(4); c > 0; --c) {
      store::Case k{"HC-" + std::to_string(i) + "-" + std::to_string(c) + g.Text(3, utf8),
                    g.Pick(schema.Values(EnumKind::kCaseType)), g.Pick(schema.Values(EnumKind::kCaseStatus)),
                    g.Some(schema.Values(EnumKind::kFlag), 1)};
      EXPECT_TRUE(st.PutCase(k));
      EXPECT_TRUE(st.AddParticipant(k.id, *id, g.Pick(schema.Values(EnumKind::kRole))));
      cases.push_back(k.id);
    }
    int records = i % 7 == 0 ? 0 : i % 11 == 0 ? 40 : g.Uniform(6) + 1;
    for (int r = 0; r < records; ++r) {
      store::Record rec;
      rec.subject_id = *id;
      rec.kind = g.Text(3, utf8);
      rec.collected_as = g.Pick(schema.Values(EnumKind::kRole));
      if (!cases.empty() && g.Uniform(2)) rec.case_id = g.Pick(cases);
      for (int f = g.Uniform(7); f > 0; --f) rec.fields.push_back({g.Pick(names), g.Text(12, utf8)});
      // The same name twice in one record, now and then.
      if (!rec.fields.empty() && g.Uniform(5) == 0) rec.fields.push_back({rec.fields[0].name, g.Text(8, utf8)});
      auto added = st.AddRecord(rec);
      EXPECT_TRUE(added) << added.error().ToString();
    }
    refs.push_back(s.reference);
  }
  return refs;
}

// `body` (a caller's request) about `subject` instead: {"reference": ...},
// or the identity fields, or none.
std::string About(const std::string& body, const json::object& subject) {
  json::object o = json::parse(body).as_object();
  if (subject.empty()) {
    o.erase("subject");
  } else {
    o["subject"] = subject;
  }
  return json::serialize(o);
}

json::object Ref(const std::string& reference) { return json::object{{"reference", reference}}; }

const std::string kStrict = std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/strict-firewall";

class Render : public ::testing::Test {
 protected:
  static void Prepare() {
    dir_ = (fs::temp_directory_path() / ("render_test_" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    demo::DemoOptions o;
    o.dir = dir_;
    o.subjects = 200;
    o.policy_packs = {kStrict};
    o.listen = "127.0.0.1:0";
    auto s = demo::CreateDemoForce(o);
    ASSERT_TRUE(s) << s.error().ToString();
    auto opened = store::OpenSqliteStore(dir_ + "/store.db");
    ASSERT_TRUE(opened) << opened.error().ToString();
    demo_ = std::move(*opened);
    auto loaded = policy::LoadPolicySet({kStrict});
    ASSERT_TRUE(loaded && loaded->ok());
    engine_ = engine::Engine::Compile(loaded->set);
  }
  static void TearDownTestSuite() {
    demo_.reset();
    engine_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override { FIREBREAK_PREPARE_SUITE(Prepare); }

  const engine::Engine& engine() { return *engine_; }

  // The demo's requests (its walk-through, and each asking every category),
  // with the organisation that sends each.
  std::vector<std::pair<store::Organisation, std::string>> Requests(store::Store& st) {
    std::vector<std::pair<store::Organisation, std::string>> out;
    json::array every;
    for (const std::string& c : engine().schema().Values(EnumKind::kCategory)) every.emplace_back(c);
    for (const demo::WalkStep& step : demo::WalkThrough(demo::Holder::kPoliceForce)) {
      if (step.path != "/v1/disclosures" && step.path != "/v1/decisions") continue;
      auto org = st.GetOrganisation(step.org);
      EXPECT_TRUE(org && *org) << step.org;
      if (!org || !*org) continue;
      out.emplace_back(**org, step.body);
      json::object all = json::parse(step.body).as_object();
      all["categories"] = every;
      out.emplace_back(**org, json::serialize(all));
    }
    return out;
  }

  // Every request about every subject named (and about no one), through
  // the pipeline's own stages, both answers against their trees.
  void Run(store::Store& st, const std::vector<json::object>& subjects, Hostile& g, Seen* seen) {
    auto map = st.FieldCategories();
    ASSERT_TRUE(map) << map.error().ToString();
    FieldMap fields(map->begin(), map->end());
    for (const auto& [org, body] : Requests(st)) {
      for (const json::object& subject : subjects) {
        std::string text = About(body, subject);
        SCOPED_TRACE(org.id + " " + text);
        auto caller = ParseCaller(text, org);
        ASSERT_TRUE(caller) << caller.error().message;
        auto base = engine::ReadRequest(caller->base, engine().schema());
        ASSERT_TRUE(base) << base.error().message;
        auto res = Resolve(st, *caller);
        ASSERT_TRUE(res) << res.error().ToString();
        auto merged = Evaluate(engine(), *base, *res, fields);
        ASSERT_TRUE(merged) << merged.error().ToString();
        // A receipt as the gateway forms it, at a log index of any size.
        uint64_t index = g.Bits() >> g.Uniform(64);
        std::string receipt = std::to_string(index) + "-0123456789abcdef0123456789abcdef";
        ASSERT_NO_FATAL_FAILURE(ExpectSameAsTrees(engine(), *res, *merged, fields, receipt, index, seen));
      }
    }
  }

  static inline std::string dir_;
  static inline std::unique_ptr<store::Store> demo_;
  static inline std::shared_ptr<const engine::Engine> engine_;
};

// The demo force's planted subjects and part of its population, people it
// does not hold, and hostile subjects added to its SQLite store.
TEST_F(Render, DemoForceAnswersAreTheTreesBytes) {
  Hostile g(9);
  ASSERT_NO_FATAL_FAILURE(MapHostileFields(*demo_, engine().schema(), g, /*utf8=*/true));
  std::vector<std::string> hostile = AddHostileSubjects(*demo_, engine().schema(), g, 40, /*utf8=*/true);
  ASSERT_EQ(hostile.size(), 40u);
  std::vector<json::object> subjects;
  for (const demo::Planted& p : demo::PlantedSubjects()) subjects.push_back(Ref(p.reference));
  for (int i = 1; i <= 40; ++i) {
    char ref[16];
    std::snprintf(ref, sizeof ref, "EXC-%07d", i);
    subjects.push_back(Ref(ref));
  }
  for (const std::string& r : hostile) subjects.push_back(Ref(r));
  subjects.push_back(Ref("NO-SUCH-REF"));
  subjects.push_back(json::object{{"given_name", "No"}, {"family_name", "Such"}, {"date_of_birth", "1970-01-01"}});
  subjects.push_back(json::object{});  // about no one
  Seen seen;
  ASSERT_NO_FATAL_FAILURE(Run(*demo_, subjects, g, &seen));
  // It saw what it claims to have checked.
  EXPECT_GT(seen.permits, 100);
  EXPECT_GT(seen.denies, 100);
  EXPECT_GT(seen.records_disclosed, 100);
  EXPECT_GT(seen.evaluations_on_record, 500);
  EXPECT_GT(seen.unresolved, 0);
}

// The in-memory store, as pipeline_test uses it: only hostile subjects
// (among them two that share an identity), the demo's organisations and
// field map plus hostile field names. (Bytes that are not UTF-8, which no
// store keeps, reach the renderer in GeneratedDecisionsAreTheTreesBytes.)
TEST_F(Render, InMemoryStoreAnswersAreTheTreesBytes) {
  auto st = store::NewMemoryStore();
  auto map = demo_->FieldCategories();
  ASSERT_TRUE(map);
  for (const auto& [field, category] : *map) ASSERT_TRUE(st->SetFieldCategory(field, category));
  for (const demo::WalkStep& step : demo::WalkThrough(demo::Holder::kPoliceForce)) {
    auto org = demo_->GetOrganisation(step.org);
    ASSERT_TRUE(org && *org);
    ASSERT_TRUE(st->PutOrganisation(**org));
  }
  Hostile g(20261201);
  ASSERT_NO_FATAL_FAILURE(MapHostileFields(*st, engine().schema(), g, /*utf8=*/true));
  std::vector<json::object> subjects;
  for (const std::string& r : AddHostileSubjects(*st, engine().schema(), g, 150, /*utf8=*/true)) {
    subjects.push_back(Ref(r));
  }
  for (int twin = 0; twin < 2; ++twin) {
    store::Subject s;
    s.reference = "TWIN-" + std::to_string(twin);
    s.given_name = "Twin";
    s.family_name = "Same";
    s.date_of_birth = "1980-01-01";
    ASSERT_TRUE(st->AddSubject(s));
  }
  subjects.push_back(json::object{{"given_name", "Twin"}, {"family_name", "Same"}, {"date_of_birth", "1980-01-01"}});
  subjects.push_back(Ref("NO-SUCH-REF"));
  Seen seen;
  ASSERT_NO_FATAL_FAILURE(Run(*st, subjects, g, &seen));
  EXPECT_GT(seen.permits, 100);
  EXPECT_GT(seen.denies, 100);
  EXPECT_GT(seen.records_disclosed, 100);
  EXPECT_GT(seen.unresolved, 0);
}

// Merged decisions made up outright, beyond what a policy decides: any
// masks, rules and reasons (hostile text), normalisations, unknown facts,
// evaluations on records or none, request ids, receipts and log indices of
// any kind, subjects or none, no evaluation at all.
TEST_F(Render, GeneratedDecisionsAreTheTreesBytes) {
  const engine::Engine& e = engine();
  const policy::Schema& schema = e.schema();
  const policy::PolicySet& set = e.policy_set();
  ASSERT_FALSE(set.rules.empty());
  ASSERT_FALSE(set.normalisations.empty()) << "the generated decisions would never be normalised";
  Hostile g(42);
  std::vector<std::string> mapped;
  FieldMap fields;
  for (int i = 0; i < 10; ++i) {
    std::string name = g.Text(3) + std::to_string(i);
    fields[name] = g.Pick(schema.Values(EnumKind::kCategory));
    mapped.push_back(name);
  }
  fields["not-a-category"] = "no-such-category";  // skipped, as in Evaluate
  mapped.push_back("not-a-category");
  mapped.push_back("unmapped");
  auto mask = [&](EnumKind k) { return g.Bits() & schema.All(k); };
  auto value = [&](EnumKind k) { return uint8_t(g.Uniform(int(schema.Values(k).size()))); };
  Seen seen;
  for (int round = 0; round < 2000; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Resolution res;
    if (g.Uniform(4) == 0) {
      res.unresolved = g.Uniform(2) ? "unknown-reference" : "ambiguous-identity";
    } else if (g.Uniform(5) != 0) {
      res.subject.emplace();
      res.subject->reference = g.Text();
    }
    for (int r = g.Uniform(g.Uniform(10) == 0 ? 60 : 5); r > 0; --r) {
      store::Record rec;
      rec.id = int64_t(g.Bits() >> g.Uniform(64)) * (g.Uniform(8) == 0 ? -1 : 1);
      rec.kind = g.Text();
      rec.collected_as = g.Text(2);
      if (g.Uniform(2)) {
        rec.case_id = g.Text();
        if (rec.case_id.empty()) rec.case_id = "C";
        rec.case_type = g.Text(2);
        rec.case_status = g.Text(2);
      }
      for (int f = g.Uniform(8); f > 0; --f) rec.fields.push_back({g.Pick(mapped), g.Text(16)});
      if (!rec.fields.empty() && g.Uniform(4) == 0) rec.fields.push_back({rec.fields[0].name, g.Text()});
      res.records.push_back(std::move(rec));
    }
    Merged m;
    m.permit = g.Uniform(2);
    m.asked = mask(EnumKind::kCategory);
    m.disclosed = mask(EnumKind::kCategory);
    m.withheld = mask(EnumKind::kCategory);
    m.obligations = mask(EnumKind::kObligation);
    m.purpose = value(EnumKind::kPurpose);
    m.declared_purpose = value(EnumKind::kPurpose);
    for (int i = g.Uniform(4); i > 0; --i) m.rules.push_back(g.Text());
    for (int i = g.Uniform(4); i > 0; --i) m.reasons.push_back(g.Text());
    int evaluations = g.Uniform(8) == 0 ? 0 : g.Uniform(int(res.records.size()) + 2) + 1;
    for (int i = 0; i < evaluations; ++i) {
      Evaluation ev;
      if (!res.records.empty() && g.Uniform(4) != 0) ev.record = &res.records[size_t(g.Uniform(int(res.records.size())))];
      ev.request.purpose = value(EnumKind::kPurpose);
      if (g.Uniform(6) == 0) ev.request.id = g.Text();
      engine::Decision& d = ev.decision;
      d.permit = g.Uniform(2);
      d.disclosed = mask(EnumKind::kCategory);
      d.withheld = mask(EnumKind::kCategory);
      d.obligations = mask(EnumKind::kObligation);
      d.purpose = value(EnumKind::kPurpose);
      for (int r = g.Uniform(4); r > 0; --r) {
        uint32_t rule = uint32_t(g.Uniform(int(set.rules.size())));
        d.rules.push_back(rule);
        if (g.Uniform(3) == 0) d.unknown_rules.push_back(rule);
      }
      for (int n = set.normalisations.empty() ? 0 : g.Uniform(3); n > 0; --n) {
        d.normalisations.push_back(uint32_t(g.Uniform(int(set.normalisations.size()))));
      }
      d.conflicting_normalisations = g.Uniform(10) == 0;
      m.evaluations.push_back(std::move(ev));
    }
    uint64_t index = g.Uniform(10) == 0 ? ~uint64_t{0} : g.Bits() >> g.Uniform(64);
    std::string receipt = g.Uniform(3) ? std::to_string(index) + "-" + std::string(32, 'a') : g.Text();
    ASSERT_NO_FATAL_FAILURE(ExpectSameAsTrees(e, res, m, fields, receipt, index, &seen));
  }
  EXPECT_GT(seen.permits, 500);
  EXPECT_GT(seen.denies, 500);
  EXPECT_GT(seen.records_disclosed, 500);
  EXPECT_GT(seen.evaluations_on_record, 1000);
}

// Every outward refusal — a protected person (with no record, with many),
// a person the holder does not know (by reference or by identity), an
// ambiguous identity, no agreement for the legal basis, a store that
// refused outright (nothing evaluated) — is one status and one body, byte
// for byte, for the same categories asked and the same receipt: nothing in
// the answer tells why.
TEST_F(Render, EveryOutwardRefusalIsTheSameAnswer) {
  const policy::Schema& schema = engine().schema();
  auto st = store::NewMemoryStore();
  auto map = demo_->FieldCategories();
  ASSERT_TRUE(map);
  for (const auto& [field, category] : *map) ASSERT_TRUE(st->SetFieldCategory(field, category));
  auto ie = demo_->GetOrganisation(demo::kOrgImmigrationEnforcement);
  ASSERT_TRUE(ie && *ie);
  ASSERT_TRUE(st->PutOrganisation(**ie));
  ASSERT_GE(schema.Find(EnumKind::kRole, "patient"), 0);
  ASSERT_GE(schema.Find(EnumKind::kRole, "victim"), 0);
  // A patient with no record; a victim with 40 records full of hostile text;
  // an offender (no protected role); two people sharing one identity.
  Hostile g(7);
  store::Subject patient;
  patient.reference = "PATIENT-NO-RECORDS";
  patient.service_roles = {"patient"};
  auto pid = st->AddSubject(patient);
  ASSERT_TRUE(pid);
  store::Subject victim;
  victim.reference = "VICTIM-MANY-RECORDS";
  auto vid = st->AddSubject(victim);
  ASSERT_TRUE(vid);
  ASSERT_TRUE(st->PutCase({"CR-9", "assault", "concluded"}));
  ASSERT_TRUE(st->AddParticipant("CR-9", *vid, "victim"));
  for (int i = 0; i < 40; ++i) {
    store::Record r;
    r.subject_id = *vid;
    r.kind = g.Text(8, /*utf8=*/true);
    r.collected_as = "victim";
    r.case_id = "CR-9";
    for (const auto& [field, category] : *map) r.fields.push_back({field, g.Text(16, /*utf8=*/true)});
    ASSERT_TRUE(st->AddRecord(r));
  }
  store::Subject plain;
  plain.reference = "NO-ROLE";
  auto nid = st->AddSubject(plain);
  ASSERT_TRUE(nid);
  ASSERT_TRUE(st->PutCase({"CR-10", "burglary", "concluded"}));
  ASSERT_TRUE(st->AddParticipant("CR-10", *nid, "offender"));
  store::Record r;
  r.subject_id = *nid;
  r.kind = "custody-record";
  r.collected_as = "offender";
  r.case_id = "CR-10";
  for (const auto& [field, category] : *map) r.fields.push_back({field, "value"});
  ASSERT_TRUE(st->AddRecord(r));
  for (int twin = 0; twin < 2; ++twin) {
    store::Subject s;
    s.reference = "TWIN-" + std::to_string(twin);
    s.given_name = "Twin";
    s.family_name = "Same";
    s.date_of_birth = "1980-01-01";
    s.service_roles = {"patient"};
    ASSERT_TRUE(st->AddSubject(s));
  }
  FieldMap fields(map->begin(), map->end());
  const std::string ask =
      R"({"purpose":"immigration-enforcement","action":"disclose","categories":["address","contact"],)"
      R"("legal_basis":"iaa-1999-s20","user_role":"immigration-officer"})";
  std::string no_agreement = ask;
  no_agreement.replace(no_agreement.find("iaa-1999-s20"), 12, "dpa-2018-sch2-para4");
  struct Cause {
    const char* name;
    std::string body;
    json::object subject;
  };
  std::vector<Cause> causes = {
      {"protected, no record", ask, Ref("PATIENT-NO-RECORDS")},
      {"protected, 40 records", ask, Ref("VICTIM-MANY-RECORDS")},
      {"unknown reference", ask, Ref("NO-SUCH-REF")},
      {"unknown identity", ask, json::object{{"given_name", "No"}, {"family_name", "Such"}, {"date_of_birth", "1970-01-01"}}},
      {"ambiguous identity", ask, json::object{{"given_name", "Twin"}, {"family_name", "Same"}, {"date_of_birth", "1980-01-01"}}},
      {"no agreement", no_agreement, Ref("NO-ROLE")},
  };
  const std::string receipt = "123-0123456789abcdef0123456789abcdef";
  std::string first;
  for (const Cause& c : causes) {
    SCOPED_TRACE(c.name);
    auto caller = ParseCaller(About(c.body, c.subject), **ie);
    ASSERT_TRUE(caller) << caller.error().message;
    auto base = engine::ReadRequest(caller->base, schema);
    ASSERT_TRUE(base);
    auto res = Resolve(*st, *caller);
    ASSERT_TRUE(res);
    auto merged = Evaluate(engine(), *base, *res, fields);
    ASSERT_TRUE(merged);
    EXPECT_FALSE(merged->permit);
    auto [status, body] = RenderDisclosure(engine(), *merged, fields, receipt);
    EXPECT_EQ(status, 403);
    if (first.empty()) first = body;
    EXPECT_EQ(body, first);
  }
  // A merged decision with nothing evaluated at all refuses the same way.
  Merged nothing;
  nothing.asked = schema.All(EnumKind::kCategory) &
                  ((policy::Mask{1} << schema.Find(EnumKind::kCategory, "address")) |
                   (policy::Mask{1} << schema.Find(EnumKind::kCategory, "contact")));
  auto [status, body] = RenderDisclosure(engine(), nothing, fields, receipt);
  EXPECT_EQ(status, 403);
  EXPECT_EQ(body, first);
  // The one answer, in full: nothing but what the requester sent.
  EXPECT_EQ(first,
            "{\"decision\":\"refused\",\"receipt\":\"123-0123456789abcdef0123456789abcdef\",\"disclosed\":[],"
            "\"withheld\":[\"contact\",\"address\"],\"obligations\":[],\"records\":[],"
            "\"message\":\"No disclosure: the holder's policy does not permit this request.\"}");
  // The person with no protected role is disclosed to under the agreement.
  auto caller = ParseCaller(About(ask, Ref("NO-ROLE")), **ie);
  ASSERT_TRUE(caller);
  auto base = engine::ReadRequest(caller->base, schema);
  ASSERT_TRUE(base);
  auto res = Resolve(*st, *caller);
  ASSERT_TRUE(res);
  auto merged = Evaluate(engine(), *base, *res, fields);
  ASSERT_TRUE(merged);
  auto [permit_status, permit_body] = RenderDisclosure(engine(), *merged, fields, receipt);
  EXPECT_EQ(permit_status, 200) << permit_body;
}

}  // namespace
}  // namespace firebreak::gateway::internal
