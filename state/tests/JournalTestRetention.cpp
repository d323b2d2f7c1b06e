// Retention by age and bytes, consumers' positions protecting segments, and the one-writer
// lock.
#include <unistd.h>

#include <gtest/gtest.h>

#include "cdc/model/Errors.h"
#include "state/journal/SegmentFile.h"
#include "state/tests/JournalTestUtil.h"

namespace pgmorph {
namespace {

using namespace journaltest;
namespace fs = std::filesystem;

// Writes 40 transactions into small segments and ages every segment but the open one.
std::vector<Lsn> fill(JournalWriter& w, const fs::path& dir) {
  w.startAt(Lsn(1000));
  for (std::uint64_t n = 1; n <= 40; ++n) writeTxn(w, n, 3);
  auto segments = journal::listSegments(dir);
  for (std::size_t i = 0; i + 1 < segments.size(); ++i)
    fs::last_write_time(journal::segmentPath(dir, segments[i]),
                        fs::file_time_type::clock::now() - std::chrono::hours(3));
  return segments;
}

TEST(JournalRetentionTest, AgeRemovesOldSegmentsButNotWhatAConsumerHasNotApplied) {
  TempDir dir;
  JournalOptions o = options(dir.path, 2 << 10);
  o.retainAge = std::chrono::hours(1);
  JournalWriter w(o);
  const auto segments = fill(w, dir.path);
  ASSERT_GE(segments.size(), 5u);
  // The consumer applied up to the end of the second segment (the third's start) and a bit.
  JournalConsumers(dir.path).record("target-a", Lsn(segments[2].value() + 1));
  auto r = w.applyRetention();
  EXPECT_EQ(r.removedSegments, 2u);
  EXPECT_TRUE(r.forcedPast.empty());
  EXPECT_EQ(journal::listSegments(dir.path).front(), segments[2]);
  EXPECT_EQ(w.start(), segments[2]);
  EXPECT_FALSE(fs::exists(journal::indexPath(dir.path, segments[0])));
  // Once applied, age takes all closed segments, never the open one.
  JournalConsumers(dir.path).record("target-a", commitOf(40));
  r = w.applyRetention();
  EXPECT_EQ(r.removedSegments, segments.size() - 3);
  EXPECT_EQ(journal::listSegments(dir.path), std::vector<Lsn>{segments.back()});
  JournalReader reader(dir.path);
  const auto info = reader.info();
  ASSERT_EQ(info.consumers.size(), 1u);
  EXPECT_EQ(info.consumers[0].name, "target-a");
  EXPECT_EQ(info.consumers[0].applied, commitOf(40));
  EXPECT_LT(std::chrono::system_clock::now() - info.consumers[0].updated, std::chrono::minutes(1));
}

TEST(JournalRetentionTest, BytesForcePastAConsumerAndSaySo) {
  TempDir dir;
  JournalOptions o = options(dir.path, 2 << 10);
  auto sizing = std::make_unique<JournalWriter>(options(dir.path, 2 << 10));
  const auto segments = fill(*sizing, dir.path);
  std::uint64_t total = 0;
  for (Lsn s : segments) total += fs::file_size(journal::segmentPath(dir.path, s));
  const auto first = fs::file_size(journal::segmentPath(dir.path, segments[0]));
  const auto second = fs::file_size(journal::segmentPath(dir.path, segments[1]));
  sizing.reset();
  JournalConsumers(dir.path).record("slow", Lsn(1000));
  JournalConsumers(dir.path).record("fast", commitOf(40));
  // Just over the size of all but the first two segments: exactly two must go.
  o.retainBytes = total - first - second;
  JournalWriter w(o);
  const auto r = w.applyRetention();
  EXPECT_EQ(r.removedSegments, 2u);
  EXPECT_EQ(r.removedBytes, first + second);
  EXPECT_EQ(r.forcedPast, std::vector<std::string>{"slow"});
  EXPECT_EQ(w.start(), segments[2]);
}

TEST(JournalRetentionTest, NoLimitsRemoveNothing) {
  TempDir dir;
  JournalWriter w(options(dir.path, 2 << 10));
  const auto segments = fill(w, dir.path);
  EXPECT_EQ(w.applyRetention().removedSegments, 0u);
  EXPECT_EQ(journal::listSegments(dir.path), segments);
}

TEST(JournalRetentionTest, ASecondWriterIsRefusedNamingTheHolder) {
  TempDir dir;
  JournalWriter first(options(dir.path, 1 << 20));
  try {
    JournalWriter second(options(dir.path, 1 << 20));
    FAIL() << "a second writer opened";
  } catch (const PgmorphError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(std::string(e.what()).find("process " + std::to_string(::getpid())),
              std::string::npos)
        << e.what();
  }
}

TEST(JournalRetentionTest, AConsumerNameMustBeAFileName) {
  TempDir dir;
  EXPECT_THROW(JournalConsumers(dir.path).record("../x", Lsn(1)), ConfigError);
}

}  // namespace
}  // namespace pgmorph
