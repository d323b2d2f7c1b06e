// kill -9 of a writer at random moments: reopening cuts the torn tail, and the journal holds
// every numbered transaction once, with no gap, as a slot resending from the writer's end
// would leave it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "state/journal/SegmentFile.h"
#include "state/journal/SegmentScan.h"
#include "state/tests/JournalTestUtil.h"

namespace pgmorph {
namespace {

using namespace journaltest;
namespace fs = std::filesystem;

// Transaction n has 1 + n % 7 messages of 100 + (n * 37) % 3000 bytes: some frames span
// the writer's buffer flushes and the reads' chunk boundaries. Every tenth is large (over a
// MB, so the writer writes it out before its Commit): a kill in its middle leaves a torn tail.
std::size_t messagesOf(std::uint64_t n) {
  return n % 10 == 0 ? 600 : 1 + n % 7;
}
std::size_t bytesOf(std::uint64_t n) {
  return n % 10 == 0 ? 3000 : 100 + (n * 37) % 3000;
}

[[noreturn]] void childWrites(const fs::path& dir) {
  try {
    JournalWriter w(options(dir, 256 << 10));
    if (w.empty()) w.startAt(Lsn(1000));
    // The slot resends from its confirmed position, which is at or before the journal's end:
    // start a few transactions back and let begin() skip what is there.
    const std::uint64_t last = (w.end().value() - 1000) / 1000;
    for (std::uint64_t n = last > 3 ? last - 3 : 1;; ++n) {
      if (!w.begin(commitOf(n))) continue;
      for (std::size_t i = 0; i < messagesOf(n); ++i) {
        w.append(Lsn(commitOf(n).value() - 900 + i), message(n, i, bytesOf(n)));
        if (i % 100 == 99) ::usleep(2000);  // a large transaction arrives over time
      }
      w.commit();
      if (n % 4 == 0) w.sync();
      if (n % 50 == 0) ::usleep(200);  // not all of the disk: other tests share it
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
    ::_exit(3);
  }
}

TEST(JournalCrashTest, KillNineAtRandomMomentsLeavesNoGapNoDuplicateAndNoTornTail) {
  TempDir dir;
  std::mt19937 random(std::random_device{}());
  std::uint64_t previousEnd = 0;
  int tornTails = 0;
  for (int round = 0; round < 10; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) childWrites(dir.path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 80));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself: status " << status;

    // Before any writer recovers: a reader yields whole transactions only, numbered 1..K.
    JournalReader r(dir.path);
    r.seek(Lsn(1000));
    const auto read = readAll(r);
    for (std::size_t k = 0; k < read.txns.size(); ++k) {
      const std::uint64_t n = k + 1;
      ASSERT_EQ(read.txns[k].commit, commitOf(n).value()) << "round " << round;
      ASSERT_EQ(read.txns[k].messages.size(), messagesOf(n)) << "round " << round << " txn " << n;
      for (std::size_t i = 0; i < messagesOf(n); ++i)
        ASSERT_EQ(read.txns[k].messages[i], message(n, i, bytesOf(n)));
    }
    ASSERT_GE(read.txns.size(), previousEnd) << "round " << round << ": lost transactions";

    // Reopening cuts the torn tail: every segment ends at a transaction boundary.
    std::uint64_t bytesBefore = 0, bytesAfter = 0;
    for (Lsn s : journal::listSegments(dir.path))
      bytesBefore += fs::file_size(journal::segmentPath(dir.path, s));
    {
      JournalWriter w(options(dir.path, 256 << 10));
      EXPECT_EQ(w.end(), read.txns.empty() ? Lsn(1000) : commitOf(read.txns.size()));
    }
    for (Lsn s : journal::listSegments(dir.path)) {
      const auto path = journal::segmentPath(dir.path, s);
      journal::Fd fd = journal::openFile(path, O_RDONLY);
      journal::FrameScanner scanner(fd.get(), path);
      EXPECT_EQ(journal::scanSegment(scanner, 0, s).boundary, fs::file_size(path)) << path;
      bytesAfter += fs::file_size(path);
    }
    if (bytesAfter < bytesBefore) ++tornTails;
    previousEnd = read.txns.size();
  }
  EXPECT_GT(previousEnd, 20u) << "the child wrote too little to test anything";
  std::printf("kill -9 test: %llu transactions in %zu segments, %d torn tails cut\n",
              static_cast<unsigned long long>(previousEnd), journal::listSegments(dir.path).size(),
              tornTails);
  EXPECT_GT(tornTails, 0) << "no kill landed inside a transaction: the test proved little";
}

}  // namespace
}  // namespace pgmorph
