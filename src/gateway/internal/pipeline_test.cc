// The gateway's fact resolution (issue 11): what the store knows is bound
// into the engine's request — a case's flags, the subject's own application
// choice — and a request that names nobody is told apart from a subject the
// store cannot find. Runs `Resolve` and `Evaluate` over an in-memory store,
// without a server.
#include "gateway/internal/pipeline.h"

#include <gtest/gtest.h>

#include <set>

#include "entry/entry.h"
#include "policy/policy.h"

namespace firebreak::gateway::internal {
namespace {

namespace json = boost::json;
using policy::EnumKind;

const std::string kUk = std::string(FIREBREAK_SOURCE_DIR) + "/policies/uk/";

std::shared_ptr<const engine::Engine> Load(const std::string& pack) {
  auto loaded = policy::LoadPolicySet({kUk + pack});
  EXPECT_TRUE(loaded && loaded->ok());
  if (!loaded || !loaded->ok()) return nullptr;
  return engine::Engine::Compile(loaded->set);
}

class FactResolution : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::NewMemoryStore();
    for (auto [field, category] : {std::pair{"address_line", "address"}, {"given_name", "identity"},
                                   {"offence", "incident"}, {"outcome", "case-outcome"}}) {
      ASSERT_TRUE(store_->SetFieldCategory(field, category));
      fields_[field] = category;
    }
    // A victim of an assault the records system flags as domestic abuse.
    store::Subject s;
    s.reference = "FLAGGED";
    s.concern = "doubts-only";
    auto id = store_->AddSubject(s);
    ASSERT_TRUE(id);
    ASSERT_TRUE(store_->PutCase({"CR-1", "assault", "under-investigation", {"domestic-abuse"}}));
    ASSERT_TRUE(store_->AddParticipant("CR-1", *id, "victim"));
    // A victim who asked for evidence to go to her adviser.
    store::Subject v;
    v.reference = "CHOSE";
    v.concern = "self-disclosed";
    v.subject_initiated = true;
    v.application = store::ApplicationChoice{"her-adviser", {"incident", "case-outcome"}, "PC 1", "2026-10-02"};
    auto vid = store_->AddSubject(v);
    ASSERT_TRUE(vid);
    ASSERT_TRUE(store_->PutCase({"CR-2", "domestic-abuse", "concluded"}));
    ASSERT_TRUE(store_->AddParticipant("CR-2", *vid, "victim"));
    store::Record r;
    r.subject_id = *vid;
    r.kind = "victim-statement";
    r.collected_as = "victim";
    r.case_id = "CR-2";
    r.fields = {{"given_name", "V"}, {"address_line", "1 High Street"}, {"offence", "domestic-abuse"},
                {"outcome", "convicted"}};
    ASSERT_TRUE(store_->AddRecord(r));
  }

  Merged Run(const engine::Engine& e, const std::string& wire, CallerRequest::SubjectBy by,
             const std::string& reference) {
    auto base = engine::ParseRequestText(wire, e.schema());
    EXPECT_TRUE(base) << base.error().ToString();
    CallerRequest caller;
    caller.by = by;
    caller.reference = reference;
    auto res = Resolve(*store_, caller);
    EXPECT_TRUE(res) << res.error().ToString();
    auto merged = Evaluate(e, *base, *res, fields_);
    EXPECT_TRUE(merged) << merged.error().ToString();
    return merged ? *merged : Merged{};
  }

  std::unique_ptr<store::Store> store_;
  FieldMap fields_;
};

TEST_F(FactResolution, ACaseFlagMakesADomesticAbuseCase) {
  auto e = Load("hmicfrs-rec1");
  ASSERT_NE(e, nullptr);
  Merged m = Run(*e, R"({"requester": {"org": "f", "org_type": "police-force", "role": "police-officer"},
      "purpose": "immigration-status-check", "action": "referral", "categories": ["identity"], "legal_basis": "iaa-1999-s20"})",
                 CallerRequest::SubjectBy::kReference, "FLAGGED");
  EXPECT_FALSE(m.permit);
  ASSERT_FALSE(m.rules.empty());
  EXPECT_EQ(m.rules[0], "D2_no_sharing_on_doubts_about_da_victim");
}

TEST_F(FactResolution, TheApplicationChoiceComesFromTheStore) {
  auto e = Load("npcc-2020");
  ASSERT_NE(e, nullptr);
  const std::string ask = R"({"requester": {"org": "ORG", "org_type": "immigration-adviser", "role": "caseworker"},
      "purpose": "immigration-application-support", "action": "disclose", "categories": ["identity", "address", "incident", "case-outcome"],
      "legal_basis": "consent"})";
  auto as = [&](const std::string& org) {
    std::string w = ask;
    w.replace(w.find("ORG"), 3, org);
    return w;
  };
  Merged named = Run(*e, as("her-adviser"), CallerRequest::SubjectBy::kReference, "CHOSE");
  EXPECT_TRUE(named.permit);
  EXPECT_EQ(e->schema().Names(policy::EnumKind::kCategory, named.disclosed),
            (std::vector<std::string>{"incident", "case-outcome"}));
  Merged other = Run(*e, as("another-adviser"), CallerRequest::SubjectBy::kReference, "CHOSE");
  EXPECT_FALSE(other.permit);
}

TEST_F(FactResolution, NoSubjectIsNotAnUnresolvedSubject) {
  auto e = Load("strict-firewall");
  ASSERT_NE(e, nullptr);
  const std::string stats = R"({"requester": {"org": "ie", "org_type": "home-office-immigration-enforcement", "role": "analyst"},
      "purpose": "statistics", "action": "disclose", "categories": ["nationality"], "legal_basis": "ukgdpr-6-1-e"})";
  // The caller named nobody: statistics about no person are permitted.
  Merged none = Run(*e, stats, CallerRequest::SubjectBy::kNone, "");
  EXPECT_TRUE(none.permit);
  ASSERT_FALSE(none.evaluations.empty());
  EXPECT_TRUE(none.evaluations[0].request.no_subject);
  // The caller named someone the store does not hold: refused (fail closed).
  Merged unresolved = Run(*e, stats, CallerRequest::SubjectBy::kReference, "NO-SUCH-REF");
  EXPECT_FALSE(unresolved.permit);
}

// The decision entry as it was written before it was written as text: a
// Boost.JSON tree, entry::FitSealed and entry::CanonicalJson. The reference
// for DecisionEntry's text (below).
json::array RefNames(const policy::Schema& s, EnumKind k, policy::Mask m) {
  json::array a;
  for (const auto& n : s.Names(k, m)) a.push_back(json::string(n));
  return a;
}

std::string RefSealedPart(const engine::Engine& engine, const Resolution& res, const Merged& merged,
                          const std::string& pseudonym, bool outward) {
  const policy::Schema& schema = engine.schema();
  json::object base;
  if (!outward) {
    base["decision"] = merged.permit ? "permit" : "deny";
    base["disclosed"] = RefNames(schema, EnumKind::kCategory, merged.disclosed);
  }
  base["effective_purpose"] = schema.Values(EnumKind::kPurpose)[merged.purpose];
  std::vector<json::value> cases;
  if (res.subject) {
    const engine::Request& r = merged.evaluations.front().request;
    base["subject"] = pseudonym;
    base["roles"] = RefNames(schema, EnumKind::kRole, r.roles);
    base["flags"] = RefNames(schema, EnumKind::kFlag, r.flags);
    base["immigration_concern"] = schema.Values(EnumKind::kConcern)[r.concern];
    base["regularisation_pending"] = r.regularisation_pending;
    base["subject_initiated"] = r.subject_initiated;
    base["consent_to_ie"] = r.consent_to_ie;
    if (!r.application_recipient.empty()) {
      base["application"] = json::object{{"recipient", r.application_recipient},
                                         {"categories", RefNames(schema, EnumKind::kCategory, r.chosen_categories)}};
    }
    for (const store::Participation& p : res.cases) {
      json::object c{{"type", p.case_type}, {"status", p.case_status}, {"role", p.role}};
      if (!p.case_flags.empty()) c["flags"] = json::value_from(p.case_flags);
      cases.push_back(std::move(c));
    }
  } else if (!res.unresolved.empty()) {
    base["subject"] = nullptr;
    base["unresolved"] = res.unresolved;
  } else {
    base["subject_none"] = true;
  }
  base["obligations"] = RefNames(schema, EnumKind::kObligation, merged.obligations);
  std::vector<json::value> records;
  std::set<std::string> seen;
  for (const Evaluation& e : merged.evaluations) {
    if (!e.record) continue;
    json::object r{{"collected_as", e.record->collected_as},
                   {"decision", e.decision.permit ? "permit" : "deny"},
                   {"disclosed", RefNames(schema, EnumKind::kCategory, e.decision.disclosed)},
                   {"rules", json::value_from(e.rules)}};
    if (!e.record->case_id.empty()) {
      r["case_type"] = e.record->case_type;
      r["case_status"] = e.record->case_status;
    }
    if (seen.insert(json::serialize(r)).second) records.push_back(std::move(r));
  }
  auto plain = entry::FitSealed(std::move(base), cases, records, merged.rules);
  EXPECT_TRUE(plain) << plain.error().ToString();
  return plain ? *plain : "";
}

json::object RefClearPart(const engine::Engine& engine, const CallerRequest& caller, const Merged& merged,
                          bool outward, const std::string& request_id, const entry::AuditKey& key) {
  const policy::Schema& schema = engine.schema();
  json::object e{{"v", entry::kVersion},
                 {"kind", "decision"},
                 {"request_id", request_id},
                 {"endpoint", outward ? "disclosures" : "decisions"},
                 {"requester", caller.base.at("requester")},
                 {"purpose", schema.Values(EnumKind::kPurpose)[merged.declared_purpose]},
                 {"action", caller.base.at("action")},
                 {"legal_basis", caller.base.at("legal_basis")},
                 {"asked", RefNames(schema, EnumKind::kCategory, merged.asked)},
                 {"policy_hash", engine.policy_hash()},
                 {"audit_key", key.id}};
  if (outward) {
    e["decision"] = merged.permit ? "permit" : "deny";
    e["disclosed"] = RefNames(schema, EnumKind::kCategory, merged.disclosed);
  }
  return e;
}

// DecisionEntry writes its canonical text directly: for every pack, subject
// and endpoint here, the text is canonical, its clear part is the tree the
// gateway used to build, and its sealed part opens to the plaintext the tree
// gave (including which cases, records and rules fit, and the padding).
TEST_F(FactResolution, DecisionEntryTextIsTheTreeItReplaced) {
  // A subject with more cases, records and rules than fit the sealed part.
  store::Subject many;
  many.reference = "MANY";
  many.concern = "confirmed-record";
  many.regularisation_pending = true;
  auto mid = store_->AddSubject(many);
  ASSERT_TRUE(mid);
  for (int i = 0; i < 24; ++i) {
    std::string c = "CR-M" + std::to_string(i);
    std::vector<std::string> flags;
    if (i % 3 == 0) flags = {"domestic-abuse"};
    if (i % 5 == 0) flags.push_back("modern-slavery-referral");
    ASSERT_TRUE(store_->PutCase({c, i % 2 ? "assault" : "domestic-abuse", i % 4 ? "concluded" : "under-investigation",
                                 flags}));
    ASSERT_TRUE(store_->AddParticipant(c, *mid, i % 2 ? "victim" : "witness"));
    store::Record r;
    r.subject_id = *mid;
    r.kind = "statement-" + std::to_string(i);
    r.collected_as = i % 2 ? "victim" : "witness";
    r.case_id = i % 7 ? c : "";
    r.fields = {{"given_name", "M \"quoted\" \\ \x01 é"}, {"address_line", std::to_string(i) + " Mill Lane"},
                {"offence", "assault"}, {"outcome", "convicted"}};
    ASSERT_TRUE(store_->AddRecord(r));
  }
  entry::AuditKey key = *entry::AuditKeyFromHex(std::string(64, 'a'));
  entry::Keyring keys({key});
  const std::string pseudonym_key(32, 'p');
  const std::vector<std::string> asks = {
      R"({"requester": {"org": "f", "org_type": "police-force", "role": "police-officer"},
          "purpose": "immigration-status-check", "action": "referral", "categories": ["identity", "address"],
          "legal_basis": "iaa-1999-s20"})",
      R"({"requester": {"org": "ie", "org_type": "home-office-immigration-enforcement", "role": "immigration-officer"},
          "purpose": "immigration-enforcement", "action": "disclose", "categories": ["address", "incident"],
          "legal_basis": "iaa-1999-s20"})",
      R"({"requester": {"org": "her-adviser", "org_type": "immigration-adviser", "role": "caseworker"},
          "purpose": "immigration-application-support", "action": "disclose",
          "categories": ["identity", "address", "incident", "case-outcome"], "legal_basis": "consent"})",
      R"({"requester": {"org": "ie", "org_type": "home-office-immigration-enforcement", "role": "analyst"},
          "purpose": "statistics", "action": "disclose", "categories": ["nationality"], "legal_basis": "ukgdpr-6-1-e"})",
  };
  int compared = 0, trimmed = 0;
  for (const char* pack : {"strict-firewall", "hmicfrs-rec1", "npcc-2020", "migrant-victims-protocol"}) {
    auto e = Load(pack);
    ASSERT_NE(e, nullptr) << pack;
    for (const std::string& wire : asks) {
      auto base = engine::ParseRequestText(wire, e->schema());
      if (!base) continue;  // a purpose or role this pack does not have
      for (auto [by, ref] : {std::pair{CallerRequest::SubjectBy::kReference, "FLAGGED"},
                             {CallerRequest::SubjectBy::kReference, "CHOSE"},
                             {CallerRequest::SubjectBy::kReference, "MANY"},
                             {CallerRequest::SubjectBy::kReference, "NO-SUCH-REF"},
                             {CallerRequest::SubjectBy::kNone, ""}}) {
        CallerRequest caller;
        caller.base = json::parse(wire).as_object();
        caller.by = by;
        caller.reference = ref;
        auto res = Resolve(*store_, caller);
        ASSERT_TRUE(res);
        auto merged = Evaluate(*e, *base, *res, fields_);
        ASSERT_TRUE(merged) << pack << " " << ref << ": " << merged.error().ToString();
        for (bool outward : {false, true}) {
          SCOPED_TRACE(std::string(pack) + " " + ref + (outward ? " outward" : " holder") + "\n" + wire);
          std::string pseudonym;
          auto text = DecisionEntry(*e, caller, *res, *merged, outward, "0123456789abcdef0123456789abcdef",
                                    pseudonym_key, key, &pseudonym);
          ASSERT_TRUE(text) << text.error().ToString();
          json::value parsed = json::parse(*text);
          EXPECT_EQ(entry::CanonicalJson(parsed), *text);
          // The clear part.
          json::object clear = parsed.as_object();
          ASSERT_TRUE(clear.contains("time") && clear.at("time").is_int64());
          clear.erase("time");
          clear.erase("sealed");
          EXPECT_EQ(entry::CanonicalJson(clear),
                    entry::CanonicalJson(RefClearPart(*e, caller, *merged, outward,
                                                      "0123456789abcdef0123456789abcdef", key)));
          // The sealed part.
          std::string plain = RefSealedPart(*e, *res, *merged, pseudonym, outward);
          ASSERT_EQ(plain.size(), entry::kSealedSize);
          auto opened = entry::Open(*text, keys);
          ASSERT_TRUE(opened) << opened.error().ToString();
          std::string want = plain.substr(0, plain.find_last_not_of(' ') + 1);
          EXPECT_EQ(entry::CanonicalJson(opened->at("opened")), want);
          EXPECT_EQ(pseudonym.empty(), !res->subject.has_value());
          if (want.find("_not_listed") != std::string::npos) ++trimmed;
          ++compared;
        }
      }
    }
  }
  EXPECT_GE(compared, 60);
  EXPECT_GT(trimmed, 0);  // the fitting was exercised
}

}  // namespace
}  // namespace firebreak::gateway::internal
