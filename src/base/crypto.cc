#include "base/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <cstdio>
#include <memory>
#include <string>
#include <cstdlib>

namespace firebreak {
namespace {

[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "firebreak: OpenSSL failure in %s\n", what);
  std::abort();
}

void Check(int ok, const char* what) {
  if (ok != 1) DieOpenSsl(what);
}

}  // namespace

std::string_view DigestBytes(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

Sha256Hasher::Sha256Hasher() {
  md_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  ctx_ = EVP_MD_CTX_new();
  if (md_ == nullptr || ctx_ == nullptr) DieOpenSsl("Sha256Hasher");
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

void Sha256Hasher::Begin() { Check(EVP_DigestInit_ex2(ctx_, md_, nullptr), "DigestInit"); }

void Sha256Hasher::Update(std::string_view data) {
  Check(EVP_DigestUpdate(ctx_, data.data(), data.size()), "DigestUpdate");
}

Digest Sha256Hasher::Finish() {
  Digest d;
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(ctx_, d.data(), &len), "DigestFinal");
  return d;
}

Digest Sha256Hasher::Hash(std::string_view data) {
  Begin();
  Update(data);
  return Finish();
}

Digest Sha256Hasher::Hash2(std::string_view a, std::string_view b) {
  Begin();
  Update(a);
  Update(b);
  return Finish();
}

Digest Sha256Hasher::Hash3(std::string_view a, std::string_view b, std::string_view c) {
  Begin();
  Update(a);
  Update(b);
  Update(c);
  return Finish();
}

Digest Sha256(std::string_view data) {
  thread_local Sha256Hasher hasher;
  return hasher.Hash(data);
}

HmacSha256::HmacSha256(std::string_view key) {
  // Fetched once: a fetch takes OpenSSL's global lock and searches its
  // providers by name, as costly as the MAC of a short message.
  static EVP_MAC* const mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) DieOpenSsl("EVP_MAC_fetch");
    return m;
  }();
  ctx_ = EVP_MAC_CTX_new(mac);
  if (ctx_ == nullptr) DieOpenSsl("EVP_MAC_CTX_new");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  Check(EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params),
        "EVP_MAC_init");
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(ctx_); }

Digest HmacSha256::Mac(std::string_view data) {
  // Re-initialising with a null key keeps the key and resets the state.
  Check(EVP_MAC_init(ctx_, nullptr, 0, nullptr), "EVP_MAC_init");
  Check(EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()),
        "EVP_MAC_update");
  Digest d;
  size_t len = 0;
  Check(EVP_MAC_final(ctx_, d.data(), &len, d.size()), "EVP_MAC_final");
  return d;
}

Digest HmacSha256Once(std::string_view key, std::string_view data) {
  // Callers use a few keys for many messages (a decision's entry seal and
  // its subject's pseudonym take turns): keep this thread's last few keyed
  // contexts, the most recently used first.
  struct Keyed {
    std::string key;
    std::unique_ptr<HmacSha256> mac;
    ~Keyed() { OPENSSL_cleanse(key.data(), key.size()); }
  };
  static constexpr size_t kKept = 4;
  thread_local std::array<Keyed, kKept> kept;
  size_t i = 0;
  while (i < kKept && kept[i].mac && kept[i].key != key) ++i;
  if (i == kKept || !kept[i].mac) {
    i = std::min(i, kKept - 1);  // the least recently used goes
    kept[i].mac = std::make_unique<HmacSha256>(key);
    OPENSSL_cleanse(kept[i].key.data(), kept[i].key.size());
    kept[i].key.assign(key);
  }
  for (; i > 0; --i) {  // to the front, by swaps (no copy of a key is left behind)
    kept[i].key.swap(kept[i - 1].key);
    kept[i].mac.swap(kept[i - 1].mac);
  }
  return kept[0].mac->Mac(data);
}

namespace {

// Bumped in a forked child, so that no buffered random bytes are used in
// both processes.
std::atomic<uint64_t> fork_generation{0};

// A thread's random bytes, drawn from OpenSSL's generator 512 at a time:
// one RAND_bytes call (which locks and goes through the provider) costs as
// much as a few hundred bytes, and a decision takes two small draws (its
// request id and its seal's nonce). Bytes are erased as they are handed out.
struct RandomBuffer {
  unsigned char bytes[512];
  size_t left = 0;
  uint64_t generation = 0;
  ~RandomBuffer() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

bool FillRandom(unsigned char* dst, size_t n) {
  if (n > 64) return RAND_bytes(dst, static_cast<int>(n)) == 1;
  static std::once_flag at_fork;
  std::call_once(at_fork, [] { pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); }); });
  thread_local RandomBuffer b;
  uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (b.generation != generation) {
    OPENSSL_cleanse(b.bytes, sizeof b.bytes);
    b.left = 0;
    b.generation = generation;
  }
  if (b.left < n) {
    if (RAND_bytes(b.bytes, static_cast<int>(sizeof b.bytes)) != 1) {
      b.left = 0;
      return false;
    }
    b.left = sizeof b.bytes;
  }
  unsigned char* from = b.bytes + sizeof b.bytes - b.left;
  std::memcpy(dst, from, n);
  OPENSSL_cleanse(from, n);
  b.left -= n;
  return true;
}

}  // namespace

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (!FillRandom(reinterpret_cast<unsigned char*>(out.data()), n)) {
    return tl::make_unexpected(Unavailable("the system random number generator failed"));
  }
  return out;
}

namespace {

constexpr size_t kGcmNonce = 12;
constexpr size_t kGcmTag = 16;

// This thread's cipher context, reset for each use, and AES-256-GCM fetched
// once (both are costly to create per message).
struct CipherCtx {
  CipherCtx() {
    thread_local struct Owned {
      EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
      ~Owned() { EVP_CIPHER_CTX_free(ctx); }
    } owned;
    ctx = owned.ctx;
    if (ctx) EVP_CIPHER_CTX_reset(ctx);
  }
  ~CipherCtx() {
    if (ctx) EVP_CIPHER_CTX_reset(ctx);  // clears the key schedule
  }
  EVP_CIPHER_CTX* ctx;
};

const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (c == nullptr) DieOpenSsl("EVP_CIPHER_fetch");
    return c;
  }();
  return cipher;
}

const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

Result<std::string> SealAes256Gcm(std::string_view key, std::string_view plaintext,
                                  std::string_view aad) {
  if (key.size() != 32) return tl::make_unexpected(InvalidArgument("AES-256-GCM needs a 32-byte key"));
  FB_ASSIGN_OR_RETURN(std::string nonce, RandomBytes(kGcmNonce));
  CipherCtx c;
  if (!c.ctx) DieOpenSsl("EVP_CIPHER_CTX_new");
  std::string out = nonce;
  out.resize(kGcmNonce + plaintext.size() + kGcmTag);
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  Check(EVP_EncryptInit_ex(c.ctx, Aes256Gcm(), nullptr, U(key), U(nonce)), "EncryptInit");
  Check(EVP_EncryptUpdate(c.ctx, nullptr, &len, U(aad), int(aad.size())), "EncryptUpdate(aad)");
  Check(EVP_EncryptUpdate(c.ctx, dst + kGcmNonce, &len, U(plaintext), int(plaintext.size())),
        "EncryptUpdate");
  int tail = 0;
  Check(EVP_EncryptFinal_ex(c.ctx, dst + kGcmNonce + len, &tail), "EncryptFinal");
  Check(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, int(kGcmTag),
                            dst + kGcmNonce + plaintext.size()),
        "GET_TAG");
  return out;
}

Result<std::string> OpenAes256Gcm(std::string_view key, std::string_view sealed,
                                  std::string_view aad) {
  if (key.size() != 32) return tl::make_unexpected(InvalidArgument("AES-256-GCM needs a 32-byte key"));
  if (sealed.size() < kGcmNonce + kGcmTag) {
    return tl::make_unexpected(DataLoss("sealed data is shorter than its nonce and tag"));
  }
  size_t n = sealed.size() - kGcmNonce - kGcmTag;
  CipherCtx c;
  if (!c.ctx) DieOpenSsl("EVP_CIPHER_CTX_new");
  std::string out(n, '\0');
  int len = 0;
  Check(EVP_DecryptInit_ex(c.ctx, Aes256Gcm(), nullptr, U(key), U(sealed)), "DecryptInit");
  Check(EVP_DecryptUpdate(c.ctx, nullptr, &len, U(aad), int(aad.size())), "DecryptUpdate(aad)");
  Check(EVP_DecryptUpdate(c.ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                          U(sealed.substr(kGcmNonce)), int(n)),
        "DecryptUpdate");
  std::string tag(sealed.substr(kGcmNonce + n));
  Check(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, int(kGcmTag), tag.data()), "SET_TAG");
  int tail = 0;
  if (EVP_DecryptFinal_ex(c.ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &tail) != 1) {
    return tl::make_unexpected(DataLoss("sealed data does not authenticate (altered, or another key)"));
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace firebreak
