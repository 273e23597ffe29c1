// Fuzz target: recovery from a damaged write-ahead log. A log of 300
// entries has a checkpoint; five more batches (40 entries) are durable in
// the write-ahead log only. The input damages that tail — a cut (a torn
// write), byte flips, garbage after it — and the appender is opened on it.
// Recovery must always succeed, keep a prefix of exactly the entries that
// were written (never a changed one), and sign a checkpoint that verifies
// and extends the old one (docs/log-format.md, "Recovery").
//
// Input: [cut: 2 bytes, big-endian; its top bit set means "no cut"]
//        [flips: (position: 2 bytes, xor: 1 byte) …] [garbage: the rest,
//        after a 0xFF marker byte in place of a flip].
#include <cstdio>
#include <cstdlib>

#include "ledger/appender.h"
#include "ledger/log_reader.h"
#include "ledger/verify.h"

using namespace firebreak::ledger;
using firebreak::Result;

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "wal_fuzz: %s\n", what.c_str());
  std::abort();
}

// The signed-note example key (fixed, so every run builds the same log).
constexpr const char* kSignerKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr uint64_t kCheckpointed = 300, kTail = 40;

std::string EntryText(uint64_t i) { return "entry " + std::to_string(i) + std::string(i % 97, 'x'); }

struct Base {
  std::map<std::string, std::string> files;
  std::string wal;   // up to the checkpoint
  std::string tail;  // the five batches after it
  std::string checkpoint;
};

const Base& TheBase() {
  static const Base base = [] {
    Base b;
    auto signer = NoteSigner::FromKeyText(kSignerKey);
    if (!signer) Fail("signer key");
    MemoryStorage storage;
    if (!Appender::InitLog(storage, *signer)) Fail("init");
    AppenderOptions slow;
    slow.publish_interval = std::chrono::hours(1);
    {
      auto log = Appender::Open(storage, *signer, slow);
      if (!log) Fail("open: " + log.error().ToString());
      for (uint64_t i = 0; i < kCheckpointed; ++i) {
        if (!(*log)->Add(EntryText(i))) Fail("add");
      }
      if (!(*log)->Close()) Fail("close");
    }
    b.files = storage.FilesForTest();
    b.wal = storage.WalForTest();
    b.checkpoint = b.files["checkpoint"];
    auto log = Appender::Open(storage, *signer, slow);
    if (!log) Fail("reopen: " + log.error().ToString());
    // Five batches: each Add waits until durable, so batches of 8 are made
    // by enqueueing 8 and waiting for the last.
    for (uint64_t batch = 0; batch < 5; ++batch) {
      Result<uint64_t> last = 0;
      for (uint64_t k = 0; k < kTail / 5; ++k) last = (*log)->Enqueue(EntryText(kCheckpointed + batch * 8 + k));
      if (!last || !(*log)->WaitSequenced(*last)) Fail("enqueue");
    }
    b.tail = storage.WalForTest().substr(b.wal.size());
    // The appender publishes when closed; that state is not used.
    return b;
  }();
  return base;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Base& base = TheBase();
  static const auto signer = NoteSigner::FromKeyText(kSignerKey);
  static const auto verifier = NoteVerifier::FromKeyText(signer->VerifierKeyText());
  std::string tail = base.tail;
  size_t at = 0;
  if (size >= 2) {
    size_t cut = (size_t(data[0]) << 8) | data[1];
    if (!(data[0] & 0x80) && cut < tail.size()) tail.resize(cut);
    at = 2;
  }
  while (at + 3 <= size && data[at] != 0xFF && !tail.empty()) {
    size_t pos = ((size_t(data[at]) << 8) | data[at + 1]) % tail.size();
    tail[pos] = char(tail[pos] ^ data[at + 2]);
    at += 3;
  }
  if (at < size && data[at] == 0xFF) tail.append(reinterpret_cast<const char*>(data + at + 1), size - at - 1);

  MemoryStorage storage;
  storage.FilesForTest() = base.files;
  storage.WalForTest() = base.wal + tail;
  AppenderOptions slow;
  slow.publish_interval = std::chrono::hours(1);
  auto log = Appender::Open(storage, *signer, slow);
  if (!log) Fail("recovery refused a log whose checkpointed part is intact: " + log.error().ToString());
  uint64_t size_after = (*log)->sequenced_size();
  if (size_after < kCheckpointed || size_after > kCheckpointed + kTail) {
    Fail("recovered " + std::to_string(size_after) + " entries");
  }
  if (std::getenv("WAL_FUZZ_VERBOSE")) std::fprintf(stderr, "tail %zu bytes of %zu: recovered %llu entries\n", tail.size(), base.tail.size(), (unsigned long long)size_after);
  if (!(*log)->Close()) Fail("close after recovery");
  FileReader read = [&](const std::string& p) { return storage.ReadFile(p); };
  auto report = VerifyLog(read, *verifier, base.checkpoint, nullptr);
  if (!report) Fail("the recovered log does not verify: " + report.error().ToString());
  if (report->checkpoint.size != size_after) Fail("the checkpoint does not cover what was recovered");
  LogReader reader(storage, *verifier);
  auto snap = reader.Latest();
  if (!snap) Fail("latest");
  auto status = reader.ForEachEntry(*snap, kCheckpointed, size_after, [](uint64_t i, std::string_view e) -> firebreak::Status {
    if (e != EntryText(i)) Fail("entry " + std::to_string(i) + " was recovered changed");
    return firebreak::Ok();
  });
  if (!status) Fail("reading the recovered entries: " + status.error().ToString());
  return 0;
}
