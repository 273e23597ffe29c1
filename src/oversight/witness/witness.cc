// tlog-witness v1.0.0 "add-checkpoint" (c2sp.org/tlog-witness), the checks
// in the order the spec gives them, then the durable compare-and-swap.
#include "oversight/witness/witness.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>

#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/witness_protocol.h"
#include "oversight/witness/internal/state.h"

namespace firebreak::oversight::witness {

using internal::Change;
using internal::CommitOutcome;
using internal::LogState;

namespace {

Answer Text(int status, std::string body) {
  if (!body.empty() && body.back() != '\n') body += '\n';
  return Answer{status, "text/plain; charset=utf-8", std::move(body)};
}

Answer Conflict(uint64_t stored_size) {
  return Answer{409, std::string(ledger::kTlogSizeContentType), ledger::FormatTlogSize(stored_size)};
}

}  // namespace

// One watched log: its keys, its state (a copy of the database row) and its
// rate limiter. `mu` is held from the check of the stored size to the end of
// the durable update, so the two are atomic.
struct LogSlot {
  WatchedLog log;
  std::vector<const ledger::NoteVerifier*> keys;
  std::mutex mu;
  std::optional<LogState> state;  // guarded by mu; nullopt: never cosigned
  uint64_t evidence = 0;  // guarded by mu: pieces kept for this log
  // Token bucket, guarded by mu.
  double tokens = 0;
  std::chrono::steady_clock::time_point refilled{};
};

struct Witness::Impl {
  ledger::CosignatureSigner signer;
  Options options;
  std::unique_ptr<internal::StateStore> store;
  std::unordered_map<std::string, std::unique_ptr<LogSlot>> logs;

  explicit Impl(ledger::CosignatureSigner s) : signer(std::move(s)) {}

  // Keeps `body` as evidence that the log `origin` misbehaved.
  // REQUIRES: slot.mu held.
  void KeepEvidence(LogSlot& slot, int status, const std::string& reason, std::string_view body) {
    if (slot.evidence >= options.max_evidence_per_log) {
      std::fprintf(stderr, "firebreak witness: EVIDENCE log %s: %s (not kept: %llu pieces already)\n",
                   slot.log.origin.c_str(), reason.c_str(), (unsigned long long)slot.evidence);
      return;
    }
    internal::Evidence e;
    e.received = int64_t(options.clock());
    e.origin = slot.log.origin;
    e.status = status;
    e.reason = reason;
    e.request = std::string(body);
    e.stored = slot.state ? slot.state->cosigned : "";
    Change c;
    c.origin = slot.log.origin;
    c.evidence = std::move(e);
    auto r = store->Commit(std::move(c));
    if (r) ++slot.evidence;
    std::fprintf(stderr, "firebreak witness: EVIDENCE log %s: %s%s\n", slot.log.origin.c_str(),
                 reason.c_str(), r ? "" : (" (not kept: " + r.error().message() + ")").c_str());
  }

  // Takes one token of `slot`'s bucket. REQUIRES: slot.mu held.
  bool TakeToken(LogSlot& slot) {
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - slot.refilled).count();
    slot.tokens = std::min(options.burst_per_log, slot.tokens + elapsed * options.rate_per_log);
    slot.refilled = now;
    if (slot.tokens < 1) return false;
    slot.tokens -= 1;
    return true;
  }
};

Witness::Witness(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Witness::~Witness() = default;

Result<std::unique_ptr<Witness>> Witness::Open(ledger::CosignatureSigner signer, Options options) {
  auto impl = std::make_unique<Impl>(std::move(signer));
  if (!options.clock) {
    options.clock = [] {
      return uint64_t(std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
    };
  }
  if (options.rate_per_log <= 0 || options.burst_per_log < 1) {
    return tl::make_unexpected(InvalidArgument("the per-log rate must be > 0 and its burst >= 1"));
  }
  impl->options = std::move(options);
  FB_ASSIGN_OR_RETURN(impl->store, internal::StateStore::Open(impl->options.state));
  for (const WatchedLog& log : impl->options.logs) {
    if (impl->logs.count(log.origin)) {
      return tl::make_unexpected(InvalidArgument(fmt::format("log `{}` is listed twice", log.origin)));
    }
    if (log.keys.empty()) {
      return tl::make_unexpected(InvalidArgument(fmt::format("log `{}` has no key", log.origin)));
    }
    auto slot = std::make_unique<LogSlot>();
    slot->log = log;
    for (const auto& k : slot->log.keys) {
      if (k.type() != ledger::kSigTypeEd25519) {
        return tl::make_unexpected(InvalidArgument(
            fmt::format("log `{}`: key `{}` is not an Ed25519 note key (type 0x01)", log.origin, k.name())));
      }
      if (k.public_key() == impl->signer.Verifier().public_key()) {
        return tl::make_unexpected(InvalidArgument(fmt::format(
            "log `{}`: its key is the witness's own; a witness must have a key of its own", log.origin)));
      }
      slot->keys.push_back(&k);
    }
    FB_ASSIGN_OR_RETURN(slot->state, impl->store->Load(log.origin));
    FB_ASSIGN_OR_RETURN(slot->evidence, impl->store->CountEvidence(log.origin));
    slot->tokens = impl->options.burst_per_log;
    slot->refilled = std::chrono::steady_clock::now();
    impl->logs.emplace(log.origin, std::move(slot));
  }
  return std::unique_ptr<Witness>(new Witness(std::move(impl)));
}

ledger::NoteVerifier Witness::Verifier() const { return impl_->signer.Verifier(); }

Answer Witness::AddCheckpoint(std::string_view body) {
  Impl& m = *impl_;
  // The body: "old N", the proof, an empty line, the signed checkpoint.
  auto req = ledger::ParseAddCheckpoint(body);
  if (!req) return Text(400, req.error().message());
  auto note = ledger::ParseNote(req->checkpoint);
  if (!note) return Text(400, "the checkpoint is not a signed note");
  auto cp = ledger::ParseCheckpoint(note->text);
  if (!cp) return Text(400, "the checkpoint does not parse: " + cp.error().message());

  // "If the checkpoint origin is unknown, the witness MUST respond with 404."
  auto it = m.logs.find(cp->origin);
  if (it == m.logs.end()) return Text(404, "this witness does not watch the log `" + cp->origin + "`");
  LogSlot& slot = *it->second;

  // "If none of the signatures verify against a trusted public key → 403";
  // signatures from unknown keys are ignored, a bad one from a known key fails.
  auto opened = ledger::OpenNote(req->checkpoint, slot.keys);
  if (!opened) {
    return Text(403, fmt::format("the checkpoint has no valid signature from a key trusted for `{}` ({})",
                                 cp->origin, ledger::NoteErrorName(opened.error())));
  }
  // "The old size MUST be equal to or lower than the checkpoint size" → 400.
  if (req->old_size > cp->size) {
    return Text(400, fmt::format("old size {} is larger than the checkpoint's size {}", req->old_size,
                                 cp->size));
  }

  std::lock_guard lock(slot.mu);
  if (!m.TakeToken(slot)) {
    Answer a = Text(429, fmt::format("more than {} requests per second for `{}`", m.options.rate_per_log,
                                     cp->origin));
    return a;
  }
  // "The witness MUST check that the old size matches the size of the latest
  // checkpoint it cosigned ... (or zero)" → 409 with that size.
  const uint64_t stored_size = slot.state ? slot.state->size : 0;
  if (req->old_size != stored_size) return Conflict(stored_size);

  // The consistency proof (RFC 6962 §2.1.2 / RFC 9162 §2.1.4.2).
  if (req->old_size == 0) {
    // "The proof MUST be empty if the old size is zero."
    if (!req->proof.empty()) {
      m.KeepEvidence(slot, 422, "old size 0 with a non-empty consistency proof", body);
      return Text(422, "the consistency proof must be empty when the old size is 0");
    }
    if (cp->size == 0 && cp->root != ledger::EmptyRoot()) {
      m.KeepEvidence(slot, 422, "a checkpoint of size 0 whose root is not the empty tree's", body);
      return Text(422, "a checkpoint of size 0 must carry the empty tree's root");
    }
  } else if (req->old_size == cp->size) {
    if (!req->proof.empty()) {
      m.KeepEvidence(slot, 422, "equal sizes with a non-empty consistency proof", body);
      return Text(422, "the consistency proof must be empty when the old size equals the size");
    }
    // "If the old size matches the checkpoint size, the witness MUST check
    // that the root hashes are also identical ... → 409."
    if (cp->root != slot.state->root) {
      m.KeepEvidence(slot, 409,
                     fmt::format("a second root for size {}: a fork (split view)", cp->size), body);
      return Conflict(stored_size);
    }
  } else {
    auto ok = ledger::VerifyConsistency(req->old_size, cp->size, slot.state->root, cp->root, req->proof);
    if (!ok) {
      m.KeepEvidence(slot, 422,
                     fmt::format("the consistency proof from size {} to {} does not verify ({})",
                                 req->old_size, cp->size, ledger::ProofErrorName(ok.error())),
                     body);
      return Text(422, fmt::format("the consistency proof from size {} to {} does not verify ({})",
                                   req->old_size, cp->size, ledger::ProofErrorName(ok.error())));
    }
  }

  // Cosign the whole tree with a fresh, non-zero timestamp, persist, answer.
  uint64_t ts = std::max<uint64_t>(1, m.options.clock());
  ledger::NoteSignature cosig = m.signer.Cosign(note->text, ts);
  auto cosigned = ledger::AddSignatures(req->checkpoint, {cosig});
  if (!cosigned) return Text(400, "the checkpoint is not a signed note");
  Change c;
  c.origin = cp->origin;
  c.expect_unset = !slot.state.has_value();
  if (slot.state) {
    c.expect_size = slot.state->size;
    c.expect_root = slot.state->root;
  }
  c.next = LogState{cp->size, cp->root, std::move(*cosigned)};
  LogState next = c.next;
  auto committed = m.store->Commit(std::move(c));
  if (!committed) {
    std::fprintf(stderr, "firebreak witness: %s\n", committed.error().message().c_str());
    return Text(500, "the witness could not record its state; nothing was cosigned");
  }
  if (*committed == CommitOutcome::kConflict) {
    // Only another process could have changed the row (the database is
    // locked exclusively, so this is not expected): re-read and refuse.
    auto fresh = m.store->Load(cp->origin);
    if (fresh) slot.state = *fresh;
    return Conflict(slot.state ? slot.state->size : 0);
  }
  slot.state = std::move(next);
  return Answer{200, "text/plain; charset=utf-8", ledger::FormatCosignatures({cosig})};
}

Result<std::optional<std::string>> Witness::Latest(const std::string& origin) {
  auto it = impl_->logs.find(origin);
  if (it == impl_->logs.end()) return std::optional<std::string>();
  std::lock_guard lock(it->second->mu);
  if (!it->second->state) return std::optional<std::string>();
  return std::optional<std::string>(it->second->state->cosigned);
}

std::string Witness::About() const {
  std::string out = "Firebreak witness (C2SP tlog-witness v1.0.0, cosignature/v1)\n\n";
  out += "verifier key: " + impl_->signer.Verifier().KeyText() + "\n\nlogs watched:\n";
  std::vector<const LogSlot*> slots;
  for (const auto& [origin, slot] : impl_->logs) slots.push_back(slot.get());
  std::sort(slots.begin(), slots.end(),
            [](const LogSlot* a, const LogSlot* b) { return a->log.origin < b->log.origin; });
  for (const LogSlot* s : slots) {
    out += "  " + s->log.origin + "\n";
    for (const auto& k : s->log.keys) out += "    key " + k.KeyText() + "\n";
  }
  return out;
}

Result<std::vector<Witness::Evidence>> Witness::ListEvidence(size_t limit) {
  FB_ASSIGN_OR_RETURN(auto rows, impl_->store->ListEvidence(limit));
  std::vector<Evidence> out;
  for (auto& r : rows) {
    out.push_back(Evidence{r.received, std::move(r.origin), r.status, std::move(r.reason),
                           std::move(r.request), std::move(r.stored)});
  }
  return out;
}

}  // namespace firebreak::oversight::witness
