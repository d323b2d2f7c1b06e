// Resume: after a `follow --until-caught-up` run has applied everything, a known set of new
// source changes (50 inserts, 10 updates, 5 deletes over several tables and transactions) is
// made, and a second run applies exactly those: the target's audit shows those events and
// nothing else (nothing already applied comes again), and the target equals the projection.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "tests/e2e/AuditLog.h"
#include "tests/e2e/DispatchE2eTest.h"

namespace pgmorph::e2e {
namespace {

// Every target table whose rows follow one source row. `jaws` is left out: its order_id and
// jaw_type are also written by orders (mode: update), so an order's update may or may not
// touch its jaws, and that is not what this test is about.
const std::vector<std::string> kAuditedTables = {
    "offices",    "profiles",        "doctors",  "patients",    "orders",
    "case_files", "system_messages", "payments", "case_states", "order_states"};

// Runs one statement whose RETURNING gives the uuid of each row it wrote ($1 = namespace), and
// records the audit event pgmorph should produce for each.
void expect(PgConnection& source, const std::string& ns, std::vector<AuditEvent>& expected,
            const std::string& targetTable, const std::string& op, const std::string& sql) {
  auto res = source.execParams(sql, {std::optional<std::string_view>(ns)});
  for (int r = 0; r < res.rows(); ++r)
    expected.push_back(AuditEvent{targetTable, std::string(res.value(r, 0)), op});
}

TEST_F(DispatchE2eTest, SecondRunAppliesExactlyTheChangesMadeSinceTheFirst) {
  {
    PgConnection target = env().connectTarget();
    AuditLog::install(target, kAuditedTables);
  }
  // First run: creates the slot; nothing was written yet, so it is caught up at once.
  RunResult first = env().runFollowUntilCaughtUp();
  ASSERT_EQ(first.exitStatus, 0) << first.stderrText;
  env().loadSampleData();
  RunResult second = env().runFollowUntilCaughtUp();
  ASSERT_EQ(second.exitStatus, 0) << second.stderrText;
  {
    ComparisonReport report = env().compareWithProjection();
    ASSERT_TRUE(report.equal()) << report.str();
  }
  auto before = env().checkpoint();
  ASSERT_TRUE(before);
  PgConnection target = env().connectTarget();
  std::int64_t mark = AuditLog::lastSeq(target);
  ASSERT_GT(mark, 20000) << "the audit did not see the sample data";

  // The known changes, in four source transactions.
  PgConnection source = env().connectSource();
  const std::string& ns = env().idNamespace();
  std::vector<AuditEvent> expected;
  expect(source, ns, expected, "system_messages", "INSERT", R"(
      INSERT INTO dispatch_notification (recipient_id, template, template_context, is_read, created_at)
      SELECT 1 + g, 'comment_added', '{"resume": ' || g || '}', g % 2,
             timestamp '2024-05-01 08:00' + g * interval '1 minute'
      FROM generate_series(1, 20) g
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_notification:' || id)::text)");
  source.exec("BEGIN");
  expect(source, ns, expected, "payments", "INSERT", R"(
      INSERT INTO dispatch_payment (instruction_id, amount, method, paid_at)
      SELECT 10 + g, 100 + g + 0.25, CASE WHEN g % 2 = 0 THEN 'wire' END,
             timestamp '2024-05-02 09:00' + g * interval '1 hour'
      FROM generate_series(1, 10) g
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_payment:' || id)::text)");
  expect(source, ns, expected, "case_states", "INSERT", R"(
      INSERT INTO dispatch_state (kind, patient_id, state, changed_at)
      SELECT 'case', 20 + g, 'approved', timestamp '2024-05-03' + g * interval '1 day'
      FROM generate_series(1, 5) g
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_state:' || id)::text)");
  expect(source, ns, expected, "order_states", "INSERT", R"(
      INSERT INTO dispatch_state (kind, instruction_id, state, changed_at)
      SELECT 'order', 30 + g, 'closed', timestamp '2024-05-04' + g * interval '1 day'
      FROM generate_series(1, 5) g
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_state:' || id)::text)");
  expect(source, ns, expected, "case_files", "INSERT", R"(
      INSERT INTO dispatch_file (instruction_id, name, size, created_at)
      SELECT 40 + g, 'resume_' || g || '.stl', 4096 * g, timestamp '2024-05-05 10:00'
      FROM generate_series(1, 10) g
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_file:' || id)::text)");
  source.exec("COMMIT");
  source.exec("BEGIN");
  expect(source, ns, expected, "orders", "UPDATE", R"(
      UPDATE dispatch_instruction SET status = (status + 1) % 5, price = price + 1
      WHERE id BETWEEN 1 AND 5
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_instruction:' || id)::text)");
  expect(source, ns, expected, "patients", "UPDATE", R"(
      UPDATE dispatch_patient SET last_name = last_name || '-resumed'
      WHERE id BETWEEN 1 AND 5
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_patient:' || id)::text)");
  source.exec("COMMIT");
  source.exec("BEGIN");
  expect(source, ns, expected, "payments", "DELETE", R"(
      DELETE FROM dispatch_payment WHERE id IN (1, 2, 3)
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_payment:' || id)::text)");
  expect(source, ns, expected, "case_files", "DELETE", R"(
      DELETE FROM dispatch_file WHERE id IN (1, 2)
      RETURNING uuid_generate_v5($1::uuid, 'dispatch_file:' || id)::text)");
  source.exec("COMMIT");
  ASSERT_EQ(expected.size(), 65u) << "the known changes did not all happen on the source";

  RunResult third = env().runFollowUntilCaughtUp();
  ASSERT_EQ(third.exitStatus, 0) << third.stderrText;

  std::vector<AuditEvent> applied = AuditLog::events(target, mark);
  std::sort(expected.begin(), expected.end());
  std::sort(applied.begin(), applied.end());
  std::vector<AuditEvent> missing, unexpected;
  std::set_difference(expected.begin(), expected.end(), applied.begin(), applied.end(),
                      std::back_inserter(missing));
  std::set_difference(applied.begin(), applied.end(), expected.begin(), expected.end(),
                      std::back_inserter(unexpected));
  auto show = [](const std::vector<AuditEvent>& events) {
    std::string out;
    for (std::size_t i = 0; i < events.size() && i < 10; ++i)
      out += fmt::format("  {} {} {}\n", events[i].op, events[i].table, events[i].id);
    return out;
  };
  EXPECT_TRUE(missing.empty()) << missing.size() << " expected writes not made:\n" << show(missing);
  EXPECT_TRUE(unexpected.empty()) << unexpected.size()
                                  << " writes that no new source change asked for:\n"
                                  << show(unexpected);

  auto after = env().checkpoint();
  ASSERT_TRUE(after);
  EXPECT_GT(after->lsn, before->lsn);
  EXPECT_GE(after->appliedTransactions, before->appliedTransactions + 4)
      << "four source transactions were made";

  ComparisonReport report = env().compareWithProjection();
  EXPECT_TRUE(report.equal()) << report.str();
}

}  // namespace
}  // namespace pgmorph::e2e
