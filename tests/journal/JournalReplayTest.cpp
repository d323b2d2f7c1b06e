// End to end: `pgmorph replay` with a corrected mapping, and what replay and follow refuse.
// - Corrected mapping: every row reaches the target through the journal (the tables are empty at
//   the snapshot); the target is emptied, the mapping changes one conversion (a map: on a
//   column), and replay from the journal's start rebuilds the target with the new mapping.
// - Refusals: an LSN before the journal's start (the message names the range it holds), a target
//   checkpoint past --from-lsn without --force, a pipeline without a journal; and follow on a
//   target behind the slot with no journal covering the gap ("changes were lost", and what the
//   journal holds).
#include "tests/journal/JournalFixture.h"

namespace pgmorph::journal_test {
namespace {

class JournalReplayTest : public JournalFixture {
 protected:
  void SetUp() override { setUpDatabases(false); }

  // Snapshot (of empty tables), follow with the journal while the rows are inserted and a short
  // pgbench run changes them, stop. Returns the checkpoint after the snapshot: the journal's start.
  std::string journalEverything(int pgbenchSeconds) {
    EXPECT_EQ(finish(pgmorph(base_ + ".yaml", "snapshot")), 0);
    std::string start = checkpointOf(targetDb_);
    auto& follow = pgmorph(base_ + ".yaml", "follow");
    EXPECT_TRUE(e2e::pollUntil(60s, [&] { return slotActive(); })) << follow.stderrText();
    test::sharedSource().psql(sourceDb_, kSourceRows);
    if (pgbenchSeconds > 0) {
      EXPECT_EQ(finish(pgbench(pgbenchSeconds, 200)), 0);
    }
    EXPECT_TRUE(waitCaughtUp(targetDb_)) << follow.stderrText();
    follow.signal(SIGINT);
    EXPECT_EQ(finish(follow), 0) << follow.stderrText();
    return start;
  }
};

TEST_F(JournalReplayTest, ReplayIntoAnEmptiedTargetUsesTheCorrectedMapping) {
  std::string start = journalEverything(5);
  ASSERT_FALSE(HasFailure());
  ASSERT_NE(test::sharedTarget().scalar(targetDb_,
                                        "SELECT count(*) FROM moves WHERE note = "
                                        "'moved'"),
            "0");
  // Emptied, without pgmorph's checkpoint: taken to be at --from-lsn. Replayed up to where it
  // was, all of which is in the journal.
  std::string until = checkpointOf(targetDb_);
  test::sharedTarget().psql(targetDb_, "TRUNCATE moves, items; DELETE FROM inv_state.checkpoint");
  std::string corrected =
      writeConfig(base_ + ".corrected.yaml", targetDb_, "{ initial: first, moved: moved-v2 }");
  auto& replay = pgmorph(corrected, "replay", {"--from-lsn", start, "--until-lsn", until});
  ASSERT_EQ(finish(replay), 0) << replay.stderrText();
  EXPECT_EQ(replay.stderrText().find("streaming slot"), std::string::npos) << replay.stderrText();
  EXPECT_EQ(test::sharedTarget().scalar(targetDb_,
                                        "SELECT count(*) FROM moves WHERE note IN ('moved', "
                                        "'initial')"),
            "0");
  EXPECT_NE(
      test::sharedTarget().scalar(targetDb_, "SELECT count(*) FROM moves WHERE note = 'moved-v2'"),
      "0");
  expectEqualToSource(corrected);
}

TEST_F(JournalReplayTest, RefusesWhatItCannotDoAndSaysWhy) {
  std::string start = journalEverything(0);
  ASSERT_FALSE(HasFailure());
  std::string config = base_ + ".yaml";

  // Before the journal's start: the range is named.
  auto& before = pgmorph(config, "replay", {"--from-lsn", "0/10"});
  ASSERT_EQ(finish(before), 2) << before.stderrText();
  EXPECT_NE(before.stderrText().find("does not cover --from-lsn 0/10"), std::string::npos)
      << before.stderrText();
  EXPECT_NE(before.stderrText().find("committing after " + start + " up to"), std::string::npos)
      << before.stderrText();

  // The target's checkpoint is past --from-lsn: not without --force.
  std::string checkpoint = checkpointOf(targetDb_);
  ASSERT_TRUE(lsnBefore(start, checkpoint));
  auto& past = pgmorph(config, "replay", {"--from-lsn", start});
  ASSERT_EQ(finish(past), 2) << past.stderrText();
  EXPECT_NE(past.stderrText().find("is at " + checkpoint + ", past " + start), std::string::npos)
      << past.stderrText();
  EXPECT_NE(past.stderrText().find("--force"), std::string::npos) << past.stderrText();
  EXPECT_EQ(checkpointOf(targetDb_), checkpoint) << "a refused replay moved the checkpoint";

  // No journal configured.
  std::string noJournal = writeConfig(base_ + ".nojournal.yaml", targetDb_, "", false);
  auto& none = pgmorph(noJournal, "replay", {"--from-lsn", start});
  ASSERT_EQ(finish(none), 2) << none.stderrText();
  EXPECT_NE(none.stderrText().find("has no journal"), std::string::npos) << none.stderrText();

  // follow on a target behind the slot, with the journal gone: the changes were lost, and the
  // message says what the (new, empty) journal holds.
  test::sharedTarget().psql(targetDb_,
                            fmt::format("UPDATE inv_state.checkpoint SET lsn = '{}'", start));
  std::filesystem::rename(journalDir_, journalDir_ + ".moved");
  auto& lost = pgmorph(config, "follow", {"--until-caught-up"});
  ASSERT_EQ(finish(lost), 2) << lost.stderrText();
  EXPECT_NE(lost.stderrText().find("Changes were lost"), std::string::npos) << lost.stderrText();
  EXPECT_NE(lost.stderrText().find("is empty, which does not cover them"), std::string::npos)
      << lost.stderrText();
}

}  // namespace
}  // namespace pgmorph::journal_test
