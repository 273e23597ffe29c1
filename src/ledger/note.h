// C2SP signed-note v1.0.0 with Ed25519 (type 0x01) signatures, and
// tlog-cosignature v1.0.1 (type 0x04) witness cosignatures, through OpenSSL 3.
//
// A note is UTF-8 text ending in "\n", a blank line, then signature lines
// "— <name> <base64(keyID[4] ‖ signature)>". Key ID = SHA-256(name ‖ "\n" ‖
// type ‖ pubkey)[:4]. Verifier keys are "<name>+<hex id>+<base64(type ‖ pubkey)>";
// signer keys use Go's "PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>".
//
// Error model: a note that does not open is a `NoteError` (typed); malformed
// key text is an `Error` (kInvalidArgument).
// Thread model: signers and verifiers are immutable after construction and
// thread-safe; free functions thread-safe.
//
//   FB_ASSIGN_OR_RETURN(NoteSigner signer, NoteSigner::FromKeyText(skey));
//   FB_ASSIGN_OR_RETURN(std::string note, SignNote(text, {&signer}));
//   auto opened = OpenNote(note, {&verifier});  // tl::expected<OpenedNote, NoteError>
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "base/error.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace firebreak::ledger {

inline constexpr uint8_t kSigTypeEd25519 = 0x01;
inline constexpr uint8_t kSigTypeCosignatureV1 = 0x04;
inline constexpr std::string_view kEmDash = "\xE2\x80\x94";  // U+2014

// Why a note did not open.
enum class NoteError {
  kMalformed,         // not a well-formed signed note
  kInvalidSignature,  // a signature from a known key failed to verify
  kUnverified,        // no signature from a known key
};
std::string_view NoteErrorName(NoteError e);

// Ed25519 through OpenSSL's EVP interface. Thread-safe after construction.
class Ed25519Key {
 public:
  // A new random key.
  static Result<Ed25519Key> Generate();
  // From the 32-byte RFC 8032 private seed.
  static Result<Ed25519Key> FromSeed(std::string_view seed);

  Ed25519Key(Ed25519Key&&) noexcept;
  Ed25519Key& operator=(Ed25519Key&&) noexcept;
  ~Ed25519Key();

  const std::string& seed() const { return seed_; }
  const std::string& public_key() const { return public_key_; }
  // 64-byte signature of `message`.
  std::string Sign(std::string_view message) const;

 private:
  Ed25519Key() = default;
  EVP_PKEY* pkey_ = nullptr;
  std::string seed_;
  std::string public_key_;
};

// True iff `signature` is a valid Ed25519 signature of `message` by the
// 32-byte `public_key`.
bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature);

// key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], big-endian.
uint32_t KeyId(std::string_view name, uint8_t type, std::string_view public_key);

// True iff `name` is a valid key name: non-empty, UTF-8, no spaces, no '+'.
bool IsValidKeyName(std::string_view name);

// One signature line of a note.
struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  std::string signature;  // the bytes after the key ID
};

struct Note {
  std::string text;  // ends in "\n"
  std::vector<NoteSignature> signatures;
};

// Splits a signed note into text and signature lines without verifying.
tl::expected<Note, NoteError> ParseNote(std::string_view note);
// The note's bytes: text, blank line, signature lines.
std::string FormatNote(const Note& note);

// Signs note texts with an Ed25519 key (type 0x01).
class NoteSigner {
 public:
  static Result<NoteSigner> Generate(std::string_view name);
  // Parses "PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>".
  static Result<NoteSigner> FromKeyText(std::string_view text);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  // "PRIVATE+KEY+..." (secret) and "<name>+<hex id>+<base64>" (public).
  std::string PrivateKeyText() const;
  std::string VerifierKeyText() const;

  NoteSignature Sign(std::string_view text) const;

 private:
  NoteSigner(std::string name, Ed25519Key key);
  std::string name_;
  Ed25519Key key_;
  uint32_t key_id_;
};

// Verifies signatures of one key: an Ed25519 note key (type 0x01) or a
// witness cosignature key (type 0x04).
class NoteVerifier {
 public:
  // Parses "<name>+<hex id>+<base64(type ‖ pubkey)>"; the ID must match.
  static Result<NoteVerifier> FromKeyText(std::string_view text);
  static NoteVerifier Create(std::string_view name, uint8_t type, std::string_view public_key);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  uint8_t type() const { return type_; }
  const std::string& public_key() const { return public_key_; }
  std::string KeyText() const;

  // For type 0x04 the signature is timestamp(8, BE) ‖ Ed25519(64) over
  // "cosignature/v1\ntime <ts>\n" ‖ text.
  bool Verify(std::string_view text, std::string_view signature) const;

 private:
  std::string name_;
  uint32_t key_id_ = 0;
  uint8_t type_ = 0;
  std::string public_key_;
};

// Signs `text` (which must end in "\n") with every signer.
Result<std::string> SignNote(std::string_view text, std::span<const NoteSigner* const> signers);

struct OpenedNote {
  Note note;
  std::vector<const NoteVerifier*> verified_by;  // in signature order
};

// C2SP signed-note verification: signatures from unknown (name, id) are
// ignored; a known one that fails rejects the note (kInvalidSignature); no
// verified known signature rejects it (kUnverified).
tl::expected<OpenedNote, NoteError> OpenNote(std::string_view note,
                                             std::span<const NoteVerifier* const> verifiers);

// tlog-cosignature v1.0.1: a witness's cosignature of a checkpoint.
class CosignatureSigner {
 public:
  static Result<CosignatureSigner> Generate(std::string_view name);
  // Parses "PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>", the format
  // `PrivateKeyText` writes (the key ID is computed with type 0x04).
  static Result<CosignatureSigner> FromKeyText(std::string_view text);
  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  // The secret key text (see `FromKeyText`).
  std::string PrivateKeyText() const;
  NoteVerifier Verifier() const;
  // A signature line for `checkpoint_text` at `timestamp` (seconds since epoch).
  NoteSignature Cosign(std::string_view checkpoint_text, uint64_t timestamp) const;

 private:
  CosignatureSigner(std::string name, Ed25519Key key);
  std::string name_;
  Ed25519Key key_;
  uint32_t key_id_;
};

// The message a cosignature signs.
std::string CosignatureMessage(std::string_view checkpoint_text, uint64_t timestamp);

}  // namespace firebreak::ledger
