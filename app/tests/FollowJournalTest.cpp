// FollowJournal without a database: what follow may confirm to the source under each `confirm:`
// mode (invariant 2 with a journal), and that the tee's half-received transaction is dropped.
#include "app/follow/FollowJournal.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace pgmorph {
namespace {

struct TempJournalDir {
  std::string path;
  TempJournalDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pgmorph-fj-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempJournalDir() { std::filesystem::remove_all(path); }
};

PipelineConfig configWith(const std::string& dir, JournalConfig::Confirm confirm) {
  PipelineConfig c;
  c.pipeline = "fj";
  c.journal.dir = dir + "/journal";
  c.journal.confirm = confirm;
  return c;
}

// One source transaction (Begin, one Insert, Commit) whose commit ends at `commitEnd`.
void feedTransaction(FollowJournal& j, Lsn commitEnd, bool withCommit = true) {
  Change c;
  c.kind = ChangeKind::Begin;
  c.nextLsn = commitEnd;
  j.onMessage(c, Lsn(commitEnd.value() - 30), R"({"action":"B"})");
  c.kind = ChangeKind::Insert;
  j.onMessage(c, Lsn(commitEnd.value() - 20), R"({"action":"I","table":"t"})");
  if (!withCommit) return;
  c.kind = ChangeKind::Commit;
  j.onMessage(c, Lsn(commitEnd.value() - 10), R"({"action":"C"})");
}

TEST(FollowJournal, ConfirmJournalConfirmsWhatIsDurableInTheJournalAheadOfTheTarget) {
  TempJournalDir dir;
  PipelineConfig config = configWith(dir.path, JournalConfig::Confirm::Journal);
  FollowJournal j(config);
  j.startAt(Lsn(1000));
  feedTransaction(j, Lsn(2000));
  // The target is still at 1000; the journal holds (and syncs) the transaction up to 2000.
  EXPECT_EQ(j.confirmable(Lsn(1000)), Lsn(2000));
  // A transaction received but not whole is not confirmable, nor kept once abandoned.
  feedTransaction(j, Lsn(3000), false);
  EXPECT_EQ(j.confirmable(Lsn(1000)), Lsn(2000));
  j.abandon();
  EXPECT_EQ(j.end(), Lsn(2000));
}

TEST(FollowJournal, ConfirmTargetNeverConfirmsPastTheJournalsDurableEnd) {
  TempJournalDir dir;
  PipelineConfig config = configWith(dir.path, JournalConfig::Confirm::Target);
  FollowJournal j(config);
  j.startAt(Lsn(1000));
  feedTransaction(j, Lsn(2000));
  // The target behind the journal: the target's checkpoint.
  EXPECT_EQ(j.confirmable(Lsn(1500)), Lsn(1500));
  // The target ahead of the journal (journaling began later than the target's position, or a
  // commit the journal does not hold): never past what the journal has made durable.
  EXPECT_EQ(j.confirmable(Lsn(5000)), Lsn(2000));
  // An idle position moves both.
  j.advance(Lsn(6000));
  EXPECT_EQ(j.confirmable(Lsn(6000)), Lsn(6000));
}

TEST(FollowJournal, RetentionForcedPastAConsumerIsCounted) {
  TempJournalDir dir;
  PipelineConfig config = configWith(dir.path, JournalConfig::Confirm::Journal);
  config.journal.segmentBytes = 1;  // a segment per transaction
  config.journal.retainBytes = 1;   // keep (almost) nothing
  FollowJournal j(config);
  j.startAt(Lsn(1000));
  for (std::uint64_t t = 2000; t <= 6000; t += 1000) feedTransaction(j, Lsn(t));
  j.confirmable(Lsn(1000));
  // Another target has applied only up to 1500: its transactions go, and that is counted.
  JournalConsumers(config.journal.dir).record("other", Lsn(1500));
  EXPECT_EQ(j.tick(Lsn(6000)), std::vector<std::string>{"other"});
  EXPECT_GT(j.start(), Lsn(1500));
}

}  // namespace
}  // namespace pgmorph
