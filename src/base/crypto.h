// SHA-256, HMAC-SHA-256 and random bytes through OpenSSL 3.
//
// `Sha256Hasher` fetches the algorithm once and reuses one digest context, so
// hashing many short inputs (Merkle nodes, policy rules) avoids the per-call
// fetch of OpenSSL's one-shot `SHA256()`. Errors from OpenSSL are bugs or
// exhausted memory and abort with a message; they are never silently ignored.
//
// Thread model: `Sha256Hasher` and `HmacSha256` are thread-compatible (one per
// thread); the free functions are thread-safe.
//
//   Sha256Hasher h;
//   Digest d = h.Hash("abc");
//   std::string pseudonym = HexEncode(HmacSha256Once(key, subject_id));
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace firebreak {

using Digest = std::array<uint8_t, 32>;

std::string_view DigestBytes(const Digest& d);

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  // Hash of `data`.
  Digest Hash(std::string_view data);
  // Hash of `a ‖ b` (and of `a ‖ b ‖ c`), without concatenating first.
  Digest Hash2(std::string_view a, std::string_view b);
  Digest Hash3(std::string_view a, std::string_view b, std::string_view c);

  // Incremental use: Begin, Update any number of times, Finish.
  void Begin();
  void Update(std::string_view data);
  Digest Finish();

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// SHA-256 of `data` on a thread-local hasher.
Digest Sha256(std::string_view data);

class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  Digest Mac(std::string_view data);

 private:
  EVP_MAC_CTX* ctx_;
};

Digest HmacSha256Once(std::string_view key, std::string_view data);

// `n` bytes from OpenSSL's CSPRNG.
Result<std::string> RandomBytes(size_t n);

// AES-256-GCM authenticated encryption. `Seal` returns nonce(12) ‖
// ciphertext ‖ tag(16) with a fresh random nonce; `Open` reverses it and
// fails (kDataLoss) if anything was altered, the key is wrong or `aad`
// differs. REQUIRES: `key` is 32 bytes (kInvalidArgument otherwise).
Result<std::string> SealAes256Gcm(std::string_view key, std::string_view plaintext,
                                  std::string_view aad);
Result<std::string> OpenAes256Gcm(std::string_view key, std::string_view sealed,
                                  std::string_view aad);

// Compares in time independent of where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace firebreak
