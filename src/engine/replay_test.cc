// engine/replay.h: a logged request rebuilt from an opened entry and decided
// again, under the pack that decided it and under others.
#include "engine/replay.h"

#include <gtest/gtest.h>

#include "policy/policy.h"

namespace firebreak::engine {
namespace {

namespace json = boost::json;

const std::string kSource = FIREBREAK_SOURCE_DIR;

std::shared_ptr<const Engine> Load(const std::string& pack) {
  auto loaded = policy::LoadPolicySet({kSource + "/policies/uk/" + pack});
  EXPECT_TRUE(loaded && loaded->ok()) << pack;
  return Engine::Compile(loaded->set);
}

// Immigration Enforcement asks about a victim, as an opened entry records it.
json::object IeAboutAVictim() {
  return json::parse(R"({
    "kind": "decision", "endpoint": "disclosures", "decision": "deny", "disclosed": [],
    "requester": {"org": "ie-ice-south", "org_type": "home-office-immigration-enforcement", "role": "immigration-officer"},
    "purpose": "immigration-enforcement", "action": "disclose", "legal_basis": "iaa-1999-s20",
    "asked": ["identity", "address"],
    "opened": {"subject": "pseudonym", "roles": ["victim"], "flags": ["domestic-abuse"],
               "immigration_concern": "confirmed-record",
               "cases": [{"role": "victim", "status": "charged", "type": "domestic-abuse"}],
               "rules": ["A1_no_firewall_purpose_for_protected", "A2_no_immigration_relevant_data_to_ie"]}
  })").as_object();
}

TEST(Redecide, DecidesTheRecordedRequest) {
  auto strict = Load("strict-firewall");
  Redecision d = Redecide(*strict, IeAboutAVictim());
  ASSERT_EQ(d.kind, Redecision::Kind::kDecided) << d.problem;
  EXPECT_FALSE(d.permit);
  EXPECT_EQ(d.disclosed, 0u);
  EXPECT_EQ(d.rules, (std::vector<std::string>{"A1_no_firewall_purpose_for_protected",
                                                "A2_no_immigration_relevant_data_to_ie"}));
  // The weaker 2020 guidance decides the same recorded request differently.
  Redecision weaker = Redecide(*Load("npcc-2020"), IeAboutAVictim());
  ASSERT_EQ(weaker.kind, Redecision::Kind::kDecided) << weaker.problem;
  EXPECT_TRUE(weaker.permit);
  EXPECT_NE(weaker.disclosed, 0u);
  // A value the schema lacks: not replayed, the field named.
  json::object e = IeAboutAVictim();
  e["purpose"] = "no-such-purpose";
  Redecision bad = Redecide(*strict, e);
  EXPECT_EQ(bad.kind, Redecision::Kind::kNotReplayed);
  EXPECT_NE(bad.problem.find("purpose `no-such-purpose`"), std::string::npos) << bad.problem;
}

TEST(Redecide, AnUnopenedEntryIsNotReplayed) {
  auto strict = Load("strict-firewall");
  json::object e = IeAboutAVictim();
  e.erase("opened");
  Redecision d = Redecide(*strict, e);
  EXPECT_EQ(d.kind, Redecision::Kind::kNotReplayed);
  EXPECT_NE(d.problem.find("could not be opened"), std::string::npos);
  EXPECT_FALSE(d.permit);
}

TEST(Redecide, APersonNotFoundIsRefusedUnderAnyPack) {
  json::object e = IeAboutAVictim();
  e["opened"].as_object()["subject"] = nullptr;
  for (const char* pack : {"strict-firewall", "npcc-2020"}) {
    Redecision d = Redecide(*Load(pack), e);
    EXPECT_EQ(d.kind, Redecision::Kind::kUnresolved) << pack;
    EXPECT_FALSE(d.permit) << pack;
  }
}

TEST(Redecide, ARecordLineThatIsNotAnObjectIsNotReplayed) {
  json::object e = IeAboutAVictim();
  e["opened"].as_object()["records"] = json::array{1, 2};
  Redecision d = Redecide(*Load("strict-firewall"), e);
  EXPECT_EQ(d.kind, Redecision::Kind::kNotReplayed);
}

TEST(EntryReader, KeepsTheFirstProblem) {
  auto strict = Load("strict-firewall");
  EntryReader rd(strict->schema());
  json::array names{"identity", "no-such-category", 3};
  rd.Set(policy::EnumKind::kCategory, "categories asked", &names);
  EXPECT_NE(rd.problem().find("no-such-category"), std::string::npos) << rd.problem();
}

}  // namespace
}  // namespace firebreak::engine
