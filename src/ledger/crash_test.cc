// Crash tests: a helper process appends under concurrent load and is killed
// with SIGKILL at random instants; after each kill the log is recovered and
// checked: every acknowledged index holds its entry, the new checkpoint is
// consistent with every earlier one, and (periodically and at the end) the
// whole log verifies. FIREBREAK_CRASH_KILLS sets the number of kills
// (default 200); FIREBREAK_CRASH_SEED the random seed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "base/files.h"
#include "ledger/ledger.h"

namespace firebreak::ledger {
namespace {

namespace fs = std::filesystem;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

struct Child {
  pid_t pid;
  int out;
};

Child Spawn(const std::string& dir, const std::string& key) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(LEDGER_CRASH_HELPER, LEDGER_CRASH_HELPER, dir.c_str(), key.c_str(), "4", "3",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return {pid, fds[0]};
}

// Reads what is available (until `deadline`, or EOF when deadline is null).
void Drain(int fd, std::string& out, std::chrono::steady_clock::time_point* deadline) {
  char buf[65536];
  for (;;) {
    int timeout = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      timeout = static_cast<int>((left.count() + 999) / 1000);  // round up: never spin
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, timeout);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      if (deadline) return;
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return;
    } else if (errno != EAGAIN && errno != EINTR) {
      return;
    }
  }
}

Result<std::string> EntryAt(LogStorage& s, uint64_t size, uint64_t index) {
  TileRef ref = TileForNode(kEntriesLevel, index, size);
  FB_ASSIGN_OR_RETURN(std::string bundle, s.ReadFile(ref.Path()));
  FB_ASSIGN_OR_RETURN(auto entries, ParseBundle(bundle));
  if (index % kTileWidth >= entries.size()) return tl::make_unexpected(NotFound("short bundle"));
  return std::string(entries[index % kTileWidth]);
}

TEST(CrashTest, SigkillAtRandomInstantsLosesNothingAcknowledged) {
  const int kills = EnvInt("FIREBREAK_CRASH_KILLS", 200);
  const unsigned seed = static_cast<unsigned>(
      EnvInt("FIREBREAK_CRASH_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  std::printf("crash test: %d kills, seed %u (FIREBREAK_CRASH_SEED to repeat)\n", kills, seed);
  std::mt19937 rng(seed);

  fs::path root = fs::temp_directory_path() / ("firebreak-crash-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  struct RemoveOnExit {
    fs::path path;
    ~RemoveOnExit() { fs::remove_all(path); }
  } cleanup{root};
  std::string dir = (root / "log").string();
  std::string key_file = (root / "key").string();
  auto signer = NoteSigner::Generate("firebreak.example/crash");
  ASSERT_TRUE(signer);
  ASSERT_TRUE(WriteFileAtomically(key_file, signer->PrivateKeyText() + "\n", 0600));
  ASSERT_TRUE(PosixStorage::Create(dir));
  {
    auto s = PosixStorage::Open(dir);
    ASSERT_TRUE(s);
    ASSERT_TRUE(Appender::InitLog(**s, *signer));
  }
  NoteVerifier key = *NoteVerifier::FromKeyText(signer->VerifierKeyText());

  std::map<uint64_t, std::string> acked;
  std::vector<Checkpoint> checkpoints;
  auto record_checkpoint = [&](const std::string& note) {
    auto cp = OpenCheckpoint(note, key);
    ASSERT_TRUE(cp) << cp.error().ToString();
    checkpoints.push_back(*cp);
  };

  for (int round = 0; round < kills; ++round) {
    Child child = Spawn(dir, key_file);
    std::string out;
    // Half the kills land anywhere from start-up (recovery included), half
    // while the helper appends under load (after it is ready).
    if (round % 2 == 1) {
      auto ready_by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (out.find("ready") == std::string::npos && std::chrono::steady_clock::now() < ready_by) {
        auto step = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
        Drain(child.out, out, &step);
      }
    }
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::microseconds(std::uniform_int_distribution<int>(0, 30000)(rng));
    Drain(child.out, out, &deadline);
    ::kill(child.pid, SIGKILL);
    Drain(child.out, out, nullptr);
    ::close(child.out);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the helper exited by itself with status " << status
        << "; output: " << out.substr(0, 500);

    // What the killed process acknowledged.
    std::vector<uint64_t> this_round;
    size_t pos = 0;
    while (true) {
      size_t eol = out.find('\n', pos);
      if (eol == std::string::npos) break;
      std::string_view line(out.data() + pos, eol - pos);
      pos = eol + 1;
      if (line.substr(0, 4) != "ack ") continue;
      line.remove_prefix(4);
      size_t sp = line.find(' ');
      uint64_t index = std::stoull(std::string(line.substr(0, sp)));
      std::string entry(line.substr(sp + 1));
      auto [it, inserted] = acked.emplace(index, entry);
      ASSERT_TRUE(inserted) << "index " << index << " acknowledged twice";
      this_round.push_back(index);
    }
    // The checkpoint the killed process left, then recovery.
    auto left = ReadFile(dir + "/checkpoint");
    ASSERT_TRUE(left);
    record_checkpoint(*left);
    auto storage = PosixStorage::Open(dir);
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto log = Appender::Open(**storage, *signer);
    ASSERT_TRUE(log) << "round " << round << ": recovery failed: " << log.error().ToString();
    std::string note = (*log)->checkpoint();
    ASSERT_TRUE((*log)->Close());
    record_checkpoint(note);
    const Checkpoint& now = checkpoints.back();
    if (!acked.empty()) {
      ASSERT_GT(now.size, acked.rbegin()->first) << "round " << round << ": acknowledged entries lost";
    }
    for (uint64_t index : this_round) {
      auto e = EntryAt(**storage, now.size, index);
      ASSERT_TRUE(e) << e.error().ToString();
      ASSERT_EQ(*e, acked[index]) << "round " << round << ": index " << index;
    }
    // The new checkpoint is consistent with every earlier one: with each of
    // them in a short run; in a long one (quadratic otherwise) with the one
    // before it (consistency is transitive) and 16 earlier ones at random.
    TileNodeReader nodes([&](const std::string& p) { return (*storage)->ReadFile(p); }, now.size);
    std::vector<const Checkpoint*> against;
    if (checkpoints.size() <= 400) {
      for (const Checkpoint& c : checkpoints) against.push_back(&c);
    } else {
      against.push_back(&checkpoints[checkpoints.size() - 2]);
      for (int k = 0; k < 16; ++k) {
        against.push_back(&checkpoints[std::uniform_int_distribution<size_t>(0, checkpoints.size() - 1)(rng)]);
      }
    }
    for (const Checkpoint* old_ptr : against) {
      const Checkpoint& old = *old_ptr;
      if (old.size == 0) continue;
      ASSERT_LE(old.size, now.size);
      auto proof = ConsistencyProof(old.size, now.size, nodes.AsNodeReader());
      ASSERT_TRUE(proof) << proof.error().ToString();
      ASSERT_TRUE(VerifyConsistency(old.size, now.size, old.root, now.root, *proof))
          << "round " << round << ": checkpoint " << old.size << " inconsistent with "
          << now.size;
    }
    if (round % 50 == 49 || round == kills - 1) {
      auto report = VerifyLog([&](const std::string& p) { return (*storage)->ReadFile(p); }, key,
                              "", nullptr);
      ASSERT_TRUE(report) << report.error().ToString();
      // Every acknowledged entry, each bundle read once.
      LogReader reader(**storage, key);
      auto snap = reader.Latest();
      ASSERT_TRUE(snap) << snap.error().ToString();
      auto next = acked.begin();
      Status st = reader.ForEachEntry(*snap, 0, snap->checkpoint.size, [&](uint64_t i, std::string_view e) {
        if (next != acked.end() && next->first == i) {
          if (e != next->second) return Status(tl::make_unexpected(DataLoss("index " + std::to_string(i))));
          ++next;
        }
        return Ok();
      });
      ASSERT_TRUE(st) << st.error().ToString();
      ASSERT_TRUE(next == acked.end()) << "acknowledged index " << next->first << " is beyond the log";
      if (kills > 200) {
        std::printf("crash test: %d of %d kills, %zu acknowledged entries, size %llu\n", round + 1, kills,
                    acked.size(), static_cast<unsigned long long>(snap->checkpoint.size));
      }
    }
  }
  std::printf("crash test: %zu acknowledged entries, final size %llu, %zu checkpoints checked\n",
              acked.size(), static_cast<unsigned long long>(checkpoints.back().size),
              checkpoints.size());
  EXPECT_GT(acked.size(), 0u);
}

}  // namespace
}  // namespace firebreak::ledger
