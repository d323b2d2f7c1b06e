// End to end: snapshot.index_foreign_keys on the example, whose target.sql indexes none of its
// foreign keys' columns. The snapshot is killed (-9) while it builds system_messages' indexes
// (after that table's copy; a test session's lock holds the build back until the kill), and
// the indexes it was to build for the foreign keys stay recorded as suspended; the next `run`
// builds every one of them — afterwards no foreign key onto a table lacks its index, nothing
// is left suspended, and the target equals the projection of the source.
#include <gtest/gtest.h>

#include <chrono>

#include <fmt/format.h>

#include "tests/e2e/PgmorphProcessTest.h"
#include "tests/e2e/Poll.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

// Foreign keys of the public schema that no valid, non-partial index leads with.
constexpr const char* kUnindexedForeignKeys = R"(
SELECT count(*) FROM pg_constraint c
 WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
   AND NOT EXISTS (
         SELECT 1 FROM pg_index i
          WHERE i.indrelid = c.conrelid AND i.indisvalid AND i.indpred IS NULL
            AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)]
                @> c.conkey
            AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)]
                <@ c.conkey))";

class ForeignKeyIndexBulkLoadTest : public PgmorphProcessTest {
 protected:
  ForeignKeyIndexBulkLoadTest() : PgmorphProcessTest("fkidx") {}

  std::vector<MappingEdit> mappingEdits() const override {
    return {{"tables:", "snapshot: { index_foreign_keys: true }\ntables:"}};
  }

  int scalar(PgConnection& conn, const std::string& sql) {
    return std::stoi(std::string(conn.exec(sql).value(0, 0)));
  }

  // Definitions recorded for this pipeline named "..._fkidx", in `state` ("" for any).
  int fkIndexRecords(PgConnection& target, const std::string& state) {
    return std::stoi(std::string(
        target
            .execParams(fmt::format("SELECT count(*) FROM {}.suspended_ddl WHERE pipeline = $1"
                                    " AND name LIKE '%\\_fkidx' AND ($2 = '' OR state = $2)",
                                    target.quoteIdent(env().stateSchema())),
                        {env().pipeline(), state})
            .value(0, 0)));
  }
};

TEST_F(ForeignKeyIndexBulkLoadTest, KilledBeforeTheyAreBuiltTheNextRunBuildsEveryForeignKeyIndex) {
  env().loadSampleData(4);
  env().connectSource().exec("ANALYZE");
  PgConnection watcher = env().connectTarget();
  int unindexed = scalar(watcher, kUnindexedForeignKeys);
  ASSERT_GE(unindexed, 5) << "the example's target.sql indexes its foreign keys now";

  ChildProcess& first = startPgmorph("snapshot", {"--jobs", "2"});
  PgConnection blocker = env().connectTarget();
  ASSERT_TRUE(pollUntil(
      60s,
      [&] {
        if (!first.running()) return true;
        return scalar(watcher,
                      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                      " AND query LIKE 'COPY \"public\".\"system_messages\"%'"
                      " AND state = 'active'") > 0;
      },
      5ms));
  ASSERT_TRUE(first.running()) << first.stderrText();
  blocker.exec("BEGIN");
  blocker.exec("LOCK TABLE system_messages IN ROW EXCLUSIVE MODE");
  ASSERT_TRUE(pollUntil(
      120s,
      [&] {
        if (!first.running()) return true;
        return scalar(watcher,
                      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                      " AND query LIKE 'CREATE %INDEX %system_messages%'"
                      " AND wait_event_type = 'Lock'") > 0;
      },
      10ms));
  ASSERT_EQ(first.kill9(), 137) << "the snapshot ended before its rebuild could be caught:\n"
                                << first.stderrText();
  blocker.exec("COMMIT");
  std::string log = first.stderrText();
  EXPECT_NE(log.find("snapshot.index_foreign_keys: building index system_messages_recipient_id_"
                     "fkidx on system_messages (recipient_id) for foreign key"),
            std::string::npos)
      << log;
  EXPECT_EQ(fkIndexRecords(watcher, ""), unindexed);
  EXPECT_GT(fkIndexRecords(watcher, "suspended"), 0) << "every index was built before the kill";

  ChildProcess& run = startPgmorph("run", {"--until-caught-up", "--jobs", "2"});
  ASSERT_EQ(finish(run, 180s), 0) << run.stderrText();
  EXPECT_EQ(scalar(watcher, kUnindexedForeignKeys), 0);
  EXPECT_EQ(scalar(watcher,
                   "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"
                   " AND indexname LIKE '%\\_fkidx'"),
            unindexed);
  EXPECT_EQ(fkIndexRecords(watcher, "suspended"), 0);
  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 100000u) << report.str();
  EXPECT_TRUE(report.equal()) << report.str();
}

}  // namespace
}  // namespace pgmorph::e2e
