#include "demo/demo.h"

#include <sys/stat.h>

#include <array>
#include <filesystem>
#include <random>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"
#include "demo/internal/holders.h"
#include "demo/pki.h"
#include "ledger/appender.h"
#include "ledger/note.h"
#include "ledger/storage.h"
#include "store/store.h"

namespace firebreak::demo {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using store::Field;
using store::Record;
using store::Subject;

// The field map: every field a record may hold and its data category
// (domain.md §7).
constexpr std::pair<const char*, const char*> kFieldMap[] = {
    {"given_name", "identity"},         {"family_name", "identity"},
    {"date_of_birth", "identity"},      {"gender", "identity"},
    {"pnc_id", "identity"},             {"phone", "contact"},
    {"email", "contact"},               {"address_line", "address"},
    {"postcode", "address"},            {"nationality", "nationality"},
    {"place_of_birth", "place-of-birth"}, {"immigration_status", "immigration-status"},
    {"passport_number", "travel-documents"}, {"ho_reference", "home-office-refs"},
    {"fingerprints_ref", "biometrics"}, {"custody_photo_ref", "biometrics"},
    {"first_language", "language"},     {"interpreter", "language"},
    {"ethnicity", "ethnicity"},         {"occupation", "employment"},
    {"next_of_kin", "relationships"},   {"injuries", "health"},
    {"offence", "incident"},            {"dash_risk", "incident"},
    {"narrative", "incident"},          {"outcome", "case-outcome"},
    {"nrm_status", "nrm-status"},
};

constexpr const char* kGiven[] = {
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Aisha", "Fatima", "Maria", "Ana", "Elena",
    "Priya", "Mei", "Grace", "Chloe", "Zainab", "Oliver", "George", "Noah", "Arthur", "Leo",
    "Mohammed", "Adam", "Luca", "Tomasz", "Jakub", "Kwame", "Ravi", "Wei", "Daniel", "Samuel",
    "Ioana", "Nadia", "Yusuf", "Kofi", "Sofia", "Hana", "Joseph", "Ellie", "Harry", "Ruth"};
constexpr const char* kFamily[] = {
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Khan", "Ahmed", "Ali", "Nowak", "Kowalski", "Popescu", "Silva", "Santos", "Okafor",
    "Mensah", "Chen", "Wang", "Singh", "Kaur", "Evans", "Thomas", "Roberts", "Walker", "Wright",
    "Hussain", "Begum", "Ivanova", "Rossi", "Murphy", "O'Brien", "Nguyen", "Haddad", "Osei",
    "Green", "Hall", "Wood"};
constexpr const char* kStreets[] = {"High Street", "Station Road", "Church Lane", "Victoria Road",
                                    "Mill Lane", "Park Avenue", "London Road", "Queens Road",
                                    "Orchard Close", "Manor Way"};
constexpr const char* kTowns[] = {"Ipswich", "Bury St Edmunds", "Lowestoft", "Felixstowe",
                                  "Sudbury", "Haverhill", "Stowmarket", "Newmarket"};
constexpr const char* kNationalities[] = {"British", "Polish", "Romanian", "Indian", "Pakistani",
                                          "Nigerian", "Chinese", "Brazilian", "Albanian",
                                          "Eritrean", "Vietnamese", "Ghanaian"};
constexpr const char* kLanguages[] = {"English", "Polish", "Romanian", "Punjabi", "Urdu",
                                      "Yoruba", "Mandarin", "Portuguese", "Albanian", "Tigrinya"};

struct Weighted {
  const char* value;
  int weight;
};
constexpr Weighted kCaseTypes[] = {
    {"domestic-abuse", 18}, {"assault", 16},       {"theft", 20},        {"burglary", 10},
    {"fraud", 8},           {"public-order", 7},   {"sexual-offence", 5}, {"harassment-stalking", 8},
    {"modern-slavery", 1},  {"immigration-offence", 1}, {"other", 6}};
constexpr Weighted kStatuses[] = {{"reported", 15},  {"under-investigation", 25}, {"charged", 10},
                                  {"prosecution", 5}, {"concluded", 30},          {"no-further-action", 15}};
constexpr Weighted kConcerns[] = {
    {"none", 86}, {"doubts-only", 6}, {"confirmed-record", 4}, {"self-disclosed", 4}};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  template <class T, size_t N>
  const char* Pick(const T (&a)[N]) {
    return a[Below(N)];
  }
  template <size_t N>
  const char* PickWeighted(const Weighted (&a)[N]) {
    int total = 0;
    for (const auto& w : a) total += w.weight;
    int r = int(Below(size_t(total)));
    for (const auto& w : a) {
      if (r < w.weight) return w.value;
      r -= w.weight;
    }
    return a[0].value;
  }
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::string Date(int from_year, int to_year) {
    return fmt::format("{:04}-{:02}-{:02}", from_year + int(Below(size_t(to_year - from_year + 1))),
                       1 + Below(12), 1 + Below(28));
  }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += char('0' + Below(10));
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

// The fields of a record of `kind` about `s`, synthetic.
std::vector<Field> MakeFields(Generator& g, const Subject& s, std::string_view kind,
                              std::string_view case_type, std::string_view status) {
  std::vector<Field> f = {{"given_name", s.given_name},
                          {"family_name", s.family_name},
                          {"date_of_birth", s.date_of_birth}};
  std::string address = fmt::format("{} {}, {}", 1 + g.Below(180), g.Pick(kStreets), g.Pick(kTowns));
  std::string postcode = fmt::format("IP{} {}{}{}", 1 + g.Below(33), g.Below(10),
                                     char('A' + g.Below(26)), char('A' + g.Below(26)));
  bool closed = status == "concluded" || status == "no-further-action" || status == "charged" ||
                status == "prosecution";
  if (kind == "custody-record") {
    f.push_back({"pnc_id", fmt::format("{}/{}{}", 2000 + g.Below(25), g.Digits(7), char('A' + g.Below(26)))});
    f.push_back({"address_line", address});
    f.push_back({"postcode", postcode});
    f.push_back({"nationality", g.Pick(kNationalities)});
    f.push_back({"place_of_birth", g.Pick(kTowns)});
    f.push_back({"fingerprints_ref", "IDENT1-" + g.Digits(9)});
    f.push_back({"custody_photo_ref", "CP-" + g.Digits(8)});
    f.push_back({"offence", std::string(case_type)});
    f.push_back({"occupation", g.Chance(0.5) ? "unemployed" : "labourer"});
  } else {
    f.push_back({"phone", "07700 9" + g.Digits(5)});
    if (g.Chance(0.4)) f.push_back({"email", fmt::format("{}.{}@example.org", s.given_name, g.Digits(3))});
    f.push_back({"address_line", address});
    f.push_back({"postcode", postcode});
    f.push_back({"first_language", g.Pick(kLanguages)});
    if (g.Chance(0.2)) f.push_back({"nationality", g.Pick(kNationalities)});
    f.push_back({"offence", std::string(case_type)});
    f.push_back({"narrative", fmt::format("Synthetic {} about a {} report (no real person).",
                                          kind, case_type)});
    if (case_type == "domestic-abuse") {
      f.push_back({"dash_risk", g.Chance(0.3) ? "high" : "medium"});
      f.push_back({"next_of_kin", "partner (recorded)"});
    }
    if (kind == "victim-statement" && g.Chance(0.3)) f.push_back({"injuries", "minor injuries recorded"});
  }
  if (closed) f.push_back({"outcome", std::string(status)});
  return f;
}

const char* RecordKind(std::string_view role) {
  if (role == "victim" || role == "complainant") return "victim-statement";
  if (role == "witness") return "witness-statement";
  return "custody-record";
}

// A planted subject's facts.
struct PlantCase {
  const char* type;
  const char* status;
  const char* role;
};
struct PlantSpec {
  Planted p;
  const char* concern;
  bool regularisation_pending, subject_initiated, consent_to_ie;
  std::vector<std::string> flags;
  std::vector<std::string> service_roles;
  std::vector<PlantCase> cases;
  // X1: the recipient she named and what she chose, recorded by the force.
  std::optional<store::ApplicationChoice> application = std::nullopt;
};

const std::vector<PlantSpec>& Specs() {
  static const std::vector<PlantSpec> specs = {
      {{"DEMO-R01", "Amira", "Haddad", "1991-03-14", "row 1: DA victim, case under investigation, doubts about status"},
       "doubts-only", false, false, false, {"domestic-abuse"}, {}, {{"domestic-abuse", "under-investigation", "victim"}}},
      {{"DEMO-R02", "Kofi", "Mensah", "1985-07-02", "row 2: victim of a street assault, doubts about status"},
       "doubts-only", false, false, false, {}, {}, {{"assault", "under-investigation", "victim"}}},
      {{"DEMO-R03", "Elena", "Popescu", "1993-11-20", "row 3: DA victim, no concern about status"},
       "none", false, false, false, {"domestic-abuse"}, {}, {{"domestic-abuse", "under-investigation", "victim"}}},
      {{"DEMO-R04", "Tomasz", "Nowak", "1979-05-09", "row 4: witness to a burglary, case concluded"},
       "confirmed-record", false, false, false, {}, {}, {{"burglary", "concluded", "witness"}}},
      {{"DEMO-R05", "Maria", "Santos", "1990-01-30", "rows 5 and 13: DA victim, perpetrator charged, status record confirmed"},
       "confirmed-record", false, false, false, {"domestic-abuse"}, {}, {{"domestic-abuse", "charged", "victim"}}},
      {{"DEMO-R06", "Priya", "Singh", "1988-09-17", "row 6: DA victim, case concluded, no application"},
       "confirmed-record", false, false, false, {"domestic-abuse"}, {}, {{"domestic-abuse", "concluded", "victim"}}},
      {{"DEMO-R07", "Ioana", "Rossi", "1994-02-25", "row 7: DA victim, case concluded, DVILR application pending"},
       "confirmed-record", true, false, false, {"domestic-abuse"}, {}, {{"domestic-abuse", "concluded", "victim"}}},
      {{"DEMO-R08", "Fatima", "Begum", "1987-12-03", "row 8: DA victim asking for evidence for her own application"},
       "self-disclosed", false, true, false, {"domestic-abuse"}, {}, {{"domestic-abuse", "concluded", "victim"}},
       store::ApplicationChoice{kOrgVisas, {"identity", "incident", "case-outcome"},
                                "PC 4471, victim care officer", "2026-10-02"}},
      {{"DEMO-R09", "Nadia", "Ivanova", "1996-06-11", "row 9: charged with theft and victim in an active DA case"},
       "doubts-only", false, false, false, {"domestic-abuse"}, {},
       {{"theft", "charged", "suspect"}, {"domestic-abuse", "under-investigation", "victim"}}},
      {{"DEMO-R10", "Mei", "Nguyen", "1999-08-08", "rows 10 and 10b: possible victim of modern slavery"},
       "none", false, false, false, {"modern-slavery-referral"}, {}, {{"modern-slavery", "under-investigation", "victim"}}},
      {{"DEMO-R11", "Yusuf", "Ali", "1975-04-04", "row 11: a patient, no crime case"},
       "confirmed-record", false, false, false, {}, {"patient"}, {}},
      {{"DEMO-R12", "Hana", "Okafor", "2013-10-10", "row 12: a pupil (a child)"},
       "none", false, false, false, {"child"}, {"pupil"}, {}},
      {{"DEMO-R14", "Grace", "Osei", "1992-05-21", "row 14: DA victim the council's MARAC asks about"},
       "none", false, false, false, {"domestic-abuse"}, {}, {{"domestic-abuse", "under-investigation", "victim"}}},
      {{"DEMO-R16", "Jakub", "Kowalski", "1983-03-03", "an offender in a concluded burglary (no firewall role)"},
       "confirmed-record", false, false, false, {}, {}, {{"burglary", "concluded", "offender"}}},
  };
  return specs;
}

Status WriteSecret(const fs::path& path, std::string_view data) {
  return WriteFileAtomically(path.string(), data, 0600);
}

Result<std::string> NewToken(std::string_view org) {
  FB_ASSIGN_OR_RETURN(std::string raw, RandomBytes(24));
  std::string b64 = Base64Encode(raw);
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return "fbk_" + std::string(org.substr(0, 8)) + "_" + b64;
}

// The police force: planted subjects (one per matrix row), then the random
// population with cases and records collected in a capacity.
Status PopulatePoliceForce(const DemoOptions& o, store::Store& db, DemoSummary& summary) {
  Generator g(o.seed);
  Status st;
  int64_t case_no = 0;
  auto next_case = [&] {
    ++case_no;
    return fmt::format("EXC/{:07}/{}", case_no, 19 + (case_no % 7));
  };

  // Planted subjects first, so their references and facts are stable.
  st = db.Bulk([&]() -> Status {
    for (const PlantSpec& p : Specs()) {
      Subject s;
      s.reference = p.p.reference;
      s.given_name = p.p.given_name;
      s.family_name = p.p.family_name;
      s.date_of_birth = p.p.date_of_birth;
      s.concern = p.concern;
      s.regularisation_pending = p.regularisation_pending;
      s.subject_initiated = p.subject_initiated;
      s.consent_to_ie = p.consent_to_ie;
      s.flags = p.flags;
      s.service_roles = p.service_roles;
      s.application = p.application;
      FB_ASSIGN_OR_RETURN(s.id, db.AddSubject(s));
      ++summary.subjects;
      for (const PlantCase& c : p.cases) {
        std::string id = next_case();
        FB_RETURN_IF_ERROR(db.PutCase({id, c.type, c.status, {}}));
        ++summary.cases;
        FB_RETURN_IF_ERROR(db.AddParticipant(id, s.id, c.role));
        Record r;
        r.subject_id = s.id;
        r.kind = RecordKind(c.role);
        r.collected_as = c.role;
        r.case_id = id;
        r.fields = MakeFields(g, s, r.kind, c.type, c.status);
        if (std::string_view(c.type) == "modern-slavery") r.fields.push_back({"nrm_status", "referral pending"});
        FB_RETURN_IF_ERROR(db.AddRecord(r));
        ++summary.records;
      }
      for (const std::string& role : p.service_roles) {
        Record r;
        r.subject_id = s.id;
        r.kind = role == "patient" ? "patient-registration" : "pupil-registration";
        r.collected_as = role;
        r.fields = {{"given_name", s.given_name}, {"family_name", s.family_name},
                    {"date_of_birth", s.date_of_birth}, {"address_line", "12 Orchard Close, Ipswich"},
                    {"postcode", "IP4 2AB"}, {"phone", "07700 900123"}};
        FB_RETURN_IF_ERROR(db.AddRecord(r));
        ++summary.records;
      }
    }
    return Ok();
  });
  FB_RETURN_IF_ERROR(st);

  // The random population, in batches of 10,000 subjects; about 0.6 cases
  // per subject, each with a victim and often a suspect and a witness.
  const int64_t total = std::max<int64_t>(o.subjects, int64_t(Specs().size()));
  const int64_t population = total - int64_t(Specs().size());
  std::vector<int64_t> ids;
  ids.reserve(size_t(population));
  std::vector<Subject> people;
  people.reserve(size_t(population));
  const int64_t kBatch = 10000;
  for (int64_t begin = 0; begin < population; begin += kBatch) {
    int64_t end = std::min(population, begin + kBatch);
    st = db.Bulk([&]() -> Status {
      for (int64_t i = begin; i < end; ++i) {
        Subject s;
        s.reference = fmt::format("EXC-{:07}", i + 1);
        s.given_name = g.Pick(kGiven);
        s.family_name = g.Pick(kFamily);
        s.date_of_birth = g.Date(1945, 2012);
        s.concern = g.PickWeighted(kConcerns);
        s.regularisation_pending = s.concern != "none" && g.Chance(0.15);
        s.consent_to_ie = g.Chance(0.005);
        if (s.date_of_birth >= "2008") s.flags.push_back("child");
        if (g.Chance(0.04)) s.flags.push_back("vulnerable");
        FB_ASSIGN_OR_RETURN(s.id, db.AddSubject(s));
        ids.push_back(s.id);
        people.push_back(std::move(s));
      }
      // Cases for this batch.
      int64_t cases = (end - begin) * 6 / 10;
      for (int64_t k = 0; k < cases; ++k) {
        std::string id = next_case();
        const char* type = g.PickWeighted(kCaseTypes);
        const char* status = g.PickWeighted(kStatuses);
        FB_RETURN_IF_ERROR(db.PutCase({id, type, status, {}}));
        ++summary.cases;
        auto add = [&](const char* role) -> Status {
          Subject& s = people[size_t(begin) + g.Below(size_t(end - begin))];
          Status added = db.AddParticipant(id, s.id, role);
          if (!added && added.error().code() == ErrorCode::kAlreadyExists) return Ok();
          FB_RETURN_IF_ERROR(added);
          Record r;
          r.subject_id = s.id;
          r.kind = RecordKind(role);
          r.collected_as = role;
          r.case_id = id;
          r.fields = MakeFields(g, s, r.kind, type, status);
          FB_RETURN_IF_ERROR(db.AddRecord(r));
          ++summary.records;
          return Ok();
        };
        FB_RETURN_IF_ERROR(add("victim"));
        if (g.Chance(0.6)) FB_RETURN_IF_ERROR(add(g.Chance(0.7) ? "suspect" : "offender"));
        if (g.Chance(0.4)) FB_RETURN_IF_ERROR(add("witness"));
      }
      summary.subjects += end - begin;
      return Ok();
    });
    FB_RETURN_IF_ERROR(st);
    if (o.progress) o.progress(summary.subjects, total);
  }
  if (o.progress) o.progress(summary.subjects, total);
  return Ok();
}

}  // namespace

const std::vector<Planted>& PlantedSubjects(Holder h) {
  if (h != Holder::kPoliceForce) return internal::CareHolderPlanted(h);
  static const std::vector<Planted> planted = [] {
    std::vector<Planted> out;
    for (const auto& s : Specs()) out.push_back(s.p);
    return out;
  }();
  return planted;
}

std::string MetricsListenFor(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return "127.0.0.1:0";
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = 0;
  }
  return listen.substr(0, colon) + ":" + std::to_string(port == 0 || port >= 65535 ? 0 : port + 1);
}

Result<DemoSummary> CreateDemoForce(const DemoOptions& o) {
  fs::path dir = fs::absolute(o.dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return tl::make_unexpected(AlreadyExists(dir.string() + " exists and is not empty"));
  }
  for (const char* sub : {"keys", "pki/clients", "tokens"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) return tl::make_unexpected(IoError("creating " + (dir / sub).string() + ": " + ec.message()));
  }
  fs::permissions(dir / "keys", fs::perms::owner_all, ec);
  fs::permissions(dir / "tokens", fs::perms::owner_all, ec);
  DemoSummary summary;

  // Keys and the empty log.
  std::string origin = o.origin;
  if (origin.empty()) {
    origin = o.holder == Holder::kNhsTrust ? "firebreak.example/example-nhs-trust/decisions"
             : o.holder == Holder::kSchool ? "firebreak.example/example-academy/decisions"
                                           : "firebreak.example/example-constabulary/decisions";
  }
  FB_ASSIGN_OR_RETURN(ledger::NoteSigner signer, ledger::NoteSigner::Generate(origin));
  FB_RETURN_IF_ERROR(WriteSecret(dir / "keys/log.key", signer.PrivateKeyText() + "\n"));
  FB_RETURN_IF_ERROR(WriteFileAtomically((dir / "keys/log.vkey").string(), signer.VerifierKeyText() + "\n"));
  summary.log_verifier_key = signer.VerifierKeyText();
  FB_RETURN_IF_ERROR(ledger::PosixStorage::Create((dir / "log").string()));
  {
    FB_ASSIGN_OR_RETURN(auto storage, ledger::PosixStorage::Open((dir / "log").string()));
    FB_RETURN_IF_ERROR(ledger::Appender::InitLog(*storage, signer));
  }
  FB_ASSIGN_OR_RETURN(std::string pseudonym_key, RandomBytes(32));
  FB_RETURN_IF_ERROR(WriteSecret(dir / "keys/pseudonym.key", HexEncode(pseudonym_key) + "\n"));
  FB_ASSIGN_OR_RETURN(std::string audit_key, RandomBytes(32));
  FB_RETURN_IF_ERROR(WriteSecret(dir / "keys/audit.key", HexEncode(audit_key) + "\n"));

  // The CA, the server's certificate and one client certificate and token per organisation.
  FB_ASSIGN_OR_RETURN(LocalCa ca, LocalCa::Create(o.holder == Holder::kNhsTrust ? "Example Hospitals NHS Trust Firebreak development CA"
                                                  : o.holder == Holder::kSchool ? "Example Academy Firebreak development CA"
                                                                                : "Example Constabulary Firebreak development CA"));
  FB_RETURN_IF_ERROR(WriteFileAtomically((dir / "pki/ca.pem").string(), ca.ca().cert_pem));
  FB_RETURN_IF_ERROR(WriteSecret(dir / "pki/ca.key", ca.ca().key_pem));
  FB_ASSIGN_OR_RETURN(IssuedCert server, ca.IssueServer({"localhost"}, {"127.0.0.1", "::1"}));
  FB_RETURN_IF_ERROR(WriteFileAtomically((dir / "pki/server.pem").string(), server.cert_pem));
  FB_RETURN_IF_ERROR(WriteSecret(dir / "pki/server.key", server.key_pem));

  FB_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> db,
                      o.store.empty() ? store::OpenSqliteStore((dir / "store.db").string()) : store::OpenStore(o.store));
  const std::vector<DemoOrg> police_orgs = {{
      {kOrgImmigrationEnforcement, "home-office-immigration-enforcement",
       "Home Office Immigration Enforcement (ICE team South)", "requester", ""},
      {kOrgVisas, "home-office-visas", "UK Visas and Immigration (DVILR casework)", "requester", ""},
      {kOrgNrm, "home-office-nrm-competent-authority", "NRM Single Competent Authority", "requester", ""},
      {kOrgCouncil, "local-authority", "Example County Council (MARAC)", "requester", ""},
      {kOrgNhsTrust, "nhs-trust", "Example Hospitals NHS Trust", "requester", ""},
      {kOrgRecordsSystem, "police-force", "Example Constabulary records system", "holder", ""},
      {kOrgDpo, "police-force", "Example Constabulary Data Protection Officer", "admin", ""},
      {kOrgAnalyst, "police-force", "Example Constabulary information rights analyst", "analyst", ""},
      {kOrgInspectorate, "oversight-body", "HM Inspectorate of Constabulary (inspection team)", "oversight", ""},
      {kOrgVictimService, "victim-support-service", "Example Victims' Service (safe reporting)", "intake", ""},
      {kOrgAdvocate, "victim-support-service", "Example Migrant Women's Advocacy Project", "advocate", ""},
  }};
  const std::vector<DemoOrg> orgs =
      o.holder == Holder::kPoliceForce ? police_orgs : internal::CareHolderOrgs(o.holder);
  std::vector<std::pair<std::string, std::string>> field_map;
  if (o.holder == Holder::kPoliceForce) {
    for (const auto& [field, category] : kFieldMap) field_map.emplace_back(field, category);
  } else {
    field_map = internal::CareHolderFieldMap(o.holder);
  }
  Status st = db->Bulk([&]() -> Status {
    for (DemoOrg org : orgs) {
      store::Scope scope;
      store::ParseScope(org.scope, &scope);
      FB_RETURN_IF_ERROR(db->PutOrganisation({org.id, org.type, org.name, scope}));
      FB_ASSIGN_OR_RETURN(IssuedCert cert, ca.IssueClient(org.id));
      FB_RETURN_IF_ERROR(WriteFileAtomically((dir / "pki/clients" / (org.id + ".pem")).string(), cert.cert_pem));
      FB_RETURN_IF_ERROR(WriteSecret(dir / "pki/clients" / (org.id + ".key"), cert.key_pem));
      FB_RETURN_IF_ERROR(db->AddCredential(org.id, store::CredentialKind::kCertificate, cert.fingerprint));
      FB_ASSIGN_OR_RETURN(org.token, NewToken(org.id));
      FB_RETURN_IF_ERROR(WriteSecret(dir / "tokens" / (org.id + ".token"), org.token + "\n"));
      FB_RETURN_IF_ERROR(db->AddCredential(org.id, store::CredentialKind::kToken,
                                           HexEncode(DigestBytes(Sha256(org.token)))));
      summary.orgs.push_back(org);
    }
    for (const auto& [field, category] : field_map) {
      FB_RETURN_IF_ERROR(db->SetFieldCategory(field, category));
    }
    return Ok();
  });
  FB_RETURN_IF_ERROR(st);

  if (o.holder != Holder::kPoliceForce) {
    FB_RETURN_IF_ERROR(internal::PopulateCareHolder(o.holder, *db, o.seed, o.subjects, o.progress, summary));
  } else {
    FB_RETURN_IF_ERROR(PopulatePoliceForce(o, *db, summary));
  }

  // The configuration.
  json::array packs;
  for (const auto& p : o.policy_packs) packs.push_back(json::string(p));
  json::object config{
      {"listen", o.listen},
      {"store", o.store.empty() ? std::string("store.db") : o.store},
      {"log", {{"dir", "log"}, {"key", "keys/log.key"}, {"publish_interval_ms", 500}}},
      {"pseudonym_key", "keys/pseudonym.key"},
      {"audit_key", "keys/audit.key"},
      {"tls", {{"cert", "pki/server.pem"}, {"key", "pki/server.key"}, {"client_ca", "pki/ca.pem"}}},
      // Development convenience, said so in the walk-through; never for the
      // admin scope. Off by default.
      {"bearer_tokens", true},
      {"metrics_listen", MetricsListenFor(o.listen)},
      {"policy", {{"packs", packs}, {"shadow_packs", json::array()}}},
      {"limits", {{"max_body_bytes", 65536}, {"header_timeout_ms", 10000}, {"idle_timeout_ms", 30000}}},
      {"threads", {{"io", 2}, {"workers", 64}}},
      // Transparency releases made through the console (docs/reports.md).
      {"reports_dir", "reports"},
      {"reports_yearly_budget", "1"},
  };
  summary.config_path = (dir / "firebreak.json").string();
  FB_RETURN_IF_ERROR(WriteFileAtomically(summary.config_path, json::serialize(config) + "\n"));
  return summary;
}

}  // namespace firebreak::demo
