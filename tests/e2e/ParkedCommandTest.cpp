// `pgmorph parked list|retry|discard` against a target where follow parked a few rows of the
// dispatch example: list shows each with its reason and filters by table, reason and kind;
// retry applies what can land now and counts an attempt on the rest; discard removes what it
// is told to, and says how many.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tests/e2e/DispatchE2eTest.h"
#include "tests/support/PgCluster.h"

namespace pgmorph::e2e {
namespace {

struct Cli {
  int status = -1;
  std::string output;
};

class ParkedCommandTest : public DispatchE2eTest {
 protected:
  Cli pgmorph(std::vector<std::string> args) {
    std::vector<std::string> argv = {PGMORPH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-c", env().configPath()});
    Cli out;
    out.status = test::runProcess(argv, &out.output);
    return out;
  }
  std::string parkedId(const std::string& targetTable, const std::string& legacyKey) {
    PgConnection target = env().connectTarget();
    auto res = target.execParams(
        fmt::format("SELECT id FROM {} WHERE target_table = $1 AND legacy_key = $2",
                    target.quoteQualified(env().stateSchema(), "parked")),
        {targetTable, legacyKey});
    return res.rows() == 1 ? std::string(res.value(0, 0)) : std::string("<none>");
  }
  std::int64_t parkedCount() {
    PgConnection target = env().connectTarget();
    return std::stoll(
        std::string(target
                        .exec(fmt::format("SELECT count(*) FROM {}",
                                          target.quoteQualified(env().stateSchema(), "parked")))
                        .value(0, 0)));
  }
};

TEST_F(ParkedCommandTest, ListRetryAndDiscardParkedRows) {
  RunResult create = env().runFollowUntilCaughtUp();  // creates the slot
  ASSERT_EQ(create.exitStatus, 0) << create.stderrText;
  PgConnection source = env().connectSource();
  source.exec(R"(
    INSERT INTO dispatch_office (id, name, country) VALUES (1, 'Main', 'US');
    INSERT INTO dispatch_user (id, email, office_id) VALUES (1, 'one@example.com', 1),
                                                         (2, 'two at example', 1);
    INSERT INTO dispatch_notification (id, recipient_id, template, template_context)
    VALUES (10, 7, 'order_shipped', '{"order": 10}'),
           (11, 8, 'order_shipped', '{"order": 11}'),
           (12, 1, 'order_shipped', '{"order": 12, "note": "unterminated'))");
  RunResult follow = env().runFollowUntilCaughtUp();
  ASSERT_EQ(follow.exitStatus, 0) << follow.stderrText;
  ASSERT_EQ(parkedCount(), 4) << follow.stderrText;

  Cli list = pgmorph({"parked", "list", "--wide"});
  ASSERT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.output.find("4 parked rows shown"), std::string::npos) << list.output;
  for (const char* needle :
       {"refused", "missing_parent", "unconvertible", "public.system_messages", "public.profiles",
        "dispatch_notification", "violates check constraint", "not valid JSON", "MISSING PARENT"})
    EXPECT_NE(list.output.find(needle), std::string::npos) << needle << " not in:\n" << list.output;
  Cli byTable = pgmorph({"parked", "list", "--table", "profiles"});
  EXPECT_NE(byTable.output.find("1 parked row shown (1 refused)"), std::string::npos)
      << byTable.output;
  Cli byReason = pgmorph({"parked", "list", "--reason", "CHECK CONSTRAINT"});
  EXPECT_NE(byReason.output.find("1 parked row shown"), std::string::npos) << byReason.output;
  Cli byKind = pgmorph({"parked", "list", "--kind", "missing_parent"});
  EXPECT_NE(byKind.output.find("2 parked rows shown"), std::string::npos) << byKind.output;

  // A DBA creates recipient 7 on the target by hand; retrying that one message applies it.
  PgConnection target = env().connectTarget();
  std::string user7(source
                        .execParams("SELECT uuid_generate_v5($1::uuid, 'dispatch_user:7')::text",
                                    {env().idNamespace()})
                        .value(0, 0));
  target.execParams("INSERT INTO profiles (id, is_active, joined_at) VALUES ($1, true, now())",
                    {user7});
  std::string message10 = parkedId("public.system_messages", "10");
  Cli one = pgmorph({"parked", "retry", "--id", message10});
  ASSERT_EQ(one.status, 0) << one.output;
  EXPECT_NE(one.output.find("retried 1 parked row: 1 applied, 0 still parked"), std::string::npos)
      << one.output;
  EXPECT_EQ(target.exec("SELECT count(*) FROM system_messages WHERE legacy_notification_id = 10")
                .value(0, 0),
            "1");
  EXPECT_EQ(parkedCount(), 3);

  Cli unknown = pgmorph({"parked", "retry", "--id", "999999"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("no parked row with id 999999"), std::string::npos)
      << unknown.output;

  Cli all = pgmorph({"parked", "retry", "--all"});
  ASSERT_EQ(all.status, 0) << all.output;
  EXPECT_NE(all.output.find("retried 3 parked rows: 0 applied, 3 still parked"), std::string::npos)
      << all.output;
  EXPECT_EQ(target
                .exec(fmt::format("SELECT min(attempts) FROM {}",
                                  target.quoteQualified(env().stateSchema(), "parked")))
                .value(0, 0),
            "2");

  Cli discard = pgmorph({"parked", "discard", "--table", "system_messages"});
  ASSERT_EQ(discard.status, 0) << discard.output;
  EXPECT_NE(discard.output.find("discarded 2 parked rows (2 public.system_messages)"),
            std::string::npos)
      << discard.output;
  EXPECT_EQ(parkedCount(), 1);
  Cli last = pgmorph({"parked", "discard", "--id", parkedId("public.profiles", "2")});
  EXPECT_NE(last.output.find("discarded 1 parked row"), std::string::npos) << last.output;
  EXPECT_EQ(parkedCount(), 0);

  Cli bad = pgmorph({"parked", "discard"});
  EXPECT_NE(bad.status, 0) << "discard without --id or --table must refuse";
}

}  // namespace
}  // namespace pgmorph::e2e
