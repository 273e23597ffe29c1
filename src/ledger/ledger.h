// Front door of `ledger`: the decision log. An append-only Merkle tree (RFC
// 9162 hashing and proofs) stored as a C2SP tlog-tiles directory of static
// files, with checkpoints signed as C2SP signed notes (Ed25519), witness
// cosignatures (tlog-cosignature) and offline receipts (tlog-proof), and a
// durable group-commit appender. Formats: ../shared/LEDGER.md and
// docs/log-format.md.
//
// Error model: infrastructure failures are `Error`s (Result<T>); an invalid
// proof, note or receipt is a typed value (`ProofError`, `NoteError`,
// `ReceiptError`), never a string.
// Thread model: pure functions are thread-safe; `Appender` is thread-safe;
// other classes say so in their headers.
//
//   PosixStorage::Create(dir);  auto storage = *PosixStorage::Open(dir);
//   Appender::InitLog(*storage, signer);
//   auto log = *Appender::Open(*storage, signer);
//   uint64_t index = *log->Add(entry_json);   // durable: data may now leave
//   log->WaitPublished(index);                // covered by a signed checkpoint
#pragma once

#include "ledger/appender.h"
#include "ledger/checkpoint.h"
#include "ledger/compact_range.h"
#include "ledger/log_reader.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "ledger/storage.h"
#include "ledger/tiles.h"
#include "ledger/verify.h"
#include "ledger/witness_protocol.h"
