#include "ledger/note.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <unordered_set>

#include "base/crypto.h"
#include "base/encoding.h"

namespace firebreak::ledger {
namespace {

constexpr size_t kMaxSignatures = 100;
constexpr std::string_view kPrivateKeyPrefix = "PRIVATE+KEY+";

[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "firebreak: OpenSSL failure in %s\n", what);
  std::abort();
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// True iff `s` is valid UTF-8 (base/encoding.h) without ASCII control
// characters (below U+0020, as c2sp.org/signed-note defines them: DEL is
// allowed) other than "\n".
bool IsNoteText(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n') return false;
  }
  return IsValidUtf8(s);
}

std::string KeyIdHex(uint32_t id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

Result<uint32_t> ParseKeyIdHex(std::string_view hex) {
  if (hex.size() != 8) return tl::make_unexpected(InvalidArgument("key ID is not 8 hex digits"));
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return tl::make_unexpected(InvalidArgument("key ID is not lowercase hex"));
    }
  }
  return static_cast<uint32_t>(std::strtoul(std::string(hex).c_str(), nullptr, 16));
}

std::string Uint32Be(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  return out;
}

uint32_t ReadUint32Be(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

// Splits "<name>+<hex id>+<base64>" (the base64 may itself contain '+').
struct ParsedKey {
  std::string name;
  uint32_t id;
  std::string key;  // decoded: type ‖ key material
};

Result<ParsedKey> ParseKeyText(std::string_view text) {
  size_t p1 = text.find('+');
  if (p1 == std::string_view::npos) {
    return tl::make_unexpected(InvalidArgument("key text has no '+' separators"));
  }
  size_t p2 = text.find('+', p1 + 1);
  if (p2 == std::string_view::npos) {
    return tl::make_unexpected(InvalidArgument("key text needs <name>+<id>+<key>"));
  }
  ParsedKey k;
  k.name = std::string(text.substr(0, p1));
  if (!IsValidKeyName(k.name)) {
    return tl::make_unexpected(InvalidArgument("key name `" + k.name + "` is not valid"));
  }
  FB_ASSIGN_OR_RETURN(k.id, ParseKeyIdHex(text.substr(p1 + 1, p2 - p1 - 1)));
  auto key = Base64Decode(text.substr(p2 + 1));
  if (!key) return tl::make_unexpected(key.error().WithContext("key text"));
  k.key = std::move(*key);
  if (k.key.empty()) return tl::make_unexpected(InvalidArgument("key text has an empty key"));
  return k;
}

}  // namespace

std::string_view NoteErrorName(NoteError e) {
  switch (e) {
    case NoteError::kMalformed: return "malformed signed note";
    case NoteError::kInvalidSignature: return "a signature from a known key does not verify";
    case NoteError::kUnverified: return "no signature from a known key";
  }
  return "unknown note error";
}

// ---- Ed25519 ----

Result<Ed25519Key> Ed25519Key::Generate() {
  FB_ASSIGN_OR_RETURN(std::string seed, RandomBytes(32));
  return FromSeed(seed);
}

Result<Ed25519Key> Ed25519Key::FromSeed(std::string_view seed) {
  if (seed.size() != 32) {
    return tl::make_unexpected(InvalidArgument("Ed25519 seed must be 32 bytes"));
  }
  Ed25519Key k;
  k.pkey_ = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(seed), seed.size());
  if (k.pkey_ == nullptr) return tl::make_unexpected(InvalidArgument("bad Ed25519 seed"));
  k.seed_ = std::string(seed);
  k.public_key_.resize(32);
  size_t len = 32;
  if (EVP_PKEY_get_raw_public_key(k.pkey_, reinterpret_cast<unsigned char*>(k.public_key_.data()),
                                  &len) != 1 ||
      len != 32) {
    DieOpenSsl("EVP_PKEY_get_raw_public_key");
  }
  return k;
}

Ed25519Key::Ed25519Key(Ed25519Key&& o) noexcept
    : pkey_(o.pkey_), seed_(std::move(o.seed_)), public_key_(std::move(o.public_key_)) {
  o.pkey_ = nullptr;
}

Ed25519Key& Ed25519Key::operator=(Ed25519Key&& o) noexcept {
  if (this != &o) {
    EVP_PKEY_free(pkey_);
    pkey_ = o.pkey_;
    o.pkey_ = nullptr;
    seed_ = std::move(o.seed_);
    public_key_ = std::move(o.public_key_);
  }
  return *this;
}

Ed25519Key::~Ed25519Key() {
  EVP_PKEY_free(pkey_);
  OPENSSL_cleanse(seed_.data(), seed_.size());
}

std::string Ed25519Key::Sign(std::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) DieOpenSsl("EVP_MD_CTX_new");
  if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey_) != 1) DieOpenSsl("DigestSignInit");
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, Bytes(message),
                     message.size()) != 1 ||
      len != 64) {
    DieOpenSsl("EVP_DigestSign");
  }
  EVP_MD_CTX_free(ctx);
  return sig;
}

bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key), 32);
  if (pkey == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) DieOpenSsl("EVP_MD_CTX_new");
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
            EVP_DigestVerify(ctx, Bytes(signature), signature.size(), Bytes(message),
                             message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok;
}

uint32_t KeyId(std::string_view name, uint8_t type, std::string_view public_key) {
  Sha256Hasher h;
  h.Begin();
  h.Update(name);
  h.Update("\n");
  char t = static_cast<char>(type);
  h.Update(std::string_view(&t, 1));
  h.Update(public_key);
  Digest d = h.Finish();
  return ReadUint32Be(DigestBytes(d));
}

bool IsValidKeyName(std::string_view name) {
  if (name.empty() || !IsNoteText(name)) return false;
  for (char c : name) {
    if (c == '+' || c == ' ' || c == '\n' || c == '\t') return false;
  }
  // Unicode spaces beyond ASCII (U+0085, U+00A0, U+2000.., U+3000) are
  // rejected by byte pattern.
  if (name.find("\xC2\x85") != std::string_view::npos ||
      name.find("\xC2\xA0") != std::string_view::npos ||
      name.find("\xE3\x80\x80") != std::string_view::npos ||
      name.find("\xE1\x9A\x80") != std::string_view::npos) {
    return false;
  }
  for (size_t i = 0; i + 2 < name.size(); ++i) {
    if (name[i] == '\xE2' && name[i + 1] == '\x80') {
      auto c = static_cast<unsigned char>(name[i + 2]);
      if (c <= 0x8a || c == 0xa8 || c == 0xa9 || c == 0xaf) return false;
    }
    if (name[i] == '\xE2' && name[i + 1] == '\x81' && name[i + 2] == '\x9F') return false;
  }
  return true;
}

// ---- Notes ----

tl::expected<Note, NoteError> ParseNote(std::string_view note) {
  if (note.empty() || note.back() != '\n' || !IsNoteText(note)) {
    return tl::make_unexpected(NoteError::kMalformed);
  }
  size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) return tl::make_unexpected(NoteError::kMalformed);
  Note out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return tl::make_unexpected(NoteError::kMalformed);
  while (!sigs.empty()) {
    size_t eol = sigs.find('\n');  // present: the note ends in "\n"
    std::string_view line = sigs.substr(0, eol);
    sigs.remove_prefix(eol + 1);
    if (out.signatures.size() >= kMaxSignatures) return tl::make_unexpected(NoteError::kMalformed);
    if (line.substr(0, kEmDash.size()) != kEmDash || line.size() < kEmDash.size() + 1 ||
        line[kEmDash.size()] != ' ') {
      return tl::make_unexpected(NoteError::kMalformed);
    }
    line.remove_prefix(kEmDash.size() + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) return tl::make_unexpected(NoteError::kMalformed);
    std::string_view name = line.substr(0, space);
    std::string_view b64 = line.substr(space + 1);
    if (!IsValidKeyName(name)) return tl::make_unexpected(NoteError::kMalformed);
    auto raw = Base64Decode(b64);
    // "the base64 encoding of 4+n bytes": a key ID and a signature that may
    // be empty (a signature from a key we do not know is ignored, whatever it holds).
    if (!raw || raw->size() < 4) return tl::make_unexpected(NoteError::kMalformed);
    NoteSignature sig;
    sig.name = std::string(name);
    sig.key_id = ReadUint32Be(*raw);
    sig.signature = raw->substr(4);
    out.signatures.push_back(std::move(sig));
  }
  return out;
}

std::string FormatNote(const Note& note) {
  std::string out = note.text;
  out += '\n';
  for (const NoteSignature& s : note.signatures) {
    out += kEmDash;
    out += ' ';
    out += s.name;
    out += ' ';
    out += Base64Encode(Uint32Be(s.key_id) + s.signature);
    out += '\n';
  }
  return out;
}

NoteSigner::NoteSigner(std::string name, Ed25519Key key)
    : name_(std::move(name)),
      key_(std::move(key)),
      key_id_(KeyId(name_, kSigTypeEd25519, key_.public_key())) {}

Result<NoteSigner> NoteSigner::Generate(std::string_view name) {
  if (!IsValidKeyName(name)) {
    return tl::make_unexpected(InvalidArgument("key name `" + std::string(name) +
                                               "` is not valid (no spaces or '+')"));
  }
  FB_ASSIGN_OR_RETURN(Ed25519Key key, Ed25519Key::Generate());
  return NoteSigner(std::string(name), std::move(key));
}

Result<NoteSigner> NoteSigner::FromKeyText(std::string_view text) {
  if (text.substr(0, kPrivateKeyPrefix.size()) != kPrivateKeyPrefix) {
    return tl::make_unexpected(InvalidArgument("signer key does not start with PRIVATE+KEY+"));
  }
  FB_ASSIGN_OR_RETURN(ParsedKey k, ParseKeyText(text.substr(kPrivateKeyPrefix.size())));
  if (k.key.size() != 33 || static_cast<uint8_t>(k.key[0]) != kSigTypeEd25519) {
    return tl::make_unexpected(InvalidArgument("signer key is not an Ed25519 (0x01) key"));
  }
  FB_ASSIGN_OR_RETURN(Ed25519Key key, Ed25519Key::FromSeed(k.key.substr(1)));
  NoteSigner s(std::move(k.name), std::move(key));
  if (s.key_id_ != k.id) {
    return tl::make_unexpected(InvalidArgument("signer key ID does not match its key"));
  }
  return s;
}

std::string NoteSigner::PrivateKeyText() const {
  return std::string(kPrivateKeyPrefix) + name_ + "+" + KeyIdHex(key_id_) + "+" +
         Base64Encode(std::string(1, static_cast<char>(kSigTypeEd25519)) + key_.seed());
}

std::string NoteSigner::VerifierKeyText() const {
  return name_ + "+" + KeyIdHex(key_id_) + "+" +
         Base64Encode(std::string(1, static_cast<char>(kSigTypeEd25519)) + key_.public_key());
}

NoteSignature NoteSigner::Sign(std::string_view text) const {
  return {name_, key_id_, key_.Sign(text)};
}

Result<NoteVerifier> NoteVerifier::FromKeyText(std::string_view text) {
  FB_ASSIGN_OR_RETURN(ParsedKey k, ParseKeyText(text));
  auto type = static_cast<uint8_t>(k.key[0]);
  if ((type != kSigTypeEd25519 && type != kSigTypeCosignatureV1) || k.key.size() != 33) {
    return tl::make_unexpected(
        InvalidArgument("verifier key is not an Ed25519 (0x01) or cosignature (0x04) key"));
  }
  NoteVerifier v = Create(k.name, type, k.key.substr(1));
  if (v.key_id_ != k.id) {
    return tl::make_unexpected(InvalidArgument("verifier key ID does not match its key"));
  }
  return v;
}

NoteVerifier NoteVerifier::Create(std::string_view name, uint8_t type,
                                  std::string_view public_key) {
  NoteVerifier v;
  v.name_ = std::string(name);
  v.type_ = type;
  v.public_key_ = std::string(public_key);
  v.key_id_ = KeyId(name, type, public_key);
  return v;
}

std::string NoteVerifier::KeyText() const {
  return name_ + "+" + KeyIdHex(key_id_) + "+" +
         Base64Encode(std::string(1, static_cast<char>(type_)) + public_key_);
}

bool NoteVerifier::Verify(std::string_view text, std::string_view signature) const {
  if (type_ == kSigTypeEd25519) return Ed25519Verify(public_key_, text, signature);
  if (type_ == kSigTypeCosignatureV1) {
    if (signature.size() != 8 + 64) return false;
    uint64_t ts = 0;
    for (int i = 0; i < 8; ++i) ts = (ts << 8) | static_cast<unsigned char>(signature[i]);
    return Ed25519Verify(public_key_, CosignatureMessage(text, ts), signature.substr(8));
  }
  return false;
}

Result<std::string> SignNote(std::string_view text, std::span<const NoteSigner* const> signers) {
  if (text.empty() || text.back() != '\n' || !IsNoteText(text) ||
      (text.size() >= 2 && text.substr(text.size() - 2) == "\n\n")) {
    return tl::make_unexpected(
        InvalidArgument("note text must be UTF-8 without control characters, end in one newline"));
  }
  Note note;
  note.text = std::string(text);
  for (const NoteSigner* s : signers) note.signatures.push_back(s->Sign(text));
  return FormatNote(note);
}

tl::expected<OpenedNote, NoteError> OpenNote(std::string_view note,
                                             std::span<const NoteVerifier* const> verifiers) {
  auto parsed = ParseNote(note);
  if (!parsed) return tl::make_unexpected(parsed.error());
  OpenedNote out;
  out.note = std::move(*parsed);
  std::unordered_set<const NoteVerifier*> seen;
  for (const NoteSignature& sig : out.note.signatures) {
    for (const NoteVerifier* v : verifiers) {
      if (v->name() != sig.name || v->key_id() != sig.key_id) continue;
      if (!v->Verify(out.note.text, sig.signature)) {
        return tl::make_unexpected(NoteError::kInvalidSignature);
      }
      if (seen.insert(v).second) out.verified_by.push_back(v);
    }
  }
  if (out.verified_by.empty()) return tl::make_unexpected(NoteError::kUnverified);
  return out;
}

std::string CosignatureMessage(std::string_view checkpoint_text, uint64_t timestamp) {
  std::string m = "cosignature/v1\ntime " + std::to_string(timestamp) + "\n";
  m += checkpoint_text;
  return m;
}

CosignatureSigner::CosignatureSigner(std::string name, Ed25519Key key)
    : name_(std::move(name)),
      key_(std::move(key)),
      key_id_(KeyId(name_, kSigTypeCosignatureV1, key_.public_key())) {}

Result<CosignatureSigner> CosignatureSigner::Generate(std::string_view name) {
  if (!IsValidKeyName(name)) {
    return tl::make_unexpected(InvalidArgument("witness name is not a valid key name"));
  }
  FB_ASSIGN_OR_RETURN(Ed25519Key key, Ed25519Key::Generate());
  return CosignatureSigner(std::string(name), std::move(key));
}

Result<CosignatureSigner> CosignatureSigner::FromKeyText(std::string_view text) {
  if (text.substr(0, kPrivateKeyPrefix.size()) != kPrivateKeyPrefix) {
    return tl::make_unexpected(InvalidArgument("witness key does not start with PRIVATE+KEY+"));
  }
  FB_ASSIGN_OR_RETURN(ParsedKey k, ParseKeyText(text.substr(kPrivateKeyPrefix.size())));
  if (k.key.size() != 33 || static_cast<uint8_t>(k.key[0]) != kSigTypeCosignatureV1) {
    return tl::make_unexpected(InvalidArgument("witness key is not a cosignature (0x04) key"));
  }
  FB_ASSIGN_OR_RETURN(Ed25519Key key, Ed25519Key::FromSeed(k.key.substr(1)));
  CosignatureSigner s(std::move(k.name), std::move(key));
  if (s.key_id_ != k.id) {
    return tl::make_unexpected(InvalidArgument("witness key ID does not match its key"));
  }
  return s;
}

std::string CosignatureSigner::PrivateKeyText() const {
  return std::string(kPrivateKeyPrefix) + name_ + "+" + KeyIdHex(key_id_) + "+" +
         Base64Encode(std::string(1, static_cast<char>(kSigTypeCosignatureV1)) + key_.seed());
}

NoteVerifier CosignatureSigner::Verifier() const {
  return NoteVerifier::Create(name_, kSigTypeCosignatureV1, key_.public_key());
}

NoteSignature CosignatureSigner::Cosign(std::string_view checkpoint_text,
                                        uint64_t timestamp) const {
  std::string sig(8, '\0');
  for (int i = 0; i < 8; ++i) sig[i] = static_cast<char>((timestamp >> (56 - 8 * i)) & 0xff);
  sig += key_.Sign(CosignatureMessage(checkpoint_text, timestamp));
  return {name_, key_id_, sig};
}

}  // namespace firebreak::ledger
