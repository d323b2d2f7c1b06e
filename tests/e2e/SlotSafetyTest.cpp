// Slot safety: a slot that was dropped (and maybe re-created) while pgmorph was stopped
// cannot deliver the changes made in between. pgmorph must notice that the slot starts past
// its checkpoint and refuse to start, saying that changes were lost and that the target
// needs a new snapshot — never stream on as if nothing happened.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>
#include <vector>

#include "tests/e2e/DispatchE2eTest.h"

namespace pgmorph::e2e {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::int64_t targetOffices(DispatchEnvironment& env) {
  PgConnection t = env.connectTarget();
  return std::stoll(std::string(t.exec("SELECT count(*) FROM offices").value(0, 0)));
}

void insertOffice(DispatchEnvironment& env, const std::string& name) {
  PgConnection s = env.connectSource();
  s.execParams("INSERT INTO dispatch_office (name, created_at) VALUES ($1, '2024-01-01')",
               {std::optional<std::string_view>(name)});
}

class SlotSafetyTest : public DispatchE2eTest {
 protected:
  // Slot created, three offices applied, checkpoint stored, pgmorph stopped.
  void followOnce() {
    RunResult create = env().runFollowUntilCaughtUp();
    ASSERT_EQ(create.exitStatus, 0) << create.stderrText;
    for (const char* name : {"North", "South", "East"}) insertOffice(env(), name);
    RunResult apply = env().runFollowUntilCaughtUp();
    ASSERT_EQ(apply.exitStatus, 0) << apply.stderrText;
    ASSERT_EQ(targetOffices(env()), 3);
    checkpoint_ = env().checkpoint();
    ASSERT_TRUE(checkpoint_) << "no checkpoint after applying three transactions";
  }

  // pgmorph refused to start, named the slot, said what happened (`what`: words of the
  // diagnosis, any of which will do) and what to do, and wrote nothing.
  void expectRefusal(const RunResult& run, const std::vector<std::string>& what) {
    EXPECT_NE(run.exitStatus, 0) << "pgmorph streamed from a slot that lost changes";
    std::string err = lower(run.stderrText);
    EXPECT_NE(err.find(lower(env().slot())), std::string::npos)
        << "the message must name the slot:\n"
        << run.stderrText;
    EXPECT_TRUE(std::any_of(what.begin(), what.end(),
                            [&](const std::string& w) { return err.find(w) != std::string::npos; }))
        << "the message must say that changes were lost:\n"
        << run.stderrText;
    EXPECT_NE(err.find("snapshot"), std::string::npos)
        << "the message must say to take a new snapshot:\n"
        << run.stderrText;
    auto after = env().checkpoint();
    ASSERT_TRUE(after);
    EXPECT_EQ(after->lsn, checkpoint_->lsn) << "the checkpoint moved";
    EXPECT_EQ(targetOffices(env()), 3) << "changes from the new slot were applied";
  }

  std::optional<CheckpointRow> checkpoint_;
};

TEST_F(SlotSafetyTest, SlotRecreatedPastTheCheckpointIsRefused) {
  ASSERT_NO_FATAL_FAILURE(followOnce());
  insertOffice(env(), "Lost before the drop");
  env().dropSlot();
  insertOffice(env(), "Lost between the slots");
  env().createSlotBySql();
  insertOffice(env(), "After the new slot");

  auto slot = env().slotState();
  ASSERT_TRUE(slot && slot->confirmedFlush);
  ASSERT_GT(*slot->confirmedFlush, checkpoint_->lsn)
      << "the scenario needs a slot past the checkpoint";
  expectRefusal(env().runFollowExpectingExit(), {"lost"});
}

TEST_F(SlotSafetyTest, SlotDroppedWhileStoppedIsNotSilentlyRecreated) {
  ASSERT_NO_FATAL_FAILURE(followOnce());
  insertOffice(env(), "Lost before the drop");
  env().dropSlot();
  insertOffice(env(), "Lost after the drop");
  // A checkpoint exists, so this is not a first run: a new slot would start after the lost
  // changes. Creating one is allowed; streaming from it is not.
  expectRefusal(env().runFollowExpectingExit(), {"lost", "no longer", "does not exist"});
}

}  // namespace
}  // namespace pgmorph::e2e
