// The NHS trust and school demos (Care Don't Share: health and education),
// and the walk-through of every holder.
#include "demo/internal/holders.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>

#include "demo/demo.h"

namespace firebreak::demo {
namespace {

using store::Field;
using store::Record;
using store::Subject;

constexpr const char* kGiven[] = {
    "Olivia", "Amelia", "Aisha", "Fatima",   "Maria", "Elena", "Priya",  "Mei",    "Grace",
    "Zainab", "Oliver", "Noah",  "Mohammed", "Adam",  "Luca",  "Tomasz", "Kwame",  "Ravi",
    "Wei",    "Samuel", "Ioana", "Yusuf",    "Kofi",  "Sofia", "Hana",   "Joseph", "Ruth"};
constexpr const char* kFamily[] = {"Smith",  "Jones",   "Patel", "Khan",    "Ahmed",  "Ali",
                                   "Nowak",  "Popescu", "Silva", "Santos",  "Okafor", "Mensah",
                                   "Chen",   "Singh",   "Begum", "Ivanova", "Rossi",  "Nguyen",
                                   "Haddad", "Osei",    "Green", "Wood"};
constexpr const char* kStreets[] = {"High Street", "Station Road", "Church Lane",
                                    "Mill Lane",   "Park Avenue",  "Orchard Close"};
constexpr const char* kTowns[] = {"Ipswich", "Lowestoft", "Felixstowe", "Sudbury", "Stowmarket"};
constexpr const char* kLanguages[] = {"English", "Polish", "Romanian",   "Punjabi",
                                      "Urdu",    "Yoruba", "Portuguese", "Tigrinya"};
constexpr const char* kEthnicity[] = {"White British",   "White other",   "Asian Indian",
                                      "Asian Pakistani", "Black African", "Mixed",
                                      "Chinese",         "Other"};
constexpr const char* kDiagnoses[] = {
    "asthma, acute exacerbation", "fractured wrist", "type 2 diabetes review", "antenatal booking",
    "chest pain, non-cardiac",    "cellulitis",      "depression, follow-up",  "appendicitis"};
constexpr const char* kEpisodes[] = {"inpatient-episode", "outpatient-episode",
                                     "emergency-attendance"};

class Rng {
 public:
  explicit Rng(uint64_t seed) : rng_(seed) {}
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <class T, size_t N>
  const char* Pick(const T (&a)[N]) {
    return a[Below(N)];
  }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += char('0' + Below(10));
    return s;
  }
  std::string Date(int from, int to) {
    return fmt::format("{:04}-{:02}-{:02}", from + int(Below(size_t(to - from + 1))), 1 + Below(12),
                       1 + Below(28));
  }

 private:
  std::mt19937_64 rng_;
};

struct CareSpec {
  Planted p;
  const char* concern;
  bool subject_initiated;
  std::vector<std::string> flags;
  std::vector<std::string> roles;  // service roles (patient, pupil; victim for a MARAC subject)
  std::optional<store::ApplicationChoice> application = std::nullopt;
};

const std::vector<CareSpec>& TrustSpecs() {
  static const std::vector<CareSpec> specs = {
      {{"DEMO-P11", "Yusuf", "Ali", "1975-04-04",
        "row 11: a patient the Home Office wants to trace"},
       "confirmed-record",
       false,
       {},
       {"patient"}},
      {{"DEMO-P02", "Kofi", "Mensah", "1985-07-02", "an overseas visitor with an unpaid bill"},
       "doubts-only",
       false,
       {},
       {"patient"}},
      {{"DEMO-P14", "Grace", "Osei", "1992-05-21",
        "a patient who is a domestic-abuse victim (MARAC)"},
       "none",
       false,
       {"domestic-abuse"},
       {"patient", "victim"}},
      {{"DEMO-P08", "Fatima", "Begum", "1987-12-03",
        "a patient sending evidence to her own adviser"},
       "self-disclosed",
       true,
       {"domestic-abuse"},
       {"patient"},
       store::ApplicationChoice{
           kOrgAdviser, {"identity", "health"}, "Ward 7 sister, patient liaison", "2026-11-02"}},
  };
  return specs;
}

const std::vector<CareSpec>& SchoolSpecs() {
  static const std::vector<CareSpec> specs = {
      {{"DEMO-S12", "Hana", "Okafor", "2013-10-10",
        "row 12: a pupil in the Home Office's bulk match"},
       "none",
       false,
       {"child"},
       {"pupil"}},
      {{"DEMO-S14", "Sofia", "Silva", "2011-02-17", "a pupil children's social care asks about"},
       "none",
       false,
       {"child", "vulnerable"},
       {"pupil"}},
  };
  return specs;
}

const std::vector<CareSpec>& Specs(Holder h) {
  return h == Holder::kNhsTrust ? TrustSpecs() : SchoolSpecs();
}

std::vector<Field> Demographics(Rng& g, const Subject& s) {
  return {{"given_name", s.given_name},
          {"family_name", s.family_name},
          {"date_of_birth", s.date_of_birth},
          {"gender", g.Chance(0.5) ? "female" : "male"},
          {"address_line",
           fmt::format("{} {}, {}", 1 + g.Below(180), g.Pick(kStreets), g.Pick(kTowns))},
          {"postcode", fmt::format("IP{} {}{}{}", 1 + g.Below(33), g.Below(10),
                                   char('A' + g.Below(26)), char('A' + g.Below(26)))},
          {"first_language", g.Pick(kLanguages)},
          {"ethnicity", g.Pick(kEthnicity)}};
}

// A patient: a registration record (demographic, with the overseas visitor
// fields when chargeable) and one to three clinical episodes.
Status AddPatientRecords(Rng& g, store::Store& db, const Subject& s, bool overseas,
                         DemoSummary& summary) {
  Record reg;
  reg.subject_id = s.id;
  reg.kind = "patient-registration";
  reg.collected_as = "patient";
  reg.fields = Demographics(g, s);
  reg.fields.push_back({"nhs_number", g.Digits(3) + " " + g.Digits(3) + " " + g.Digits(4)});
  reg.fields.push_back({"phone", "07700 9" + g.Digits(5)});
  reg.fields.push_back({"next_of_kin", "recorded"});
  if (overseas) {
    reg.fields.push_back({"nationality", "recorded for charging"});
    reg.fields.push_back({"chargeable_status", "overseas visitor, chargeable"});
  }
  FB_RETURN_IF_ERROR(db.AddRecord(reg));
  ++summary.records;
  size_t episodes = 1 + g.Below(3);
  for (size_t i = 0; i < episodes; ++i) {
    Record e;
    e.subject_id = s.id;
    e.kind = g.Pick(kEpisodes);
    e.collected_as = "patient";
    e.fields = {{"given_name", s.given_name},
                {"family_name", s.family_name},
                {"episode_ref", "EP-" + g.Digits(8)},
                {"diagnosis", g.Pick(kDiagnoses)},
                {"clinical_notes", "Synthetic clinical note (no real person)."}};
    if (g.Chance(0.5)) e.fields.push_back({"medications", "recorded"});
    FB_RETURN_IF_ERROR(db.AddRecord(e));
    ++summary.records;
  }
  return Ok();
}

// A pupil: an enrolment record (demographic, parent contact) and census
// records (education, special needs).
Status AddPupilRecords(Rng& g, store::Store& db, const Subject& s, DemoSummary& summary) {
  Record en;
  en.subject_id = s.id;
  en.kind = "pupil-enrolment";
  en.collected_as = "pupil";
  en.fields = Demographics(g, s);
  const std::string upn = "A" + g.Digits(12);
  en.fields.push_back({"upn", upn});
  en.fields.push_back({"parent_phone", "07700 9" + g.Digits(5)});
  en.fields.push_back({"parent_name", "recorded"});
  // Collected at admission by some schools before 2018; never sent on.
  if (g.Chance(0.3)) en.fields.push_back({"nationality", "recorded at admission"});
  if (g.Chance(0.3)) en.fields.push_back({"country_of_birth", "recorded at admission"});
  FB_RETURN_IF_ERROR(db.AddRecord(en));
  ++summary.records;
  Record census;
  census.subject_id = s.id;
  census.kind = "census-return";
  census.collected_as = "pupil";
  census.fields = {{"upn", upn},
                   {"year_group", std::to_string(1 + g.Below(11))},
                   {"attendance", fmt::format("{}%", 80 + g.Below(21))},
                   {"free_school_meals", g.Chance(0.25) ? "yes" : "no"}};
  if (g.Chance(0.15)) census.fields.push_back({"sen_need", "SEN support recorded"});
  FB_RETURN_IF_ERROR(db.AddRecord(census));
  ++summary.records;
  return Ok();
}

}  // namespace

const char* HolderName(Holder h) {
  switch (h) {
    case Holder::kPoliceForce:
      return "police-force";
    case Holder::kNhsTrust:
      return "nhs-trust";
    case Holder::kSchool:
      return "school";
  }
  return "police-force";
}

bool ParseHolder(std::string_view name, Holder* out) {
  for (Holder h : {Holder::kPoliceForce, Holder::kNhsTrust, Holder::kSchool}) {
    if (name == HolderName(h)) {
      *out = h;
      return true;
    }
  }
  return false;
}

const char* DefaultPolicyPack(Holder h) {
  switch (h) {
    case Holder::kPoliceForce:
      return "policies/uk/strict-firewall";
    case Holder::kNhsTrust:
      return "policies/uk/holders/nhs-trust";
    case Holder::kSchool:
      return "policies/uk/holders/school";
  }
  return "policies/uk/strict-firewall";
}

namespace internal {

std::vector<DemoOrg> CareHolderOrgs(Holder h) {
  if (h == Holder::kNhsTrust) {
    return {
        {kOrgImmigrationEnforcement, "home-office-immigration-enforcement",
         "Home Office Immigration Enforcement (tracing)", "requester", ""},
        {kOrgVisas, "home-office-visas", "UK Visas and Immigration", "requester", ""},
        {kOrgAdviser, "immigration-adviser", "Southside Immigration Advice (OISC-regulated)",
         "requester", ""},
        {kOrgGp, "gp-practice", "Example Road GP Surgery", "requester", ""},
        {kOrgCouncil, "local-authority", "Example County Council (MARAC)", "requester", ""},
        {kOrgRecordsSystem, "police-force", "Example Constabulary", "requester", ""},
        {kOrgNhsTrust, "nhs-trust", "Example Hospitals NHS Trust patient administration system",
         "holder", ""},
        {kOrgTrustDpo, "nhs-trust", "Example Hospitals NHS Trust Caldicott Guardian and DPO",
         "admin", ""},
    };
  }
  return {
      {kOrgImmigrationEnforcement, "home-office-immigration-enforcement",
       "Home Office Immigration Enforcement", "requester", ""},
      {kOrgDfe, "dfe", "Department for Education (school census)", "requester", ""},
      {kOrgCouncil, "local-authority", "Example County Council (children's social care)",
       "requester", ""},
      {kOrgRecordsSystem, "police-force", "Example Constabulary", "requester", ""},
      {kOrgSchool, "school", "Example Academy management information system", "holder", ""},
      {kOrgSchoolDpo, "school", "Example Academy Trust Data Protection Officer", "admin", ""},
  };
}

std::vector<std::pair<std::string, std::string>> CareHolderFieldMap(Holder h) {
  std::vector<std::pair<std::string, std::string>> m = {
      {"given_name", "identity"},     {"family_name", "identity"}, {"date_of_birth", "identity"},
      {"gender", "identity"},         {"address_line", "address"}, {"postcode", "address"},
      {"first_language", "language"}, {"ethnicity", "ethnicity"},  {"nationality", "nationality"},
  };
  if (h == Holder::kNhsTrust) {
    m.insert(m.end(), {{"nhs_number", "identity"},
                       {"phone", "contact"},
                       {"next_of_kin", "relationships"},
                       {"chargeable_status", "immigration-status"},
                       {"episode_ref", "health"},
                       {"diagnosis", "health"},
                       {"clinical_notes", "health"},
                       {"medications", "health"}});
  } else {
    m.insert(m.end(), {{"upn", "identity"},
                       {"parent_phone", "contact"},
                       {"parent_name", "relationships"},
                       {"country_of_birth", "place-of-birth"},
                       {"year_group", "education"},
                       {"attendance", "education"},
                       {"free_school_meals", "education"},
                       {"sen_need", "health"}});
  }
  return m;
}

const std::vector<Planted>& CareHolderPlanted(Holder h) {
  static const std::vector<Planted> trust = [] {
    std::vector<Planted> out;
    for (const auto& s : TrustSpecs()) out.push_back(s.p);
    return out;
  }();
  static const std::vector<Planted> school = [] {
    std::vector<Planted> out;
    for (const auto& s : SchoolSpecs()) out.push_back(s.p);
    return out;
  }();
  return h == Holder::kNhsTrust ? trust : school;
}

Status PopulateCareHolder(Holder h, store::Store& db, uint64_t seed, int64_t subjects,
                          const std::function<void(int64_t, int64_t)>& progress,
                          DemoSummary& summary) {
  Rng g(seed);
  const bool trust = h == Holder::kNhsTrust;
  const std::string role = trust ? "patient" : "pupil";
  // Planted subjects first, so their references and facts are stable.
  FB_RETURN_IF_ERROR(db.Bulk([&]() -> Status {
    for (const CareSpec& p : Specs(h)) {
      Subject s;
      s.reference = p.p.reference;
      s.given_name = p.p.given_name;
      s.family_name = p.p.family_name;
      s.date_of_birth = p.p.date_of_birth;
      s.concern = p.concern;
      s.subject_initiated = p.subject_initiated;
      s.flags = p.flags;
      s.service_roles = p.roles;
      s.application = p.application;
      FB_ASSIGN_OR_RETURN(s.id, db.AddSubject(s));
      ++summary.subjects;
      if (trust) {
        FB_RETURN_IF_ERROR(AddPatientRecords(g, db, s, p.concern != std::string("none"), summary));
      } else {
        FB_RETURN_IF_ERROR(AddPupilRecords(g, db, s, summary));
      }
    }
    return Ok();
  }));
  const int64_t total = std::max<int64_t>(subjects, int64_t(Specs(h).size()));
  const int64_t kBatch = 10000;
  for (int64_t begin = int64_t(Specs(h).size()); begin < total; begin += kBatch) {
    int64_t end = std::min(total, begin + kBatch);
    FB_RETURN_IF_ERROR(db.Bulk([&]() -> Status {
      for (int64_t i = begin; i < end; ++i) {
        Subject s;
        s.reference = fmt::format("{}-{:07}", trust ? "EHT" : "EXA", i + 1);
        s.given_name = g.Pick(kGiven);
        s.family_name = g.Pick(kFamily);
        s.date_of_birth = trust ? g.Date(1935, 2024) : g.Date(2008, 2021);
        s.service_roles = {role};
        if (!trust || s.date_of_birth >= "2008") s.flags.push_back("child");
        bool overseas = trust && g.Chance(0.02);
        s.concern = overseas ? "doubts-only" : "none";
        FB_ASSIGN_OR_RETURN(s.id, db.AddSubject(s));
        if (trust) {
          FB_RETURN_IF_ERROR(AddPatientRecords(g, db, s, overseas, summary));
        } else {
          FB_RETURN_IF_ERROR(AddPupilRecords(g, db, s, summary));
        }
      }
      summary.subjects += end - begin;
      return Ok();
    }));
    if (progress) progress(summary.subjects, total);
  }
  if (progress) progress(summary.subjects, total);
  return Ok();
}

}  // namespace internal

std::vector<WalkStep> WalkThrough(Holder h) {
  switch (h) {
    case Holder::kPoliceForce:
      return {
          {"Immigration Enforcement asks for the address of a domestic-abuse victim (matrix row "
           "5).\n"
           "   The firewall refuses; the answer looks the same as for a person the force does not "
           "know:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"immigration-enforcement","action":"disclose","categories":["address","contact"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"reference":"DEMO-R05"}})"},
          {"The same request about someone the force has never heard of, by name and date of "
           "birth:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"immigration-enforcement","action":"disclose","categories":["address","contact"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"given_name":"No","family_name":"Such-Person","date_of_birth":"1970-01-01"}})"},
          {"An offender in a concluded burglary (no firewall role): the address is disclosed, with "
           "a receipt:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"immigration-enforcement","action":"disclose","categories":["address"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"given_name":"Jakub","family_name":"Kowalski","date_of_birth":"1983-03-03"}})"},
          {"The council's MARAC safeguarding referral (row 14): contact and incident flow, "
           "nationality is withheld:",
           kOrgCouncil, "/v1/disclosures",
           R"({"purpose":"safeguarding","action":"referral","categories":["identity","contact","incident","nationality"],"legal_basis":"ukgdpr-6-1-e","user_role":"social-worker","subject":{"reference":"DEMO-R14"}})"},
          {"The force's records system asks before an officer's status check (row 1); the full "
           "reasons come back:",
           kOrgRecordsSystem, "/v1/decisions",
           R"({"purpose":"immigration-status-check","action":"referral","categories":["identity","nationality"],"legal_basis":"iaa-1999-s20","user_role":"police-officer","subject":{"reference":"DEMO-R01"}})"},
      };
    case Holder::kNhsTrust:
      return {
          {"The Home Office's tracing request for a patient's address (matrix row 11, the 2017 "
           "memorandum).\n"
           "   The firewall refuses; the answer looks the same as for a person the trust does not "
           "know:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"immigration-enforcement","action":"disclose","categories":["identity","address"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"reference":"DEMO-P11"}})"},
          {"The same request about someone the trust has never treated, by name and date of birth:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"immigration-enforcement","action":"disclose","categories":["identity","address"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"given_name":"No","family_name":"Such-Person","date_of_birth":"1970-01-01"}})"},
          {"Direct care: the GP asks for the discharge summary; clinical data flow, nationality is "
           "withheld:",
           kOrgGp, "/v1/disclosures",
           R"({"purpose":"direct-care","action":"disclose","categories":["identity","health","nationality"],"legal_basis":"ukgdpr-9-2-h","user_role":"clinician","subject":{"reference":"DEMO-P11"}})"},
          {"The council's MARAC asks about a patient who is a domestic-abuse victim "
           "(safeguarding):",
           kOrgCouncil, "/v1/disclosures",
           R"({"purpose":"safeguarding","action":"referral","categories":["identity","contact","health","nationality"],"legal_basis":"ukgdpr-6-1-e","user_role":"social-worker","subject":{"reference":"DEMO-P14"}})"},
          {"Her own immigration adviser asks for the evidence she chose to send (X1): identity and "
           "clinical\n"
           "   evidence only; her address stays, because she did not choose it:",
           kOrgAdviser, "/v1/disclosures",
           R"({"purpose":"immigration-application-support","action":"disclose","categories":["identity","health","address"],"legal_basis":"consent","user_role":"caseworker","subject":{"reference":"DEMO-P08"}})"},
          {"The overseas visitors office asks before referring a patient with an unpaid bill to "
           "the Home Office;\n"
           "   refused, with the reasons:",
           kOrgNhsTrust, "/v1/decisions",
           R"({"purpose":"immigration-enforcement","action":"referral","categories":["identity","nationality"],"legal_basis":"iaa-1999-s20","user_role":"automated-system","subject":{"reference":"DEMO-P02"}})"},
          {"Statistics about no person (no subject): permitted, whoever asks:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"statistics","action":"disclose","categories":["nationality"],"legal_basis":"ukgdpr-6-1-e","user_role":"analyst"})"},
      };
    case Holder::kSchool:
      return {
          {"Immigration Enforcement asks for a pupil's address (matrix row 12, one lookup).\n"
           "   The firewall refuses; the answer looks the same as for a child the school does not "
           "know:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"immigration-enforcement","action":"disclose","categories":["address"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"reference":"DEMO-S12"}})"},
          {"The same request about a child the school has never taught, by name and date of birth:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"immigration-enforcement","action":"disclose","categories":["address"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"given_name":"No","family_name":"Such-Child","date_of_birth":"2014-01-01"}})"},
          {"The Home Office's bulk match (row 12) as a bulk extract: refused, and the DPO is told:",
           kOrgImmigrationEnforcement, "/v1/disclosures",
           R"({"purpose":"immigration-enforcement","action":"bulk-extract","categories":["identity","address"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"reference":"DEMO-S12"}})"},
          {"The school census to the DfE: it goes, without nationality or country of birth:",
           kOrgDfe, "/v1/disclosures",
           R"({"purpose":"statutory-return","action":"bulk-extract","categories":["identity","address","language","ethnicity","education","nationality","place-of-birth"],"legal_basis":"ea-1996-s537a","user_role":"automated-system","subject":{"reference":"DEMO-S12"}})"},
          {"Children's social care: a safeguarding referral about a pupil (nationality withheld):",
           kOrgCouncil, "/v1/disclosures",
           R"({"purpose":"safeguarding","action":"referral","categories":["identity","contact","address","nationality"],"legal_basis":"ca-2004-s11","user_role":"social-worker","subject":{"reference":"DEMO-S14"}})"},
          {"The school's system asks before a bulk extract for the police's \"public protection\": "
           "refused, with\n"
           "   the reasons:",
           kOrgSchool, "/v1/decisions",
           R"({"purpose":"public-protection","action":"bulk-extract","categories":["identity","address"],"legal_basis":"dpa-2018-s35","user_role":"automated-system","subject":{"reference":"DEMO-S14"}})"},
          {"Statistics about no pupil (no subject): permitted:", kOrgDfe, "/v1/disclosures",
           R"({"purpose":"statistics","action":"disclose","categories":["education"],"legal_basis":"ukgdpr-6-1-e","user_role":"analyst"})"},
      };
  }
  return {};
}

}  // namespace firebreak::demo
