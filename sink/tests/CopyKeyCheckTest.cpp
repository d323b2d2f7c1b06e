// CopyKeyCheck against a real PostgreSQL 15 target: rows loaded without the row-by-row
// foreign-key triggers (session_replication_role = replica) are checked in bulk — a missing
// parent is refused with the constraint and the rows' legacy keys, NULL keys are not
// checked (MATCH SIMPLE), and keys to tables outside the mapping are checked too.
#include "sink/CopyKeyCheck.h"

#include <gtest/gtest.h>

#include "cdc/model/Errors.h"
#include "sink/TargetCatalog.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

class CopyKeyCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("keycheck");
    conn_ = std::make_unique<PgConnection>(test::sharedTarget().conninfo(db_), "target");
    conn_->exec(
        "CREATE TABLE countries (code text PRIMARY KEY);"
        "CREATE TABLE users (id int PRIMARY KEY);"
        "CREATE TABLE messages (id int PRIMARY KEY, legacy_id int, user_id int"
        "  CONSTRAINT messages_user_fk REFERENCES users (id),"
        "  lang text, country text CONSTRAINT messages_country_fk REFERENCES countries (code));"
        "INSERT INTO users VALUES (1), (2); INSERT INTO countries VALUES ('US')");
  }
  void TearDown() override {
    conn_.reset();
    test::sharedTarget().dropDatabase(db_);
  }
  void check() {
    auto catalog = TargetCatalog::read(*conn_, {"public.messages", "public.users"});
    CopyKeyCheck::check(*conn_, catalog.graph(), "public.messages", "legacy_id",
                        "public.legacy_messages");
  }

  std::string db_;
  std::unique_ptr<PgConnection> conn_;
};

TEST_F(CopyKeyCheckTest, RowsWhoseParentsExistOrWhoseKeysAreNullPass) {
  conn_->exec("SET session_replication_role = replica");
  conn_->exec("INSERT INTO messages VALUES (1, 101, 1, 'en', 'US'), (2, 102, NULL, 'en', NULL)");
  EXPECT_NO_THROW(check());
}

TEST_F(CopyKeyCheckTest, AMissingParentIsRefusedWithTheConstraintAndTheLegacyKeys) {
  conn_->exec("SET session_replication_role = replica");
  conn_->exec("BEGIN");
  conn_->exec(
      "INSERT INTO messages VALUES (1, 101, 1, 'en', 'US'), (2, 102, 7, 'en', 'US'),"
      " (3, 103, 8, 'en', 'US')");
  try {
    check();
    FAIL() << "rows naming missing users passed";
  } catch (const PgmorphError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(msg.find("messages_user_fk"), std::string::npos) << msg;
    EXPECT_NE(msg.find("2 rows"), std::string::npos) << msg;
    EXPECT_NE(msg.find("legacy_id 102 (user_id = 7)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("legacy_id 103 (user_id = 8)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("public.legacy_messages"), std::string::npos) << msg;
    EXPECT_NE(msg.find("public.users"), std::string::npos) << msg;
  }
  conn_->exec("ROLLBACK");
  // A parent table the mapping does not write (countries) is checked as well.
  conn_->exec("INSERT INTO messages VALUES (4, 104, 1, 'en', 'XX')");
  try {
    check();
    FAIL() << "a row naming a missing country passed";
  } catch (const PgmorphError& e) {
    EXPECT_NE(std::string(e.what()).find("messages_country_fk"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pgmorph
