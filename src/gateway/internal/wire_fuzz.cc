// Fuzz target: the gateway's reader of a caller's request body (wire.h).
// Any body is read or refused with a Problem naming a status 400 or 403; a
// body that is read names the credential's organisation, never another, and
// carries no subject facts.
#include <cstdio>
#include <cstdlib>

#include "gateway/internal/wire.h"

using namespace firebreak;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  store::Organisation org{"ie-ice-south", "home-office-immigration-enforcement", "IE", store::Scope::kRequester};
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto r = gateway::internal::ParseCaller(body, org);
  if (!r) {
    if ((r.error().status != 400 && r.error().status != 403) || r.error().message.empty()) std::abort();
    return 0;
  }
  const auto& requester = r->base.at("requester").as_object();
  if (requester.at("org") != "ie-ice-south" || requester.at("org_type") != "home-office-immigration-enforcement") {
    std::fprintf(stderr, "wire_fuzz: the body changed the requester\n");
    std::abort();
  }
  if (r->base.contains("subject") || r->base.contains("record")) std::abort();
  if (r->by == gateway::internal::CallerRequest::SubjectBy::kIdentity &&
      !gateway::internal::IsDate(r->date_of_birth)) {
    std::abort();
  }
  return 0;
}
