// Where a log lives: a narrow storage interface, its POSIX implementation
// (a C2SP tlog-tiles directory servable as static files) and an in-memory
// twin for tests.
//
// Layout of a log directory (docs/log-format.md):
//   checkpoint                      the latest signed checkpoint
//   tile/<L>/<N>[.p/<W>]            hash tiles
//   tile/entries/<N>[.p/<W>]        entry bundles
//   wal/log                         the write-ahead log (batches, see wal.h)
//   wal/position                    a hint: "<size> <wal offset>" of the checkpoint
//   wal/lock                        held (flock) by the one writer
// No private key is ever stored here.
//
// Error model: every failure is an `Error` (kIo, kNotFound, kDataLoss).
// Thread model: thread-compatible; the `Appender` calls the WAL methods from
// its sequencer thread and the file methods from its publisher thread, which
// every implementation must allow concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "ledger/tiles.h"

namespace firebreak::ledger {

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // Appends `bytes` to the write-ahead log and makes them durable (one
  // fdatasync) before returning.
  virtual Status AppendWal(std::string_view bytes) = 0;
  virtual Result<uint64_t> WalSize() = 0;
  // Up to `length` bytes from `offset` (fewer at the end).
  virtual Result<std::string> ReadWal(uint64_t offset, size_t length) = 0;
  // Cuts a torn tail; durable on return.
  virtual Status TruncateWal(uint64_t length) = 0;

  // Reads a published file by its log path ("checkpoint", "tile/0/000", ...).
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Writes tiles, bundles and hints; each file appears atomically (old bytes
  // or new, never torn) and all are durable when this returns.
  virtual Status WriteFiles(std::span<const TileFile> files) = 0;
  // Replaces the checkpoint atomically and durably.
  virtual Status WriteCheckpoint(std::string_view signed_checkpoint) = 0;
};

// A log directory on a POSIX filesystem.
class PosixStorage : public LogStorage {
 public:
  // Creates an empty log directory `dir` (which must not exist or be empty).
  static Status Create(const std::string& dir);
  // Opens the log in `dir` for writing, taking its writer lock (kUnavailable
  // if another process holds it).
  static Result<std::unique_ptr<PosixStorage>> Open(const std::string& dir);
  // A read-only view (no lock; WAL methods fail).
  static std::unique_ptr<PosixStorage> OpenReadOnly(const std::string& dir);

  ~PosixStorage() override;

  Status AppendWal(std::string_view bytes) override;
  Result<uint64_t> WalSize() override;
  Result<std::string> ReadWal(uint64_t offset, size_t length) override;
  Status TruncateWal(uint64_t length) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Status WriteFiles(std::span<const TileFile> files) override;
  Status WriteCheckpoint(std::string_view signed_checkpoint) override;

  const std::string& dir() const { return dir_; }

 private:
  explicit PosixStorage(std::string dir) : dir_(std::move(dir)) {}
  Status EnsureParent(const std::string& path);

  std::string dir_;
  int wal_fd_ = -1;
  int lock_fd_ = -1;
  std::mutex dirs_mu_;
  std::map<std::string, bool> made_dirs_;
};

// The in-memory twin. Thread-safe.
class MemoryStorage : public LogStorage {
 public:
  Status AppendWal(std::string_view bytes) override;
  Result<uint64_t> WalSize() override;
  Result<std::string> ReadWal(uint64_t offset, size_t length) override;
  Status TruncateWal(uint64_t length) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Status WriteFiles(std::span<const TileFile> files) override;
  Status WriteCheckpoint(std::string_view signed_checkpoint) override;

  // Direct access for tests (tampering, inspection).
  std::map<std::string, std::string>& FilesForTest() { return files_; }
  std::string& WalForTest() { return wal_; }

 private:
  std::mutex mu_;
  std::string wal_;
  std::map<std::string, std::string> files_;
};

}  // namespace firebreak::ledger
