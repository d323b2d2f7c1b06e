// Connections that fail: what needs a person (a refused password, a missing one, no such
// database) is told apart from what waiting fixes (a server down, starting up, shutting down),
// without a SQLSTATE from libpq; and the server's NOTICEs go to the log, not to stderr.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "cdc/pg/PgConnection.h"
#include "cdc/pg/PgError.h"
#include "cdc/pg/SqlState.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

ErrorClass classOf(const ConnectFailure& f) {
  return PgError::classify(f.sqlstate);
}

TEST(ConnectFailure, AMissingOrRefusedPasswordNeedsAPersonAndSaysWhatToFix) {
  auto missing = classifyConnectFailure(true, false, "fe_sendauth: no password supplied", "target");
  EXPECT_EQ(missing.sqlstate, sqlstate::kInvalidAuthorizationSpecification);
  EXPECT_EQ(classOf(missing), ErrorClass::Operator);
  EXPECT_NE(missing.advice.find("target.conninfo"), std::string::npos) << missing.advice;

  // The server's text is not needed: a password was sent and the connection failed.
  auto refused = classifyConnectFailure(false, true, "connection failed: whatever", "source");
  EXPECT_EQ(refused.sqlstate, sqlstate::kInvalidPassword);
  EXPECT_EQ(classOf(refused), ErrorClass::Operator);
  EXPECT_NE(refused.advice.find("source.conninfo"), std::string::npos) << refused.advice;
  EXPECT_NE(refused.advice.find("PGPASSWORD"), std::string::npos) << refused.advice;
}

TEST(ConnectFailure, AServerThatIsDownOrStartingIsRetried) {
  for (const char* msg :
       {"connection to server at \"127.0.0.1\", port 5 failed: Connection refused",
        "connection to server at \"127.0.0.1\", port 5 failed: FATAL:  the database system is "
        "starting up",
        "connection to server at \"127.0.0.1\", port 5 failed: FATAL:  the database system is "
        "shutting down",
        "server closed the connection unexpectedly"}) {
    auto f = classifyConnectFailure(false, false, msg, "target");
    EXPECT_EQ(classOf(f), ErrorClass::Transient) << msg;
    EXPECT_TRUE(f.advice.empty()) << msg;
  }
}

TEST(ConnectFailure, TheServersRefusalsWithoutAPasswordAreReadFromItsMessage) {
  EXPECT_EQ(refusedStartupSqlstate("... failed: FATAL:  database \"nope\" does not exist"),
            sqlstate::kInvalidCatalogName);
  EXPECT_EQ(refusedStartupSqlstate("... failed: FATAL:  role \"bob\" does not exist"),
            sqlstate::kInvalidAuthorizationSpecification);
  EXPECT_EQ(refusedStartupSqlstate("... failed: FATAL:  no pg_hba.conf entry for host \"1.2.3.4\""),
            sqlstate::kInvalidAuthorizationSpecification);
  EXPECT_EQ(refusedStartupSqlstate("... FATAL:  permission denied for database \"x\""),
            sqlstate::kInsufficientPrivilege);
  // A localized or unknown text is a connection failure: retried, never an exit.
  EXPECT_EQ(refusedStartupSqlstate("... FATAL:  la base de données « x » n'existe pas"),
            sqlstate::kConnectionFailure);
}

TEST(ConnectFailure, AWrongPasswordOnARealServerIsAnOperatorErrorWithoutThePassword) {
  auto& cluster = test::sharedTarget();
  cluster.requirePassword("pgmorph_pw_unit", "right-one");
  try {
    PgConnection conn(cluster.conninfoAs("pgmorph_pw_unit", "wr0ngPass", "postgres"), "target");
    FAIL() << "connected with a wrong password";
  } catch (const PgError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator) << msg;
    EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidPassword) << msg;
    EXPECT_EQ(e.side(), "target");
    EXPECT_NE(msg.find("target.conninfo"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("wr0ngPass"), std::string::npos) << msg;
  }
  // The right password still works: only this role asks for one.
  PgConnection ok(cluster.conninfoAs("pgmorph_pw_unit", "right-one", "postgres"), "target");
  EXPECT_TRUE(ok.isOk());
}

TEST(ConnectFailure, ADatabaseThatDoesNotExistNeedsAPerson) {
  try {
    PgConnection conn(test::sharedTarget().conninfo("no_such_db_pgmorph"), "target");
    FAIL() << "connected to a database that does not exist";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidCatalogName) << e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
  }
}

TEST(PgConnectionNotices, GoToTheLogOneLineEachNeverToStderr) {
  std::ostringstream logged;
  auto previous = spdlog::default_logger();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(logged);
  auto logger = std::make_shared<spdlog::logger>("notices", sink);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);

  PgConnection conn(test::sharedTarget().conninfo(), "target");
  testing::internal::CaptureStderr();
  conn.exec("CREATE SCHEMA IF NOT EXISTS public");  // NOTICE: schema "public" already exists
  conn.exec("DO $$BEGIN RAISE WARNING 'two%lines', E'\\n'; END$$");
  std::string err = testing::internal::GetCapturedStderr();
  spdlog::set_default_logger(previous);

  EXPECT_EQ(err.find("NOTICE"), std::string::npos) << err;
  EXPECT_EQ(err.find("WARNING"), std::string::npos) << err;
  std::string log = logged.str();
  EXPECT_NE(log.find("[debug] target database said: schema \"public\" already exists, skipping"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("[warning] target database warning: two lines"), std::string::npos) << log;
}

}  // namespace
}  // namespace pgmorph
