// `firebreak fleet`: the national view. Reads a list of holders' public
// logs, follows each one into a verified mirror (the monitor: every hash
// re-derived, the checkpoint's signature checked), and shows for each holder
// the policy hash in force over time — from the policy entries (each load,
// reload and refused reload) and from the clear part of the decision
// entries (each names the policy that decided it) — and whether the pack in
// force pins the national firewall layer by content hash (policy entries
// list `pins_checked`: the required firewall rules the gateway found
// unchanged), and when that changed. A holder whose log does not verify, that
// cannot be reached, that stops pinning, or that decides under a policy no
// accepted policy entry put in force stands out.
//
// Nothing here needs a credential or the audit key: it reads only the clear
// part of the public log.
//
// The fleet file (JSON):
//   {"national_pins": ["A1_no_firewall_purpose_for_protected", ...],  // optional
//    "holders": [{"name": "example-constabulary",
//                 "log": "https://gateway.example:8443/log/",   // or a local copy
//                 "vkey": "<origin>+<id>+<key>",
//                 "ca_file": "ca.pem"}]}                        // optional
// Without `national_pins`, a policy pins the national layer when it lists
// any checked pin.
//
// Error model: `Error`s for a bad fleet file (the field named) or a state
// directory that cannot be written; a holder that cannot be reached or
// verified is a value (it stands out), never an error for the fleet.
// Thread model: single-threaded; holders are followed one after another.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"

namespace firebreak::oversight {

struct FleetHolder {
  std::string name, log, vkey, ca_file;
};

struct FleetFile {
  std::vector<std::string> national_pins;
  std::vector<FleetHolder> holders;
};
Result<FleetFile> ParseFleetFile(std::string_view text);

struct PolicyEvent {
  uint64_t index = 0;
  int64_t time = 0;
  std::string trigger;
  bool accepted = false;
  std::string policy_hash;
  std::vector<std::string> pins;
  bool pinned = false;  // accepted and pins the national layer
};

// A run of consecutive decisions naming one policy hash.
struct PolicyRun {
  std::string policy_hash;
  uint64_t first_index = 0, last_index = 0;
  int64_t first_time = 0, last_time = 0;
  uint64_t decisions = 0;
};

struct HolderView {
  std::string name, log;
  bool reachable = false, verified = false;
  std::string problem;  // why it was not reachable or did not verify
  uint64_t size = 0;
  std::vector<PolicyEvent> policy_events;
  std::vector<PolicyRun> runs;
  std::string policy_in_force;
  bool pinned_now = false;
  std::optional<int64_t> pinned_since;       // when the current pinning state began
  std::optional<int64_t> stopped_pinning_at; // the last time an accepted policy dropped the pins
  std::vector<std::string> stands_out;       // plain sentences; empty when all is well
  boost::json::object ToJson() const;
};

struct FleetOptions {
  FleetFile fleet;
  std::string state_dir;  // one verified mirror per holder, STATE/<name>
};

Result<std::vector<HolderView>> RunFleet(const FleetOptions& options);
// A table for the terminal: one block per holder, those that stand out first
// marked `!!`.
std::string FleetSummary(const std::vector<HolderView>& views);

}  // namespace firebreak::oversight
