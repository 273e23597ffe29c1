#include "oversight/monitor/monitor.h"

#include <chrono>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "base/encoding.h"
#include "base/files.h"
#include "ledger/merkle.h"
#include "http/client.h"
#include "ledger/storage.h"

namespace firebreak::oversight {

namespace fs = std::filesystem;
namespace json = boost::json;
using ledger::Hash;

namespace {

std::string B64(const Hash& h) { return Base64Encode(DigestBytes(h)); }

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The mirror's files with the run's pending ones on top.
class Overlay {
 public:
  explicit Overlay(ledger::LogStorage& mirror) : mirror_(mirror) {}
  void Put(ledger::TileFile f) { pending_[f.path] = std::move(f.data); }
  Result<std::string> Read(const std::string& path) {
    if (auto it = pending_.find(path); it != pending_.end()) return it->second;
    return mirror_.ReadFile(path);
  }
  std::vector<ledger::TileFile> Take() {
    std::vector<ledger::TileFile> out;
    for (auto& [p, d] : pending_) out.push_back({p, std::move(d)});
    pending_.clear();
    return out;
  }

 private:
  ledger::LogStorage& mirror_;
  std::map<std::string, std::string> pending_;
};

// The root of the mirror's tree of `size` (which the mirror must cover).
Result<Hash> MirrorRoot(const ledger::FileReader& read, uint64_t size, uint64_t mirror_size) {
  ledger::TileNodeReader nodes(read, mirror_size);
  return ledger::TreeRoot(size, nodes.AsNodeReader());
}

// Compares another vantage point's checkpoint with the mirror.
std::optional<Evidence> Compare(const ledger::FileReader& read, const ledger::Checkpoint& kept,
                                const std::string& kept_note, const ledger::Checkpoint& other,
                                std::string_view other_note) {
  if (other.size > kept.size) return std::nullopt;  // ahead: the next run covers it
  Hash root{};
  if (other.size == kept.size) {
    root = kept.root;
  } else {
    auto r = MirrorRoot(read, other.size, kept.size);
    if (!r) return std::nullopt;
    root = *r;
  }
  if (root == other.root) return std::nullopt;
  Evidence e;
  e.kind = "split-view";
  e.sentence = fmt::format(
      "The log signed a checkpoint of size {} with root {}, but the tree this monitor verified has root {} at that "
      "size: the log has shown different histories to different parties.",
      other.size, B64(other.root), B64(root));
  e.kept = kept_note;
  e.seen = std::string(other_note);
  return e;
}

}  // namespace

json::object Evidence::ToJson() const {
  json::object o{{"kind", kind}, {"sentence", sentence}, {"kept_checkpoint", kept}, {"seen_checkpoint", seen}};
  if (index) o["index"] = *index;
  if (!path.empty()) o["path"] = path;
  if (!proof_result.empty()) {
    json::array p;
    for (const Hash& h : proof) p.emplace_back(B64(h));
    o["consistency_proof"] = std::move(p);
    o["proof_result"] = proof_result;
  }
  o["format"] = "firebreak monitor evidence v1: both checkpoints are signed notes (C2SP signed-note); verify them "
                "with the log's verifier key";
  return o;
}

ledger::FileReader FetchFromDir(const std::string& dir) {
  return [dir](const std::string& path) -> Result<std::string> {
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(dir) / path, ec)) return tl::make_unexpected(NotFound(path + ": not in " + dir));
    return ReadFile((fs::path(dir) / path).string());
  };
}

Result<ledger::FileReader> FetchFromUrl(std::string base, const std::string& ca_file) {
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0) {
    return tl::make_unexpected(InvalidArgument("`" + base + "` is not an http:// or https:// URL"));
  }
  http::Client::Options o;
  o.ca_file = ca_file;
  o.max_body_bytes = size_t{64} << 20;  // a full entry bundle is at most 16 MiB
  FB_ASSIGN_OR_RETURN(std::unique_ptr<http::Client> made, http::Client::Create(o));
  std::shared_ptr<http::Client> client = std::move(made);
  if (base.back() != '/') base += '/';
  return ledger::FileReader([client, base](const std::string& path) -> Result<std::string> {
    FB_ASSIGN_OR_RETURN(http::ClientResponse r, client->Get(base + path));
    if (r.status == 404) return tl::make_unexpected(NotFound(base + path + ": 404"));
    if (r.status != 200) return tl::make_unexpected(Unavailable(fmt::format("{}{}: HTTP {}", base, path, r.status)));
    return std::move(r.body);
  });
}

Result<std::string> WriteEvidence(const std::string& state_dir, const Evidence& evidence) {
  std::error_code ec;
  fs::create_directories(fs::path(state_dir) / "evidence", ec);
  if (ec) return tl::make_unexpected(IoError("cannot create " + state_dir + "/evidence: " + ec.message()));
  std::string base = fmt::format("{}/evidence/{}-{}", state_dir, Now(), evidence.kind);
  std::string path = base + ".json";
  for (int n = 2; fs::exists(path, ec); ++n) path = fmt::format("{}-{}.json", base, n);
  FB_RETURN_IF_ERROR(WriteFileAtomically(path, json::serialize(evidence.ToJson()) + "\n"));
  return path;
}

Result<std::optional<Evidence>> CheckAgainstMirror(const std::string& state_dir, const ledger::NoteVerifier& log_key,
                                                   std::string_view signed_checkpoint) {
  FB_ASSIGN_OR_RETURN(std::string kept_note, ReadFile(state_dir + "/checkpoint"));
  FB_ASSIGN_OR_RETURN(ledger::Checkpoint kept, ledger::OpenCheckpoint(kept_note, log_key));
  auto other = ledger::OpenCheckpoint(signed_checkpoint, log_key);
  if (!other) return tl::make_unexpected(other.error().WithContext("the other checkpoint"));
  return Compare(FetchFromDir(state_dir), kept, kept_note, *other, signed_checkpoint);
}

Result<MonitorRun> RunMonitor(const MonitorOptions& o) {
  if (!o.log_key) return tl::make_unexpected(InvalidArgument("the log's verifier key is required"));
  if (!o.fetch) return tl::make_unexpected(InvalidArgument("no way to fetch the log was given"));
  MonitorRun run;
  std::error_code ec;
  if (!fs::exists(fs::path(o.state_dir) / "wal", ec)) {
    if (fs::exists(o.state_dir, ec) && !fs::is_empty(o.state_dir, ec)) {
      return tl::make_unexpected(
          InvalidArgument("state directory " + o.state_dir + " is not empty and holds no monitor state"));
    }
    FB_RETURN_IF_ERROR(ledger::PosixStorage::Create(o.state_dir));
  }
  auto opened = ledger::PosixStorage::Open(o.state_dir);
  if (!opened) return tl::make_unexpected(opened.error().WithContext("monitor state"));
  ledger::PosixStorage& mirror = **opened;
  Overlay overlay(mirror);
  ledger::FileReader local = [&](const std::string& p) { return overlay.Read(p); };

  // What was kept.
  std::string kept_note;
  ledger::Checkpoint kept;
  if (fs::exists(fs::path(o.state_dir) / "checkpoint", ec)) {
    FB_ASSIGN_OR_RETURN(kept_note, mirror.ReadFile("checkpoint"));
    auto k = ledger::OpenCheckpoint(kept_note, *o.log_key);
    if (!k) return tl::make_unexpected(k.error().WithContext("the kept checkpoint in " + o.state_dir));
    kept = *k;
  } else {
    kept.origin = o.log_key->name();
    kept.root = ledger::EmptyRoot();
  }
  run.previous_size = kept.size;
  run.checkpoint = kept;
  auto finish = [&](Evidence e) -> Result<MonitorRun> {
    FB_ASSIGN_OR_RETURN(std::string path, WriteEvidence(o.state_dir, e));
    run.evidence_files.push_back(path);
    run.evidence.push_back(std::move(e));
    return run;
  };

  // The log's checkpoint now.
  FB_ASSIGN_OR_RETURN(std::string note, o.fetch("checkpoint"));
  auto current = ledger::OpenCheckpoint(note, *o.log_key);
  if (!current) {
    Evidence e;
    e.kind = "bad-signature";
    e.sentence = "The log's checkpoint does not open with the log's verifier key (" + current.error().message() +
                 "): it was not signed by the log, or was altered on the way.";
    e.kept = kept_note;
    e.seen = note;
    return finish(std::move(e));
  }
  for (const ledger::NoteVerifier& w : o.witnesses) {
    const ledger::NoteVerifier* one[] = {&w};
    if (ledger::OpenNote(note, one)) ++run.cosignatures;
  }
  if (run.cosignatures < o.min_witnesses) {
    return tl::make_unexpected(FailedPrecondition(
        fmt::format("the log's checkpoint (size {}) carries {} of the {} witness cosignatures required; not accepted "
                    "(run again when the witnesses have cosigned)",
                    current->size, run.cosignatures, o.min_witnesses)));
  }
  if (current->size < kept.size) {
    Evidence e;
    e.kind = "rollback";
    e.sentence = fmt::format("The log now serves a checkpoint of size {}, smaller than the size {} it signed before: "
                             "entries were removed from its history.",
                             current->size, kept.size);
    e.kept = kept_note;
    e.seen = note;
    return finish(std::move(e));
  }
  if (current->size == kept.size) {
    if (current->root != kept.root) {
      Evidence e;
      e.kind = "fork";
      e.sentence = fmt::format("The log signed two checkpoints of size {} with different roots ({} and {}).",
                               kept.size, B64(kept.root), B64(current->root));
      e.kept = kept_note;
      e.seen = note;
      return finish(std::move(e));
    }
  } else {
    // New entries: fetch their bundles (full ones already in the mirror from
    // an interrupted run are read locally), hash them, extend the tree.
    // Every hash tile derived must be the log's own, byte for byte (checked
    // once the root is known to match, so that a fork is reported as one).
    std::vector<std::string> written_tiles;
    auto CompareTiles = [&](const std::vector<ledger::TileFile>& files) -> std::optional<Evidence> {
      for (const ledger::TileFile& f : files) {
        if (f.path.rfind("tile/entries/", 0) == 0) continue;  // built from the log's own bundles
        auto theirs = o.fetch(f.path);
        if (theirs && *theirs == f.data) continue;
        Evidence e;
        e.kind = "tile-mismatch";
        e.sentence = fmt::format("The log's tile {} {} the hashes of its own entries.", f.path,
                                 theirs ? "differs from" : "is missing, and should hold");
        e.kept = kept_note;
        e.seen = note;
        e.path = f.path;
        return e;
      }
      return std::nullopt;
    };
    auto tiler = ledger::Tiler::Resume(kept.size, local);
    if (!tiler) return tl::make_unexpected(tiler.error().WithContext("the monitor's mirror"));
    Sha256Hasher hasher;
    uint64_t first_bundle = kept.size / ledger::kTileWidth;
    uint64_t last_bundle = (current->size - 1) / ledger::kTileWidth;
    std::string old_partial;
    if (kept.size % ledger::kTileWidth) {
      FB_ASSIGN_OR_RETURN(old_partial,
                          local(ledger::EntryBundlePath(first_bundle, kept.size % ledger::kTileWidth)));
    }
    uint64_t total = current->size - kept.size;
    for (uint64_t b = first_bundle; b <= last_bundle; ++b) {
      uint64_t width = std::min<uint64_t>(ledger::kTileWidth, current->size - b * ledger::kTileWidth);
      std::string path = ledger::EntryBundlePath(b, width);
      Result<std::string> data = tl::make_unexpected(NotFound(""));
      if (width == ledger::kTileWidth) data = mirror.ReadFile(path);
      if (!data) data = o.fetch(path);
      if (!data) {
        if (data.error().code() != ErrorCode::kNotFound) return tl::make_unexpected(data.error());
        Evidence e;
        e.kind = "bad-bundle";
        e.sentence = fmt::format("The log's checkpoint of size {} covers entries in {}, which the log does not serve.",
                                 current->size, path);
        e.kept = kept_note;
        e.seen = note;
        e.path = path;
        return finish(std::move(e));
      }
      auto entries = ledger::ParseBundle(*data);
      if (!entries || entries->size() != width) {
        Evidence e;
        e.kind = "bad-bundle";
        e.sentence = fmt::format("The log's entry bundle {} should hold {} entries but {}.", path, width,
                                 entries ? fmt::format("holds {}", entries->size()) : "is truncated or garbled");
        e.kept = kept_note;
        e.seen = note;
        e.path = path;
        return finish(std::move(e));
      }
      uint64_t skip = 0;
      if (b == first_bundle && !old_partial.empty()) {
        // The entries the monitor already verified must be unchanged.
        auto old_entries = ledger::ParseBundle(old_partial);
        if (!old_entries) return tl::make_unexpected(old_entries.error().WithContext("the monitor's mirror"));
        for (size_t i = 0; i < old_entries->size(); ++i) {
          if ((*entries)[i] != (*old_entries)[i]) {
            Evidence e;
            e.kind = "rewritten-entry";
            e.index = b * ledger::kTileWidth + i;
            e.sentence = fmt::format("Entry {} in {} differs from the entry this monitor verified under the kept "
                                     "checkpoint: the log rewrote its history.",
                                     *e.index, path);
            e.kept = kept_note;
            e.seen = note;
            e.path = path;
            return finish(std::move(e));
          }
        }
        skip = old_entries->size();
      }
      for (size_t i = skip; i < entries->size(); ++i) {
        std::string_view entry = (*entries)[i];
        tiler->Append(hasher, entry, ledger::HashLeaf(hasher, entry));
      }
      run.new_entries = tiler->size() - kept.size;
      // Bound memory: full tiles go to the mirror as they complete (partial
      // tiles of a size no checkpoint has are not kept), each compared with
      // the log's own first.
      if (b % 64 == 63 || b == last_bundle) {
        std::vector<ledger::TileFile> files;
        for (ledger::TileFile& f : tiler->Flush()) {
          if (b == last_bundle || f.path.find(".p/") == std::string::npos) files.push_back(std::move(f));
        }
        if (b == last_bundle) {
          for (ledger::TileFile& f : files) overlay.Put(std::move(f));
        } else {
          for (const ledger::TileFile& f : files) {
            if (f.path.rfind("tile/entries/", 0) != 0) written_tiles.push_back(f.path);
          }
          FB_RETURN_IF_ERROR(mirror.WriteFiles(files));
        }
        if (o.progress) o.progress(run.new_entries, total);
      }
    }
    Hash root = tiler->Root(hasher);
    if (root != current->root) {
      Evidence e;
      e.kind = "fork";
      e.sentence = fmt::format(
          "The log's checkpoint of size {} has root {}, but the tree this monitor verified at size {} with the log's "
          "new entries appended has root {}: the new checkpoint does not extend the old one (the log rewrote or "
          "forked its history).",
          current->size, B64(current->root), kept.size, B64(root));
      e.kept = kept_note;
      e.seen = note;
      if (kept.size > 0) {
        // The log's own proof, from its own tiles, fails too (or the log's
        // tiles do not match its entries).
        ledger::TileNodeReader nodes(o.fetch, current->size);
        auto proof = ledger::ConsistencyProof(kept.size, current->size, nodes.AsNodeReader());
        if (proof) {
          e.proof = *proof;
          auto st = ledger::VerifyConsistency(kept.size, current->size, kept.root, current->root, *proof);
          e.proof_result = st ? "verifies (the log's tiles do not match its entries)"
                              : std::string(ledger::ProofErrorName(st.error()));
        } else {
          e.proof_result = "the log's tiles do not give a proof: " + proof.error().message();
        }
      }
      return finish(std::move(e));
    }
    std::vector<ledger::TileFile> files = overlay.Take();
    for (const std::string& path : written_tiles) {
      FB_ASSIGN_OR_RETURN(std::string data, mirror.ReadFile(path));
      files.push_back({path, std::move(data)});
    }
    if (auto e = CompareTiles(files)) return finish(std::move(*e));
    files.resize(files.size() - written_tiles.size());
    FB_RETURN_IF_ERROR(mirror.WriteFiles(files));
  }

  // Other vantage points, against the tree now verified.
  for (const std::string& peer : o.peer_checkpoints) {
    auto other = ledger::OpenCheckpoint(peer, *o.log_key);
    if (!other) {
      run.notes.push_back("a peer checkpoint does not open with the log's key: " + other.error().message());
      continue;
    }
    if (other->size > current->size) {
      run.notes.push_back(fmt::format("a peer has a checkpoint of size {}, ahead of the log's {} here; "
                                      "the next run covers it",
                                      other->size, current->size));
      continue;
    }
    if (auto e = Compare(local, *current, note, *other, peer)) return finish(std::move(*e));
  }
  if (current->size != kept.size || note != kept_note) FB_RETURN_IF_ERROR(mirror.WriteCheckpoint(note));
  run.checkpoint = *current;
  return run;
}

}  // namespace firebreak::oversight
