// `firebreak log …`: create, append to, prove from and verify a decision log.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/files.h"
#include "cli/commands.h"
#include "entry/entry.h"
#include "ledger/log_reader.h"
#include "ledger/ledger.h"
#include "ledger/pg_storage.h"

namespace firebreak::cli {
namespace {

namespace fs = std::filesystem;
using ledger::Hash;

struct LogFlags {
  std::string dir;
  std::string origin;
  std::string key;
  std::string file;
  std::string vkey;
  std::string old_checkpoint;
  uint64_t index = 0;
  uint64_t old_size = 0;
  uint64_t size = 0;  // 0: the checkpoint's size
  std::vector<std::string> audit_keys;
  uint64_t count = 0;  // 0: to the end
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "firebreak log: %s\n", message.c_str());
  return code;
}

std::string B64(const Hash& h) { return Base64Encode(DigestBytes(h)); }

std::string JsonHashes(const std::vector<Hash>& hashes) {
  std::string out = "[";
  for (size_t i = 0; i < hashes.size(); ++i) {
    out += i ? ",\n    \"" : "\n    \"";
    out += B64(hashes[i]) + "\"";
  }
  out += hashes.empty() ? "]" : "\n  ]";
  return out;
}

Result<ledger::NoteSigner> LoadSigner(const std::string& path) {
  FB_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto signer = ledger::NoteSigner::FromKeyText(text);
  if (!signer) return tl::make_unexpected(signer.error().WithContext("key file " + path));
  return signer;
}

// The unverified checkpoint of the log in `dir` (prove/consistency serve the
// log's own files; `verify` is what checks signatures).
Result<ledger::Checkpoint> ReadCheckpoint(const std::string& dir) {
  FB_ASSIGN_OR_RETURN(std::string note, ReadFile(dir + "/checkpoint"));
  auto parsed = ledger::ParseNote(note);
  if (!parsed) {
    return tl::make_unexpected(DataLoss(dir + "/checkpoint is not a signed note: " +
                                        std::string(ledger::NoteErrorName(parsed.error()))));
  }
  return ledger::ParseCheckpoint(parsed->text);
}

int RunInit(const LogFlags& f) {
  if (!ledger::IsValidKeyName(f.origin)) {
    return Fail(kExitUsage, "--origin `" + f.origin +
                                "` is not a valid log name (no spaces or '+'; e.g. "
                                "firebreak.example/suffolk-police/decisions)");
  }
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(f.dir, ec);
  fs::path key = fs::weakly_canonical(f.key, ec);
  auto rel = key.lexically_relative(dir);
  if (!rel.empty() && *rel.begin() != "..") {
    return Fail(kExitUsage, "--key " + f.key + " is inside the log directory " + f.dir +
                                ", which is published: keep the private key outside it");
  }
  if (fs::exists(f.key)) return Fail(kExitUsage, "--key " + f.key + " exists; not overwriting");
  auto signer = ledger::NoteSigner::Generate(f.origin);
  if (!signer) return Fail(kExitUsage, signer.error().message());
  if (auto st = ledger::PosixStorage::Create(f.dir); !st) return Fail(kExitUsage, st.error().message());
  if (auto st = WriteFileAtomically(f.key, signer->PrivateKeyText() + "\n", 0600); !st) {
    return Fail(kExitUsage, st.error().message());
  }
  ::chmod(f.key.c_str(), 0600);
  auto storage = ledger::PosixStorage::Open(f.dir);
  if (!storage) return Fail(kExitUsage, storage.error().message());
  if (auto st = ledger::Appender::InitLog(**storage, *signer); !st) {
    return Fail(kExitUsage, st.error().message());
  }
  std::printf("%s\n", signer->VerifierKeyText().c_str());
  return kExitOk;
}

int RunAppend(const LogFlags& f) {
  auto signer = LoadSigner(f.key);
  if (!signer) return Fail(kExitUsage, signer.error().message());
  auto storage = ledger::PosixStorage::Open(f.dir);
  if (!storage) return Fail(kExitUsage, storage.error().message());
  auto log = ledger::Appender::Open(**storage, *signer);
  if (!log) return Fail(kExitUsage, "opening the log: " + log.error().message());
  std::ifstream file;
  std::istream* in = &std::cin;
  if (!f.file.empty()) {
    file.open(f.file);
    if (!file) return Fail(kExitUsage, "cannot open --file " + f.file);
    in = &file;
  }
  std::string line;
  std::vector<uint64_t> pending;
  auto flush = [&]() -> bool {
    if (pending.empty()) return true;
    if (auto st = (*log)->WaitSequenced(pending.back()); !st) {
      Fail(kExitUsage, st.error().message());
      return false;
    }
    for (uint64_t i : pending) std::printf("%llu\n", static_cast<unsigned long long>(i));
    std::fflush(stdout);
    pending.clear();
    return true;
  };
  uint64_t line_no = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    auto index = (*log)->Enqueue(line);
    if (!index) {
      flush();
      return Fail(index.error().code() == ErrorCode::kInvalidArgument ? kExitFindings : kExitUsage,
                  "line " + std::to_string(line_no) + ": " + index.error().message());
    }
    pending.push_back(*index);
    // Acknowledge in chunks, and at once when no more input is waiting.
    if (pending.size() >= 4096 || in->rdbuf()->in_avail() == 0) {
      if (!flush()) return kExitUsage;
    }
  }
  if (!flush()) return kExitUsage;
  auto cp = (*log)->Publish();
  if (!cp) return Fail(kExitUsage, "publishing: " + cp.error().message());
  if (auto st = (*log)->Close(); !st) return Fail(kExitUsage, st.error().message());
  std::fprintf(stderr, "published checkpoint of size %llu\n",
               static_cast<unsigned long long>((*log)->published_size()));
  return kExitOk;
}

bool IsDatabase(const std::string& dir) {
  return dir.rfind("postgresql://", 0) == 0 || dir.rfind("postgres://", 0) == 0;
}

// A read-only view of the log in `dir`: a directory, or a postgresql:// URL
// (the log several gateway nodes share; docs/operations.md).
Result<std::unique_ptr<ledger::LogStorage>> OpenForReading(const std::string& dir) {
  if (IsDatabase(dir)) {
    FB_ASSIGN_OR_RETURN(auto pg, ledger::PgLogStorage::Open(dir));
    return std::unique_ptr<ledger::LogStorage>(std::move(pg));
  }
  return std::unique_ptr<ledger::LogStorage>(ledger::PosixStorage::OpenReadOnly(dir));
}

int RunCheckpoint(const LogFlags& f) {
  if (IsDatabase(f.dir)) {
    auto storage = OpenForReading(f.dir);
    if (!storage) return Fail(kExitUsage, storage.error().message());
    auto note = (*storage)->ReadFile("checkpoint");
    if (!note) return Fail(kExitUsage, note.error().message());
    std::fwrite(note->data(), 1, note->size(), stdout);
    return kExitOk;
  }
  auto note = ReadFile(f.dir + "/checkpoint");
  if (!note) return Fail(kExitUsage, note.error().message());
  std::fwrite(note->data(), 1, note->size(), stdout);
  return kExitOk;
}

int RunProve(const LogFlags& f, bool consistency) {
  auto cp = ReadCheckpoint(f.dir);
  if (!cp) return Fail(kExitUsage, cp.error().message());
  uint64_t size = f.size ? f.size : cp->size;
  if (size > cp->size) {
    return Fail(kExitUsage, "--size " + std::to_string(size) + " is beyond the checkpoint size " +
                                std::to_string(cp->size));
  }
  auto storage = ledger::PosixStorage::OpenReadOnly(f.dir);
  ledger::TileNodeReader nodes([&](const std::string& p) { return storage->ReadFile(p); },
                               cp->size);
  ledger::NodeReader read = nodes.AsNodeReader();
  auto root = ledger::TreeRoot(size, read);
  if (!root) return Fail(kExitUsage, root.error().message());
  if (!consistency) {
    if (f.index >= size) {
      return Fail(kExitUsage, "--index " + std::to_string(f.index) + " is not below the size " +
                                  std::to_string(size));
    }
    auto proof = ledger::InclusionProof(f.index, size, read);
    if (!proof) return Fail(kExitUsage, proof.error().message());
    auto leaf = read(0, f.index);
    if (!leaf) return Fail(kExitUsage, leaf.error().message());
    std::printf("{\n  \"leafIdx\": %llu,\n  \"treeSize\": %llu,\n  \"root\": \"%s\",\n"
                "  \"leafHash\": \"%s\",\n  \"proof\": %s\n}\n",
                static_cast<unsigned long long>(f.index), static_cast<unsigned long long>(size),
                B64(*root).c_str(), B64(*leaf).c_str(), JsonHashes(*proof).c_str());
    return kExitOk;
  }
  if (f.old_size == 0 || f.old_size > size) {
    return Fail(kExitUsage, "--old must be between 1 and the size " + std::to_string(size));
  }
  auto old_root = ledger::TreeRoot(f.old_size, read);
  auto proof = ledger::ConsistencyProof(f.old_size, size, read);
  if (!old_root || !proof) {
    return Fail(kExitUsage, (!old_root ? old_root.error() : proof.error()).message());
  }
  std::printf("{\n  \"size1\": %llu,\n  \"size2\": %llu,\n  \"root1\": \"%s\",\n"
              "  \"root2\": \"%s\",\n  \"proof\": %s\n}\n",
              static_cast<unsigned long long>(f.old_size), static_cast<unsigned long long>(size),
              B64(*old_root).c_str(), B64(*root).c_str(), JsonHashes(*proof).c_str());
  return kExitOk;
}

int RunVerify(const LogFlags& f) {
  std::string vkey = f.vkey;
  if (fs::is_regular_file(vkey)) {
    auto text = ReadFile(vkey);
    if (!text) return Fail(kExitUsage, text.error().message());
    vkey = *text;
    while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r')) vkey.pop_back();
  }
  auto key = ledger::NoteVerifier::FromKeyText(vkey);
  if (!key) return Fail(kExitUsage, "--vkey: " + key.error().message());
  if (!IsDatabase(f.dir) && !fs::is_regular_file(f.dir + "/checkpoint")) {
    return Fail(kExitUsage, f.dir + " is not a log directory (no checkpoint)");
  }
  std::string old;
  if (!f.old_checkpoint.empty()) {
    auto text = ReadFile(f.old_checkpoint);
    if (!text) return Fail(kExitUsage, text.error().message());
    old = *text;
  }
  std::vector<std::string> present;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(f.dir + "/tile", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) {
      present.push_back(fs::relative(it->path(), f.dir).generic_string());
    }
  }
  bool tty = ::isatty(2);
  ledger::VerifyProgress progress;
  if (tty) {
    progress = [](uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\rverifying: %llu / %llu entries", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total));
    };
  }
  auto storage = OpenForReading(f.dir);
  if (!storage) return Fail(kExitUsage, storage.error().message());
  auto report = ledger::VerifyLog([&](const std::string& p) { return (*storage)->ReadFile(p); },
                                  *key, old, progress, present);
  if (tty) std::fprintf(stderr, "\n");
  if (!report) return Fail(kExitFindings, "verification failed: " + report.error().message());
  std::printf("ok: %llu entries and %llu tiles verified against the checkpoint of size %llu "
              "(root %s)%s\n",
              static_cast<unsigned long long>(report->entries),
              static_cast<unsigned long long>(report->tiles),
              static_cast<unsigned long long>(report->checkpoint.size),
              B64(report->checkpoint.root).c_str(),
              report->old_checked ? "; consistent with the old checkpoint" : "");
  return kExitOk;
}


// Prints entries [--index, --index + --count) as JSON lines, with the sealed
// part of each (entry schemas 2 and 3, src/entry) opened under the audit key: what an
// oversight body runs to check every decision.
int RunOpen(const LogFlags& f) {
  namespace json = boost::json;
  std::vector<entry::AuditKey> keys;
  for (const std::string& path : f.audit_keys) {
    auto key = entry::ReadAuditKey(path);
    if (!key) return Fail(kExitUsage, key.error().ToString());
    keys.push_back(std::move(*key));
  }
  entry::Keyring keyring(std::move(keys));
  auto storage = OpenForReading(f.dir);
  if (!storage) return Fail(kExitUsage, storage.error().message());
  ledger::LogReader reader(**storage, std::nullopt);
  auto snapshot = reader.Latest();
  if (!snapshot) return Fail(kExitUsage, snapshot.error().message());
  uint64_t size = snapshot->checkpoint.size;
  uint64_t end = f.count ? std::min(size, f.index + f.count) : size;
  int rc = kExitOk;
  Status st = reader.ForEachEntry(*snapshot, std::min(f.index, end), end, [&](uint64_t i, std::string_view text) {
    json::object line{{"index", i}};
    auto opened = entry::Open(text, keyring);
    if (!opened) {
      line["error"] = opened.error().message();
      rc = kExitFindings;
    } else {
      line["entry"] = std::move(*opened);
    }
    std::printf("%s\n", json::serialize(line).c_str());
    return Ok();
  });
  if (!st) return Fail(kExitFindings, st.error().message());
  return rc;
}
}  // namespace

void AddLogCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<LogFlags>();
  CLI::App* log = app.add_subcommand("log", "Create, append to, prove from and verify a decision log");
  log->require_subcommand(1);

  CLI::App* init = log->add_subcommand(
      "init", "Create a log and its Ed25519 key; print the verifier key line");
  init->add_option("--dir", flags->dir, "Log directory to create (published as static files)")
      ->required();
  init->add_option("--origin", flags->origin, "Log name, e.g. firebreak.example/org/decisions")
      ->required();
  init->add_option("--key", flags->key, "Private key file to create (mode 0600, outside --dir)")
      ->required();
  init->callback([flags, exit_code] { *exit_code = RunInit(*flags); });

  CLI::App* append = log->add_subcommand(
      "append", "Append entries, one per line; print each index once durable; publish");
  append->add_option("--dir", flags->dir, "Log directory")->required();
  append->add_option("--key", flags->key, "Private key file")->required();
  append->add_option("--file", flags->file, "Read entries from this file instead of stdin");
  append->callback([flags, exit_code] { *exit_code = RunAppend(*flags); });

  CLI::App* checkpoint = log->add_subcommand("checkpoint", "Print the current signed checkpoint");
  checkpoint->add_option("--dir", flags->dir, "Log directory, or the postgresql:// URL of a shared log")->required();
  checkpoint->callback([flags, exit_code] { *exit_code = RunCheckpoint(*flags); });

  CLI::App* prove = log->add_subcommand(
      "prove", "Print the inclusion proof of an entry as JSON (transparency-dev vector schema)");
  prove->add_option("--dir", flags->dir, "Log directory")->required();
  prove->add_option("--index", flags->index, "Entry index")->required();
  prove->add_option("--size", flags->size, "Tree size (default: the checkpoint's)");
  prove->callback([flags, exit_code] { *exit_code = RunProve(*flags, false); });

  CLI::App* consistency = log->add_subcommand(
      "consistency", "Print the consistency proof between two sizes as JSON");
  consistency->add_option("--dir", flags->dir, "Log directory")->required();
  consistency->add_option("--old", flags->old_size, "Old tree size")->required();
  consistency->add_option("--size", flags->size, "New tree size (default: the checkpoint's)");
  consistency->callback([flags, exit_code] { *exit_code = RunProve(*flags, true); });

  CLI::App* verify = log->add_subcommand(
      "verify", "Re-verify every entry, tile and the signed checkpoint; exit 1 on the first mismatch");
  verify->add_option("--dir", flags->dir, "Log directory, or the postgresql:// URL of a shared log")->required();
  verify->add_option("--vkey", flags->vkey, "Verifier key line <name>+<id>+<key>, or a file with it")
      ->required();
  verify->add_option("--old-checkpoint", flags->old_checkpoint,
                     "A signed checkpoint kept earlier: check the log still extends it");
  verify->callback([flags, exit_code] { *exit_code = RunVerify(*flags); });

  CLI::App* open = log->add_subcommand(
      "open",
      "Print entries as JSON lines with their sealed part (subject facts, rules, obligations) "
      "opened under the audit key the holder shares with oversight bodies.\n"
      "Exit 0: all opened; 1: an entry does not open (altered, or another key); 2: usage or I/O");
  open->add_option("--dir", flags->dir, "Log directory, or the postgresql:// URL of a shared log")->required();
  open->add_option("--audit-key", flags->audit_keys,
                   "File with a hex AES-256 audit key; repeat for keys rotated out (each entry names its key)")
      ->required();
  open->add_option("--index", flags->index, "First entry (default 0)");
  open->add_option("--count", flags->count, "Number of entries (default: to the checkpoint's size)");
  open->callback([flags, exit_code] { *exit_code = RunOpen(*flags); });
}

}  // namespace firebreak::cli
