// Fills a demo's decision log with synthetic decision entries for the
// console's first-paint benchmark (docs/benchmarks.md, "## Console"):
// sealed like the gateway's (entry schema 4, the demo's audit key), spread
// over the last `--hours`, with a mix of requester types, purposes,
// outcomes, rules and obligations. Run it with the gateway stopped.
//
//   console_fill --dir DEMO --entries 1000000 [--hours 24]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/files.h"
#include "entry/entry.h"
#include "ledger/appender.h"
#include "ledger/note.h"
#include "ledger/storage.h"

using namespace firebreak;
namespace json = boost::json;

int main(int argc, char** argv) {
  std::string dir;
  long long entries = 100000, hours = 24;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--entries" && i + 1 < argc) {
      entries = std::atoll(argv[++i]);
    } else if (a == "--hours" && i + 1 < argc) {
      hours = std::atoll(argv[++i]);
    } else if (a == "--help" || a == "-h") {
      std::printf("console_fill --dir DEMO --entries N [--hours H]: appends N synthetic sealed decision entries "
                  "to a demo's log (gateway stopped)\n");
      return 0;
    } else {
      std::fprintf(stderr, "console_fill: unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (dir.empty() || entries < 1 || hours < 1) {
    std::fprintf(stderr, "console_fill: --dir is required; --entries and --hours must be positive\n");
    return 2;
  }
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "console_fill: %s\n", e.ToString().c_str());
    return 1;
  };
  auto key_text = ReadFile(dir + "/keys/log.key");
  if (!key_text) return fail(key_text.error());
  std::string k = *key_text;
  while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
  auto signer = ledger::NoteSigner::FromKeyText(k);
  if (!signer) return fail(signer.error());
  auto audit = entry::ReadAuditKey(dir + "/keys/audit.key");
  if (!audit) return fail(audit.error());
  auto storage = ledger::PosixStorage::Open(dir + "/log");
  if (!storage) return fail(storage.error());
  auto appender = ledger::Appender::Open(**storage, *signer);
  if (!appender) return fail(appender.error());

  struct Kind {
    const char* org;
    const char* org_type;
    const char* role;
    const char* purpose;
    const char* basis;
    bool permit;
    const char* rule;
    const char* obligation;
  };
  const Kind kinds[] = {
      {"ie-ice-south", "home-office-immigration-enforcement", "immigration-officer", "immigration-enforcement",
       "iaa-1999-s20", false, "A1_no_firewall_purpose_for_protected", nullptr},
      {"ie-ice-south", "home-office-immigration-enforcement", "immigration-officer", "immigration-enforcement",
       "iaa-1999-s20", true, "B4_ie_lookup_s20", "notify-dpo"},
      {"example-council", "local-authority", "social-worker", "safeguarding", "ukgdpr-6-1-e", true,
       "X2_marac_safeguarding", "minimise"},
      {"nrm-single-competent-authority", "home-office-nrm-competent-authority", "caseworker",
       "modern-slavery-identification", "msa-2015-s52", true, "X2_nrm_referral", "minimise"},
      {"example-nhs-trust", "nhs-trust", "clinician", "safeguarding", "ukgdpr-6-1-e", false,
       "A2_no_immigration_relevant_data_to_ie", nullptr},
  };
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  uint64_t last = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (long long i = 0; i < entries; ++i) {
    const Kind& kd = kinds[i % 5];
    auto rid = RandomBytes(16);
    if (!rid) return fail(rid.error());
    json::object e{{"v", entry::kVersion},
                   {"kind", "decision"},
                   {"time", now - hours * 3600 + (i * hours * 3600) / entries},
                   {"request_id", HexEncode(*rid)},
                   {"endpoint", "disclosures"},
                   {"requester", json::object{{"org", kd.org}, {"org_type", kd.org_type}, {"role", kd.role}}},
                   {"purpose", kd.purpose},
                   {"action", "disclose"},
                   {"legal_basis", kd.basis},
                   {"asked", json::array{"address", "contact"}},
                   {"policy_hash", "sha256:synthetic"},
                   {"decision", kd.permit ? "permit" : "deny"},
                   {"disclosed", kd.permit ? json::array{"contact"} : json::array{}}};
    json::object base{{"subject", HexEncode(*rid) + HexEncode(*rid)},
                      {"roles", json::array{kd.permit ? "offender" : "victim"}},
                      {"flags", json::array{}},
                      {"immigration_concern", "none"},
                      {"regularisation_pending", false},
                      {"subject_initiated", false},
                      {"consent_to_ie", false},
                      {"effective_purpose", kd.purpose},
                      {"obligations", kd.obligation ? json::array{kd.obligation} : json::array{}}};
    auto plain = entry::FitSealed(base, {}, {}, {kd.rule});
    if (!plain) return fail(plain.error());
    if (auto st = entry::SealInto(e, *audit, *plain); !st) return fail(st.error());
    auto index = (*appender)->Enqueue(entry::CanonicalJson(e));
    if (!index) return fail(index.error());
    last = *index;
  }
  if (auto st = (*appender)->WaitSequenced(last); !st) return fail(st.error());
  if (auto st = (*appender)->Close(); !st) return fail(st.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("console_fill: %lld entries appended in %.1f s; log size %llu\n", entries, secs,
              static_cast<unsigned long long>(last + 1));
  return 0;
}
