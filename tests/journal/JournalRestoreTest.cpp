// End to end: a target restored from a backup is brought forward from the journal. `pgmorph
// follow` writes the journal (confirm: journal) under a pgbench writer; the target is dumped with
// pg_dump at a moment (its checkpoint row, X, is in the dump); the writer goes on, then stops,
// and the follower catches up and stops — the slot has been confirmed far past X. The dump is
// restored into fresh target databases: `follow` brings one to the projection of the source
// (applying the journal from X first, where it used to stop with "changes were lost"), and
// `replay --from-lsn X` brings the other there too. `pgmorph verify` is the judge.
#include "tests/journal/JournalFixture.h"

namespace pgmorph::journal_test {
namespace {

class JournalRestoreTest : public JournalFixture {
 protected:
  void SetUp() override { setUpDatabases(true); }
};

TEST_F(JournalRestoreTest, FollowAndReplayBringARestoredTargetForwardFromTheJournal) {
  ASSERT_EQ(finish(pgmorph(base_ + ".yaml", "snapshot")), 0);
  auto& follow = pgmorph(base_ + ".yaml", "follow");
  ASSERT_TRUE(e2e::pollUntil(60s, [&] { return slotActive(); })) << follow.stderrText();
  auto& writer = pgbench(12, 200);
  // A few seconds of changes applied, then the backup.
  ASSERT_TRUE(e2e::pollUntil(30s, [&] {
    return std::stoi(test::sharedTarget().scalar(
               targetDb_, "SELECT count(*) FROM moves WHERE note = 'moved'")) > 300;
  })) << follow.stderrText();
  std::string dumpFile = base_ + ".dump";
  dump(targetDb_, dumpFile);
  ASSERT_TRUE(writer.running()) << "the writer ended before the dump: nothing after X";
  ASSERT_EQ(finish(writer), 0) << writer.stderrText();
  ASSERT_TRUE(waitCaughtUp(targetDb_)) << follow.stderrText();
  follow.signal(SIGINT);
  ASSERT_EQ(finish(follow), 0) << follow.stderrText();

  // Restored: the target is back at X, the slot long past it.
  std::string restored = restore(dumpFile);
  std::string x = checkpointOf(restored);
  std::string confirmed = test::sharedSource().scalar(
      "postgres", fmt::format("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE "
                              "slot_name = '{}'",
                              slot_));
  ASSERT_TRUE(lsnBefore(x, confirmed)) << "X " << x << ", slot confirmed " << confirmed;
  int movesAtX = std::stoi(
      test::sharedTarget().scalar(restored, "SELECT count(*) FROM moves WHERE note = 'moved'"));
  int movesAtSource = std::stoi(
      test::sharedSource().scalar(sourceDb_, "SELECT count(*) FROM inv_move WHERE note = 'moved'"));
  ASSERT_LT(movesAtX, movesAtSource) << "the dump was taken after the writer's last change";

  // follow: the journal from X, then the slot.
  std::string restoredConfig = writeConfig(base_ + ".restored.yaml", restored);
  auto& caughtUp = pgmorph(restoredConfig, "follow", {"--until-caught-up"});
  ASSERT_EQ(finish(caughtUp), 0) << caughtUp.stderrText();
  EXPECT_NE(caughtUp.stderrText().find("is behind the journal"), std::string::npos)
      << caughtUp.stderrText();
  expectSameCounts(restored);
  expectEqualToSource(restoredConfig);

  // replay --from-lsn X, separately, onto a second restore of the same dump.
  std::string replayed = restore(dumpFile);
  ASSERT_EQ(checkpointOf(replayed), x);
  std::string replayConfig = writeConfig(base_ + ".replayed.yaml", replayed);
  auto& replay =
      pgmorph(replayConfig, "replay", {"--from-lsn", x, "--until-lsn", checkpointOf(restored)});
  ASSERT_EQ(finish(replay), 0) << replay.stderrText();
  EXPECT_NE(replay.stderrText().find("from the journal"), std::string::npos) << replay.stderrText();
  // Up to where the first restore is now: the journal holds it (follow journals before it
  // applies), so the journal alone brings the target there, without the slot.
  EXPECT_EQ(replay.stderrText().find("streaming slot"), std::string::npos)
      << "replay needed the slot:\n"
      << replay.stderrText();
  expectSameCounts(replayed);
  expectEqualToSource(replayConfig);
}

}  // namespace
}  // namespace pgmorph::journal_test
