#include "base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace firebreak {
namespace {

Error Errno(std::string_view what, const std::string& path) {
  return IoError(std::string(what) + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return tl::make_unexpected(NotFound("no such file: " + path));
    return tl::make_unexpected(Errno("cannot open", path));
  }
  // Read straight into the string, sized from fstat (files may still grow
  // or shrink while read: read until end of file either way).
  std::string out;
  struct stat st {};
  size_t want = ::fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 65536;
  size_t used = 0;
  for (;;) {
    if (out.size() - used < 4096) out.resize(std::max(want, out.size() * 2));
    ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Errno("cannot read", path);
      ::close(fd);
      return tl::make_unexpected(e);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(used);
  return out;
}

Status WriteFileAtomically(const std::string& path, std::string_view data, int mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return tl::make_unexpected(Errno("cannot create", tmp));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Errno("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return tl::make_unexpected(e);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Error e = Errno("cannot fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return tl::make_unexpected(e);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Errno("cannot rename onto", path);
    ::unlink(tmp.c_str());
    return tl::make_unexpected(e);
  }
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Ok();
}

Result<std::vector<std::string>> FindFiles(const std::string& path, std::string_view extension) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return std::vector<std::string>{path};
  if (!fs::is_directory(path, ec)) {
    return tl::make_unexpected(NotFound("no such file or directory: " + path));
  }
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == extension) {
      out.push_back(it->path().lexically_normal().string());
    }
  }
  if (ec) return tl::make_unexpected(IoError("cannot list " + path + ": " + ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace firebreak
