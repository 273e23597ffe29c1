// Planted faults: copies of the shipped packs, each weakened in one way a
// careless edit could weaken them, must each be refuted — with a
// counterexample the engine decides in violation — and refused by the
// deployment gate.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "verify/testing/test_util.h"
#include "verify/verify.h"

namespace firebreak::verify {
namespace {

namespace fs = std::filesystem;

struct Fault {
  std::string name;
  std::string file;     // under policies/uk
  std::string from;     // text to replace (must occur)
  std::string to;
  std::string pack;     // the set to verify: packs under policies/uk, separated by spaces
  std::string refuted;  // a guarantee that must be refuted
};

// Each is a distinct weakening (dropped role, purpose, status, normalisation,
// condition, obligation or rule; a broad permit; a forbid turned permit).
const Fault kFaults[] = {
    {"drop victim from protected roles", "schema/sets.fbp",
     "set protected_roles: role = [victim, ", "set protected_roles: role = [", "strict-firewall",
     "GA1_never_firewall_purpose_for_protected"},
    {"drop immigration-enforcement from the firewall purposes", "schema/sets.fbp",
     "set firewall_purposes: purpose = [\n  immigration-enforcement,\n", "set firewall_purposes: purpose = [\n",
     "strict-firewall", "GA1_never_firewall_purpose_for_protected"},
    {"drop the normalisation of Home Office crime purposes", "common/normalise.fbp",
     "normalise N1_home_office_crime_is_immigration {\n  from [criminal-investigation, prosecution]",
     "normalise N1_home_office_crime_is_immigration {\n  from [public-protection]", "strict-firewall",
     "GA4_relabelled_crime_is_still_immigration"},
    {"narrow the normalisation to visas only", "common/normalise.fbp",
     "when requester.org_type in immigration_control_orgs", "when requester.org_type == home-office-visas",
     "migrant-victims-protocol", "GC3_nothing_to_ie_while_protected"},
    {"drop charged from the active statuses", "schema/sets.fbp",
     "set active_statuses: case_status = [reported, under-investigation, charged, prosecution]",
     "set active_statuses: case_status = [reported, under-investigation, prosecution]",
     "migrant-victims-protocol", "GC1_no_enforcement_while_protected"},
    {"drop the regularisation hold", "migrant-victims-protocol/rules.fbp",
     " or subject.regularisation_pending)", ")", "migrant-victims-protocol",
     "GC1_no_enforcement_while_protected"},
    {"turn the enforcement hold forbid into a permit", "migrant-victims-protocol/rules.fbp",
     "forbid C2_no_enforcement_while_protected {", "permit C2_no_enforcement_while_protected {\n  grant all",
     "migrant-victims-protocol", "GC3_nothing_to_ie_while_protected"},
    {"drop the hold obligation from status checks", "migrant-victims-protocol/rules.fbp",
     "obligations [hold-no-enforcement-while-case-active, signpost-independent-advice]",
     "obligations [signpost-independent-advice]", "migrant-victims-protocol",
     "GC2_status_checks_carry_the_hold"},
    {"add a broad permit for Immigration Enforcement", "npcc-2020-core/rules.fbp", "# B1: never check",
     "permit Z_broad {\n  when requester.org_type == home-office-immigration-enforcement\n  grant all\n"
     "  because \"planted\"\n}\n\n# B1: never check",
     "npcc-2020", "GB2_ie_gets_locating_data_only"},
    {"let the s20 agreement disclose nationality", "npcc-2020-core/rules.fbp", "  data [address, contact]",
     "  data [address, contact, nationality]", "npcc-2020", "GB2_ie_gets_locating_data_only"},
    {"drop the care-roles exclusion from the s20 agreement", "npcc-2020-core/rules.fbp",
     "      and subject.roles has_any police_roles\n      and subject.roles has_none care_roles\n",
     "      and subject.roles has_any police_roles\n", "npcc-2020", "GB3_health_and_education_out_of_scope"},
    {"drop record-justification from victim referrals", "npcc-2020-core/rules.fbp",
     "obligations [treat-as-victim-no-police-immigration-action, record-justification]",
     "obligations [treat-as-victim-no-police-immigration-action]", "npcc-2020",
     "GB4_victims_checked_are_treated_as_victims"},
    {"apply Recommendation 1 to the wrong concern", "hmicfrs-rec1/rules.fbp",
     "subject.immigration_concern == doubts-only", "subject.immigration_concern == confirmed-record",
     "hmicfrs-rec1", "GD1_nothing_to_ie_on_doubts_about_da_victim"},
    {"scope Recommendation 1 to the wrong case type", "hmicfrs-rec1/rules.fbp",
     "(case.type == domestic-abuse or case.flags", "(case.type == sexual-offence or case.flags", "hmicfrs-rec1",
     "GD1_nothing_to_ie_on_doubts_about_da_victim"},
    {"drop the no-record branch of the provenance firewall", "strict-firewall-provenance/firewall.fbp",
     "firewall AP1_no_firewall_purpose_for_protected_record {\n  when purpose in firewall_purposes\n"
     "      and (record is known and record.collected_as in protected_roles or record is unknown and "
     "subject.roles has_any protected_roles)",
     "firewall AP1_no_firewall_purpose_for_protected_record {\n  when purpose in firewall_purposes\n"
     "      and (record is known and record.collected_as in protected_roles)",
     "strict-firewall-provenance", "GP2_never_firewall_purpose_without_record_for_protected"},
    // Issue 11: a B1 without its referral clause lets a holder's automated
    // referral prompt refer a victim about whom there is no concern.
    {"drop the referral clause from B1", "npcc-2020-core/rules.fbp",
     " or action == referral and purpose in firewall_purposes)", ")",
     "npcc-2020 examples/holder-referral-prompt", "GB1_no_sole_purpose_check_on_victims"},
    {"carve every offender out of Recommendation 1", "hmicfrs-rec1/rules.fbp",
     "      and (no case where (case.role == offender and case.status in active_statuses))\n",
     "      and subject.roles has_none [offender]\n", "hmicfrs-rec1",
     "GD1_nothing_to_ie_on_doubts_about_da_victim"},
    {"ignore the domestic-abuse flag in Recommendation 1", "hmicfrs-rec1/rules.fbp",
     " or case.flags has domestic-abuse))) or subject.roles has_any victim_roles and subject.flags has domestic-abuse)",
     "))))", "hmicfrs-rec1", "GD1_nothing_to_ie_on_doubts_about_da_victim"},
    {"ignore the subject's domestic-abuse flag in the 2023 protocol", "migrant-victims-protocol-da-only/rules.fbp",
     "case.flags has domestic-abuse or subject.flags has domestic-abuse", "case.flags has domestic-abuse",
     "migrant-victims-protocol-da-only", "GC1_no_enforcement_while_protected"},
    {"let statistics serve an unresolved subject", "common/x3-statistics.fbp", "subject is none and record is unknown",
     "subject is unknown and record is unknown", "npcc-2020", "GX4_unresolved_subject_never_permitted"},
    {"apply A2 to requests about no person", "strict-firewall/firewall.fbp",
     "      and not subject is none\n      and subject.roles has_any protected_roles\n",
     "      and subject.roles has_any protected_roles\n", "strict-firewall",
     "GX3_statistics_about_no_one_are_permitted"},
    {"protect only victims in the consent firewall", "strict-firewall-consent/firewall.fbp",
     "subject.roles has_any protected_roles", "subject.roles has_any victim_roles", "strict-firewall-consent",
     "GAC1_never_firewall_purpose_without_consent"},
};

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class PlantedFault : public ::testing::TestWithParam<Fault> {};

TEST_P(PlantedFault, IsRefuted) {
  const Fault& f = GetParam();
  testing::ScratchDir dir("planted");
  fs::copy(testing::UkDir(), fs::path(dir.path()) / "uk", fs::copy_options::recursive);
  fs::path file = fs::path(dir.path()) / "uk" / f.file;
  std::string text = Read(file);
  size_t at = text.find(f.from);
  ASSERT_NE(at, std::string::npos) << "the pack changed: `" << f.from << "` is no longer in " << f.file;
  text.replace(at, f.from.size(), f.to);
  std::ofstream(file, std::ios::trunc) << text;

  std::vector<std::string> packs, original_packs;
  std::istringstream names(f.pack);
  for (std::string name; names >> name;) {
    packs.push_back((fs::path(dir.path()) / "uk" / name).string());
    original_packs.push_back(testing::UkDir() + "/" + name);
  }
  std::string why;
  auto set = testing::LoadSet(packs, &why);
  ASSERT_TRUE(set) << why;
  // The unweakened pack proves the guarantee (so the fault is what refutes it).
  auto original = testing::LoadSet(original_packs, &why);
  ASSERT_TRUE(original) << why;
  auto before = VerifyGuarantees(original);
  ASSERT_TRUE(before) << before.error().ToString();
  EXPECT_TRUE(before->all_proved());

  auto report = VerifyGuarantees(set);
  ASSERT_TRUE(report) << report.error().ToString();
  const GuaranteeResult* target = nullptr;
  for (const GuaranteeResult& g : report->guarantees) {
    if (g.name == f.refuted) target = &g;
  }
  ASSERT_NE(target, nullptr) << f.refuted;
  ASSERT_EQ(target->outcome, Outcome::kRefuted) << f.refuted << " not refuted";
  ASSERT_TRUE(target->counterexample);

  // Replay the counterexample as `firebreak eval` would: wire form in, decide.
  auto engine = engine::Engine::Compile(set);
  std::string json = boost::json::serialize(engine::RequestToJson(*target->counterexample, *set->schema));
  auto request = engine::ParseRequestText(json, *set->schema);
  ASSERT_TRUE(request) << request.error().message();
  const policy::Guarantee* g = nullptr;
  for (const auto& each : set->guarantees) {
    if (each.name == f.refuted) g = &each;
  }
  ASSERT_NE(g, nullptr);
  engine::Decision d = engine->Decide(*request);
  EXPECT_TRUE(testing::EngineViolates(*engine, *g, *request, d)) << json;
  // The original pack does not violate it on the same request.
  auto original_engine = engine::Engine::Compile(original);
  EXPECT_FALSE(testing::EngineViolates(*original_engine, *g, *request, original_engine->Decide(*request))) << json;

  // The gate refuses the weakened set and accepts the original.
  Status gate = CheckDeployable(set);
  ASSERT_FALSE(gate);
  EXPECT_EQ(gate.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(gate.error().message().find(f.refuted), std::string::npos) << gate.error().message();
  EXPECT_TRUE(CheckDeployable(original));
}

INSTANTIATE_TEST_SUITE_P(UkPacks, PlantedFault, ::testing::ValuesIn(kFaults),
                         [](const ::testing::TestParamInfo<Fault>& info) {
                           std::string n;
                           for (char c : info.param.name) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST(PlantedFaults, AreDistinct) {
  std::set<std::pair<std::string, std::string>> edits;
  for (const Fault& f : kFaults) EXPECT_TRUE(edits.insert({f.file, f.from}).second) << f.name;
  EXPECT_GE(std::size(kFaults), 12u);
}

}  // namespace
}  // namespace firebreak::verify
