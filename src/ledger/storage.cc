#include "ledger/storage.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/files.h"

namespace firebreak::ledger {
namespace {

namespace fs = std::filesystem;

Error Errno(std::string_view what, const std::string& path) {
  return IoError(std::string(what) + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::make_unexpected(Errno("cannot write", path));
    }
    off += static_cast<size_t>(n);
  }
  return Ok();
}

}  // namespace

// ---- PosixStorage ----

Status PosixStorage::Create(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return tl::make_unexpected(AlreadyExists("log directory " + dir + " exists and is not empty"));
  }
  fs::create_directories(fs::path(dir) / "wal", ec);
  if (ec) return tl::make_unexpected(IoError("cannot create " + dir + "/wal: " + ec.message()));
  fs::create_directories(fs::path(dir) / "tile", ec);
  if (ec) return tl::make_unexpected(IoError("cannot create " + dir + "/tile: " + ec.message()));
  std::string wal = dir + "/wal/log";
  int fd = ::open(wal.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return tl::make_unexpected(Errno("cannot create", wal));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return tl::make_unexpected(Errno("cannot fsync", wal));
  for (const std::string& d : {dir + "/wal", dir}) {
    int dfd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return Ok();
}

Result<std::unique_ptr<PosixStorage>> PosixStorage::Open(const std::string& dir) {
  std::unique_ptr<PosixStorage> s(new PosixStorage(dir));
  std::string lock = dir + "/wal/lock";
  s->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd_ < 0) {
    if (errno == ENOENT) {
      return tl::make_unexpected(NotFound(dir + " is not a log directory (no wal/)"));
    }
    return tl::make_unexpected(Errno("cannot open", lock));
  }
  if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return tl::make_unexpected(
        Unavailable("another process is writing the log in " + dir + " (wal/lock is held)"));
  }
  std::string wal = dir + "/wal/log";
  s->wal_fd_ = ::open(wal.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (s->wal_fd_ < 0) {
    if (errno == ENOENT) return tl::make_unexpected(NotFound(dir + " has no wal/log"));
    return tl::make_unexpected(Errno("cannot open", wal));
  }
  return s;
}

std::unique_ptr<PosixStorage> PosixStorage::OpenReadOnly(const std::string& dir) {
  return std::unique_ptr<PosixStorage>(new PosixStorage(dir));
}

PosixStorage::~PosixStorage() {
  if (wal_fd_ >= 0) ::close(wal_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status PosixStorage::AppendWal(std::string_view bytes) {
  std::string path = dir_ + "/wal/log";
  if (wal_fd_ < 0) return tl::make_unexpected(FailedPrecondition("log opened read-only"));
  FB_RETURN_IF_ERROR(WriteAll(wal_fd_, bytes, path));
  if (::fdatasync(wal_fd_) != 0) return tl::make_unexpected(Errno("cannot fdatasync", path));
  return Ok();
}

Result<uint64_t> PosixStorage::WalSize() {
  struct stat st;
  std::string path = dir_ + "/wal/log";
  if (::stat(path.c_str(), &st) != 0) return tl::make_unexpected(Errno("cannot stat", path));
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> PosixStorage::ReadWal(uint64_t offset, size_t length) {
  std::string path = dir_ + "/wal/log";
  int fd = wal_fd_ >= 0 ? wal_fd_ : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tl::make_unexpected(Errno("cannot open", path));
  std::string out(length, '\0');
  size_t got = 0;
  while (got < length) {
    ssize_t n = ::pread(fd, out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Errno("cannot read", path);
      if (fd != wal_fd_) ::close(fd);
      return tl::make_unexpected(e);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (fd != wal_fd_) ::close(fd);
  out.resize(got);
  return out;
}

Status PosixStorage::TruncateWal(uint64_t length) {
  std::string path = dir_ + "/wal/log";
  if (wal_fd_ < 0) return tl::make_unexpected(FailedPrecondition("log opened read-only"));
  if (::ftruncate(wal_fd_, static_cast<off_t>(length)) != 0) {
    return tl::make_unexpected(Errno("cannot truncate", path));
  }
  if (::fsync(wal_fd_) != 0) return tl::make_unexpected(Errno("cannot fsync", path));
  return Ok();
}

Result<std::string> PosixStorage::ReadFile(const std::string& path) {
  return firebreak::ReadFile(dir_ + "/" + path);
}

Status PosixStorage::EnsureParent(const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  std::lock_guard<std::mutex> lock(dirs_mu_);
  if (made_dirs_.count(parent)) return Ok();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return tl::make_unexpected(IoError("cannot create " + parent + ": " + ec.message()));
  made_dirs_[parent] = true;
  return Ok();
}

// Each file goes to a temporary name and is renamed into place, so a reader
// never sees a torn file; one syncfs() then makes the whole batch durable
// (cheaper than an fsync per file, LEDGER.md "Durability and speed").
Status PosixStorage::WriteFiles(std::span<const TileFile> files) {
  if (files.empty()) return Ok();
  for (const TileFile& f : files) {
    std::string path = dir_ + "/" + f.path;
    FB_RETURN_IF_ERROR(EnsureParent(path));
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return tl::make_unexpected(Errno("cannot create", tmp));
    Status w = WriteAll(fd, f.data, tmp);
    ::close(fd);
    if (!w) return w;
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return tl::make_unexpected(Errno("cannot rename onto", path));
    }
  }
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return tl::make_unexpected(Errno("cannot open", dir_));
  int rc = ::syncfs(dfd);
  ::close(dfd);
  if (rc != 0) return tl::make_unexpected(Errno("cannot syncfs", dir_));
  return Ok();
}

Status PosixStorage::WriteCheckpoint(std::string_view signed_checkpoint) {
  return WriteFileAtomically(dir_ + "/checkpoint", signed_checkpoint);
}

// ---- MemoryStorage ----

Status MemoryStorage::AppendWal(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  wal_.append(bytes);
  return Ok();
}

Result<uint64_t> MemoryStorage::WalSize() {
  std::lock_guard<std::mutex> lock(mu_);
  return wal_.size();
}

Result<std::string> MemoryStorage::ReadWal(uint64_t offset, size_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  if (offset >= wal_.size()) return std::string();
  return wal_.substr(offset, length);
}

Status MemoryStorage::TruncateWal(uint64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  if (length < wal_.size()) wal_.resize(length);
  return Ok();
}

Result<std::string> MemoryStorage::ReadFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return tl::make_unexpected(NotFound("no such file: " + path));
  return it->second;
}

Status MemoryStorage::WriteFiles(std::span<const TileFile> files) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const TileFile& f : files) files_[f.path] = f.data;
  return Ok();
}

Status MemoryStorage::WriteCheckpoint(std::string_view signed_checkpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  files_["checkpoint"] = std::string(signed_checkpoint);
  return Ok();
}

}  // namespace firebreak::ledger
