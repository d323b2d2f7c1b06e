// A row that must stop the pipeline stops it, precisely: a notification whose recipient does
// not exist (the legacy table has no foreign key; the target's system_messages.recipient_id
// has one). The stream's default for a missing parent is to park the row and go on
// (invariant 5), so this test's mapping says `on_missing: fail` for recipient_id — the one
// way a user asks pgmorph to stop. pgmorph must exit non-zero naming the source table, the
// legacy id, the target table and what is wrong (the database's refusal, or pgmorph's own
// finding that the parent is missing); the checkpoint must stay before that transaction;
// and a second run must not skip it but fail the same way.
#include <gtest/gtest.h>

#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "tests/e2e/DispatchE2eTest.h"

namespace pgmorph::e2e {
namespace {

std::int64_t count(PgConnection& c, const std::string& sql, const std::string& arg) {
  auto res = c.execParams(sql, {std::optional<std::string_view>(arg)});
  return std::stoll(std::string(res.value(0, 0)));
}

void expectPreciseRefusal(const RunResult& run, const std::string& legacyId) {
  EXPECT_NE(run.exitStatus, 0) << "pgmorph must stop on a refused row";
  for (const char* needle : {"dispatch_notification", "system_messages"}) {
    EXPECT_NE(run.stderrText.find(needle), std::string::npos)
        << "stderr does not mention '" << needle << "':\n"
        << run.stderrText;
  }
  EXPECT_NE(run.stderrText.find(legacyId), std::string::npos)
      << "stderr does not name the legacy id " << legacyId << ":\n"
      << run.stderrText;
  // What is wrong: the server's words when the target refused the row, or pgmorph's own
  // when it found the parent missing before writing.
  bool refusedByTarget =
      run.stderrText.find("violates foreign key constraint") != std::string::npos;
  bool foundMissing = run.stderrText.find("not on the target") != std::string::npos &&
                      run.stderrText.find("recipient_id") != std::string::npos;
  EXPECT_TRUE(refusedByTarget || foundMissing)
      << "stderr does not say that the recipient is missing:\n"
      << run.stderrText;
}

class RefusedRowTest : public DispatchE2eTest {
 protected:
  std::vector<MappingEdit> mappingEdits() const override {
    return {{"recipient_id: { to: recipient_id, ref: dispatch_user }",
             "recipient_id: { to: recipient_id, ref: dispatch_user, on_missing: fail }"}};
  }
};

TEST_F(RefusedRowTest, MissingParentWithOnMissingFailStopsThePipelineAndIsNotSkippedOnRerun) {
  RunResult create = env().runFollowUntilCaughtUp();  // creates the slot
  ASSERT_EQ(create.exitStatus, 0) << create.stderrText;
  env().loadSampleData();
  RunResult load = env().runFollowUntilCaughtUp();
  ASSERT_EQ(load.exitStatus, 0) << load.stderrText;

  PgConnection source = env().connectSource();
  source.exec("BEGIN");
  auto res = source.exec(
      "INSERT INTO dispatch_notification (recipient_id, template, template_context, is_read, "
      "created_at) VALUES (987654, 'order_shipped', '{\"order\": 1}', 0, "
      "'2024-06-01 12:00') RETURNING id");
  std::string refusedId(res.value(0, 0));
  // The refused transaction's commit record ends after this position.
  Lsn insideRefused =
      Lsn::parse(source.exec("SELECT pg_current_wal_insert_lsn()::text").value(0, 0));
  source.exec("COMMIT");
  // A valid change after it: it must not be applied either, the stream stops in order.
  res = source.exec(
      "INSERT INTO dispatch_notification (recipient_id, template, template_context, is_read, "
      "created_at) VALUES (1, 'order_shipped', '{\"order\": 2}', 0, '2024-06-01 12:01') "
      "RETURNING id");
  std::string laterId(res.value(0, 0));

  RunResult refused = env().runFollowExpectingExit();
  expectPreciseRefusal(refused, refusedId);

  auto checkpoint = env().checkpoint();
  ASSERT_TRUE(checkpoint);
  EXPECT_LE(checkpoint->lsn, insideRefused) << "the checkpoint moved past the refused transaction";
  PgConnection target = env().connectTarget();
  const std::string byLegacyId =
      "SELECT count(*) FROM system_messages WHERE legacy_notification_id = $1::bigint";
  EXPECT_EQ(count(target, byLegacyId, refusedId), 0);
  EXPECT_EQ(count(target, byLegacyId, laterId), 0) << "a change after the refused one was applied";

  // Rerun: the same transaction comes first again and is refused again.
  RunResult again = env().runFollowExpectingExit();
  expectPreciseRefusal(again, refusedId);
  auto checkpointAgain = env().checkpoint();
  ASSERT_TRUE(checkpointAgain);
  EXPECT_EQ(checkpointAgain->lsn, checkpoint->lsn) << "the rerun skipped the refused transaction";
  EXPECT_EQ(count(target, byLegacyId, laterId), 0);
}

}  // namespace
}  // namespace pgmorph::e2e
