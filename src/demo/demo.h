// Front door of `demo`: creates a synthetic holder — a police force, an NHS
// trust or a school (`DemoOptions::holder`) — for development,
// demonstrations and end-to-end tests. No real people: names, dates and
// addresses are drawn from a seeded generator. A police force holds
// subjects, cases and records collected in a capacity; a trust holds
// patients with a registration record and clinical episodes; a school holds
// pupils with an enrolment record and census records.
//
// A demo directory holds everything `firebreak serve` needs:
//   firebreak.json              the gateway configuration (paths relative to it)
//   store.db                    the SQLite store (subjects, cases, records, orgs)
//   log/                        the decision log (C2SP tlog-tiles), empty
//   keys/log.key, log.vkey      the log's signing key (0600) and verifier key
//   keys/pseudonym.key          the HMAC key for subject pseudonyms (0600)
//   pki/ca.pem, ca.key          the local CA
//   pki/server.pem, server.key  the gateway's certificate for localhost
//   pki/clients/<org>.pem/.key  one client certificate per organisation
//   tokens/<org>.token          one bearer token per organisation (0600)
// Besides the random population it plants one named subject per row of the
// scenario matrix (domain.md §8.6), references DEMO-R01 ... (see `Planted`);
// a trust plants DEMO-P.., a school DEMO-S.. (rows 11 and 12 and variants).
//
// Error model: `Error`s for I/O, OpenSSL and store failures.
// Thread model: thread-compatible; call from one thread.
//
//   DemoOptions o;  o.dir = "/tmp/force";  o.subjects = 100000;
//   FB_ASSIGN_OR_RETURN(DemoSummary s, CreateDemoForce(o));
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"

namespace firebreak::demo {

// The kind of holder the demo creates.
enum class Holder : uint8_t { kPoliceForce, kNhsTrust, kSchool };
const char* HolderName(Holder h);  // "police-force", "nhs-trust", "school"
bool ParseHolder(std::string_view name, Holder* out);
// The policy pack a holder's demo configures by default, relative to the
// source tree: policies/uk/strict-firewall, policies/uk/holders/nhs-trust, …
const char* DefaultPolicyPack(Holder h);

struct DemoOptions {
  Holder holder = Holder::kPoliceForce;
  std::string dir;
  // The store to populate and name in the config: empty for `store.db` in
  // `dir`, or a "postgresql://…" URL (an empty database).
  std::string store;
  int64_t subjects = 100000;
  uint64_t seed = 20201217;
  std::vector<std::string> policy_packs;  // absolute paths; the config's policy
  std::string listen = "127.0.0.1:8443";
  std::string origin;  // the log's origin line; empty: one per holder
                       // ("firebreak.example/example-constabulary/decisions", …)
  // Called now and then with (subjects written, total).
  std::function<void(int64_t, int64_t)> progress;
};

struct DemoOrg {
  std::string id, type, name, scope;
  std::string token;  // the bearer token (also in tokens/<id>.token)
};

struct DemoSummary {
  std::string config_path;
  std::vector<DemoOrg> orgs;
  int64_t subjects = 0, cases = 0, records = 0;
  std::string log_verifier_key;
};

// The metrics listener the demo's configuration sets for `listen`: the same
// host, the next port (port 0 stays 0: chosen at start).
std::string MetricsListenFor(const std::string& listen);

// Creates the force in `options.dir`, which must not exist or be empty.
Result<DemoSummary> CreateDemoForce(const DemoOptions& options);

// The organisation ids of the demos, for tests and the walk-through.
inline constexpr char kOrgImmigrationEnforcement[] = "ie-ice-south";
inline constexpr char kOrgVisas[] = "ukvi-dvilr";
inline constexpr char kOrgNrm[] = "nrm-single-competent-authority";
inline constexpr char kOrgCouncil[] = "example-council";
inline constexpr char kOrgNhsTrust[] = "example-nhs-trust";
inline constexpr char kOrgRecordsSystem[] = "example-constabulary";
inline constexpr char kOrgDpo[] = "example-constabulary-dpo";
// The console's read-only scopes (docs/console.md): the force's analyst and
// an inspectorate.
inline constexpr char kOrgAnalyst[] = "example-constabulary-analyst";
inline constexpr char kOrgInspectorate[] = "hmicfrs-inspection";
// The safe reporting pathway (docs/reporting.md): a victims' service that
// takes reports (scope `intake`) and an advocacy organisation that may read
// a person's tracker under her mandate (scope `advocate`).
inline constexpr char kOrgVictimService[] = "example-victims-service";
inline constexpr char kOrgAdvocate[] = "example-migrant-advocacy";
// The NHS trust demo (the trust's own systems are kOrgNhsTrust).
inline constexpr char kOrgGp[] = "example-gp-surgery";
inline constexpr char kOrgAdviser[] = "southside-immigration-advice";
inline constexpr char kOrgTrustDpo[] = "example-nhs-trust-caldicott";
// The school demo.
inline constexpr char kOrgDfe[] = "dfe-collect";
inline constexpr char kOrgSchool[] = "example-academy";
inline constexpr char kOrgSchoolDpo[] = "example-academy-dpo";

// A planted subject: its reference, identity and what it illustrates.
struct Planted {
  const char* reference;
  const char* given_name;
  const char* family_name;
  const char* date_of_birth;
  const char* about;
};
const std::vector<Planted>& PlantedSubjects(Holder h = Holder::kPoliceForce);

// One step of a holder's walk-through: what it shows, who asks (an org id),
// the endpoint path ("/v1/disclosures" or "/v1/decisions") and the body.
struct WalkStep {
  std::string text;
  std::string org;
  std::string path;
  std::string body;
};
std::vector<WalkStep> WalkThrough(Holder h);

}  // namespace firebreak::demo
