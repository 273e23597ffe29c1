// A local certificate authority for development and tests (OpenSSL 3, no
// network): a self-signed CA, a server certificate for loopback and client
// certificates, one per organisation, all ECDSA P-256 / SHA-256.
//
// Error model: OpenSSL failures are `Error`s (kInternal) with OpenSSL's text.
// Thread model: `LocalCa` is immutable after creation and thread-safe.
//
//   FB_ASSIGN_OR_RETURN(LocalCa ca, LocalCa::Create("Example Constabulary dev CA"));
//   FB_ASSIGN_OR_RETURN(IssuedCert server, ca.IssueServer({"localhost"}, {"127.0.0.1"}));
//   FB_ASSIGN_OR_RETURN(IssuedCert ie, ca.IssueClient("ie-ice-south"));
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace firebreak::demo {

struct IssuedCert {
  std::string cert_pem;
  std::string key_pem;      // PKCS#8, unencrypted: keep it 0600
  std::string fingerprint;  // lower-case hex SHA-256 of the certificate's DER
};

class LocalCa {
 public:
  static Result<LocalCa> Create(std::string_view common_name, int days = 825);

  // serverAuth, with the names as subjectAltName (DNS and IP entries).
  Result<IssuedCert> IssueServer(const std::vector<std::string>& dns_names,
                                 const std::vector<std::string>& ip_addresses) const;
  // clientAuth, CN = `common_name` (the organisation id).
  Result<IssuedCert> IssueClient(std::string_view common_name) const;

  const IssuedCert& ca() const { return ca_; }

 private:
  LocalCa() = default;
  Result<IssuedCert> Issue(std::string_view cn, const std::string& san, bool server) const;
  IssuedCert ca_;
  int days_ = 825;
};

// Lower-case hex SHA-256 of the DER of the PEM certificate `pem`.
Result<std::string> CertificateFingerprint(std::string_view pem);

}  // namespace firebreak::demo
