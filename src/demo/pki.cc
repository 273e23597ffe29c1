#include "demo/pki.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "base/crypto.h"
#include "base/encoding.h"

namespace firebreak::demo {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

Error SslError(std::string what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Internal(what + ": " + buf);
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, size_t(n));
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return tl::make_unexpected(SslError("writing key"));
  }
  return BioString(bio.get());
}

Result<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return tl::make_unexpected(SslError("writing cert"));
  return BioString(bio.get());
}

std::string DerFingerprint(X509* cert) {
  unsigned char* der = nullptr;
  int n = i2d_X509(cert, &der);
  if (n <= 0) return "";
  std::string out = HexEncode(DigestBytes(Sha256(
      std::string_view(reinterpret_cast<const char*>(der), size_t(n)))));
  OPENSSL_free(der);
  return out;
}

Result<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return tl::make_unexpected(SslError("generating key"));
  return key;
}

Result<X509Ptr> ParseCert(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return tl::make_unexpected(SslError("reading certificate"));
  return cert;
}

Result<PkeyPtr> ParseKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return tl::make_unexpected(SslError("reading key"));
  return key;
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return tl::make_unexpected(SslError("extension " + value));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok) return tl::make_unexpected(SslError("adding extension"));
  return Ok();
}

// A certificate for `key` named `cn`, valid for `days`, not yet signed.
Result<X509Ptr> NewCert(EVP_PKEY* key, std::string_view cn, int days) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return tl::make_unexpected(SslError("serial"));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), long(days) * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Firebreak development"), -1,
                             -1, 0);
  std::string cn_s(cn);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn_s.c_str()), -1, -1, 0);
  return cert;
}

}  // namespace

Result<LocalCa> LocalCa::Create(std::string_view common_name, int days) {
  FB_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  FB_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(key.get(), common_name, days));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  FB_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  FB_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  FB_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) {
    return tl::make_unexpected(SslError("signing CA"));
  }
  LocalCa ca;
  ca.days_ = days;
  FB_ASSIGN_OR_RETURN(ca.ca_.cert_pem, CertPem(cert.get()));
  FB_ASSIGN_OR_RETURN(ca.ca_.key_pem, KeyPem(key.get()));
  ca.ca_.fingerprint = DerFingerprint(cert.get());
  return ca;
}

Result<IssuedCert> LocalCa::Issue(std::string_view cn, const std::string& san, bool server) const {
  FB_ASSIGN_OR_RETURN(X509Ptr ca_cert, ParseCert(ca_.cert_pem));
  FB_ASSIGN_OR_RETURN(PkeyPtr ca_key, ParseKey(ca_.key_pem));
  FB_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  FB_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(key.get(), cn, days_));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  FB_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  FB_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  FB_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_ext_key_usage,
                            server ? "serverAuth" : "clientAuth"));
  FB_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid"));
  if (!san.empty()) {
    FB_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_subject_alt_name, san));
  }
  if (!X509_sign(cert.get(), ca_key.get(), EVP_sha256())) {
    return tl::make_unexpected(SslError("signing certificate"));
  }
  IssuedCert out;
  FB_ASSIGN_OR_RETURN(out.cert_pem, CertPem(cert.get()));
  FB_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key.get()));
  out.fingerprint = DerFingerprint(cert.get());
  return out;
}

Result<IssuedCert> LocalCa::IssueServer(const std::vector<std::string>& dns_names,
                                        const std::vector<std::string>& ip_addresses) const {
  std::string san;
  for (const auto& d : dns_names) san += (san.empty() ? "" : ",") + ("DNS:" + d);
  for (const auto& ip : ip_addresses) san += (san.empty() ? "" : ",") + ("IP:" + ip);
  return Issue(dns_names.empty() ? "localhost" : dns_names[0], san, true);
}

Result<IssuedCert> LocalCa::IssueClient(std::string_view common_name) const {
  return Issue(common_name, "", false);
}

Result<std::string> CertificateFingerprint(std::string_view pem) {
  FB_ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(pem));
  return DerFingerprint(cert.get());
}

}  // namespace firebreak::demo
