// Internal to `demo`: the NHS trust and school holders (the police force is
// in demo.cc). Organisations, field maps, planted subjects and the synthetic
// population of each.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "demo/demo.h"
#include "store/store.h"

namespace firebreak::demo::internal {

// The organisations of a trust or a school demo (id, type, name, scope).
std::vector<DemoOrg> CareHolderOrgs(Holder h);

// Field name → category for a trust's or a school's records.
std::vector<std::pair<std::string, std::string>> CareHolderFieldMap(Holder h);

// The planted subjects of a trust or a school.
const std::vector<Planted>& CareHolderPlanted(Holder h);

// Writes the planted subjects and `subjects` in all (patients with a
// registration and episodes, or pupils with an enrolment and census
// records), counting into `summary`.
// REQUIRES: h is kNhsTrust or kSchool.
Status PopulateCareHolder(Holder h, store::Store& db, uint64_t seed, int64_t subjects,
                          const std::function<void(int64_t, int64_t)>& progress,
                          DemoSummary& summary);

}  // namespace firebreak::demo::internal
