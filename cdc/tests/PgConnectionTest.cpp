#include "cdc/pg/PgConnection.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "cdc/model/Errors.h"
#include "cdc/pg/PgError.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {

TEST(PgConnection, PinsUtcIsoAndUtf8WhateverTheEnvironmentSays) {
  ::setenv("PGTZ", "America/New_York", 1);
  ::setenv("PGDATESTYLE", "German", 1);
  ::setenv("PGCLIENTENCODING", "LATIN1", 1);
  PgConnection conn(test::sharedSource().conninfo() + " client_encoding=WIN1252", "source");
  ::unsetenv("PGTZ");
  ::unsetenv("PGDATESTYLE");
  ::unsetenv("PGCLIENTENCODING");
  auto res = conn.exec(
      "SELECT current_setting('TimeZone'), current_setting('DateStyle'),"
      " '2024-03-01 12:00:00+00'::timestamptz::text, current_setting('client_encoding'),"
      " current_setting('bytea_output')");
  EXPECT_EQ(res.value(0, 0), "UTC");
  EXPECT_EQ(res.value(0, 1), "ISO, MDY");
  EXPECT_EQ(res.value(0, 2), "2024-03-01 12:00:00+00");
  EXPECT_EQ(res.value(0, 3), "UTF8");
  EXPECT_EQ(res.value(0, 4), "hex");
}

TEST(PgConnection, KeepsTheUsersOwnOptions) {
  PgConnection conn(test::sharedSource().conninfo() + " options='-c work_mem=7MB'", "source");
  EXPECT_EQ(conn.exec("SHOW work_mem").value(0, 0), "7MB");
  EXPECT_EQ(conn.exec("SHOW TimeZone").value(0, 0), "UTC");
}

TEST(PgConnection, ErrorsNameTheRoleAndNeverThePassword) {
  try {
    PgConnection conn("host=127.0.0.1 port=1 dbname=x user=u password=s3cret connect_timeout=2",
                      "target");
    FAIL() << "connected to port 1";
  } catch (const PgError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("target"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("s3cret"), std::string::npos) << msg;
    EXPECT_NE(msg.find("password=********"), std::string::npos) << msg;
    EXPECT_EQ(e.errorClass(), ErrorClass::Transient);
  }
}

// A password with a space (an expanded ${VAR}, say) breaks the key=value syntax, and libpq's
// parse error quotes the word after the space: it must not reach the message.
TEST(PgConnection, AnUnparseableConninfoNeverShowsAPieceOfThePassword) {
  for (std::string conninfo : {"host=127.0.0.1 dbname=x password=first second",
                               "postgresql://u:first%zzsecond@127.0.0.1/x"}) {
    try {
      PgConnection conn(conninfo, "source");
      FAIL() << "parsed " << conninfo;
    } catch (const ConfigError& e) {
      std::string msg = e.what();
      EXPECT_EQ(msg.find("second"), std::string::npos) << msg;
      EXPECT_NE(msg.find("source conninfo is not valid"), std::string::npos) << msg;
      EXPECT_NE(msg.find("single-quoted"), std::string::npos) << msg;
    }
  }
  // Without a password, libpq's own message (naming what it stumbled on) is the best help.
  try {
    PgConnection conn("host=127.0.0.1 dbname", "target");
    FAIL() << "parsed a conninfo without '='";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("\"dbname\""), std::string::npos) << e.what();
  }
}

TEST(PgConnection, MaskConnInfoHidesPasswordsInUris) {
  std::string masked = maskConnInfo("postgresql://bob:hunter2@db.example:5433/app");
  EXPECT_EQ(masked.find("hunter2"), std::string::npos) << masked;
  EXPECT_NE(masked.find("user=bob"), std::string::npos) << masked;
}

TEST(PgConnection, ServerErrorsCarrySqlstateAndClass) {
  PgConnection conn(test::sharedSource().conninfo(), "source");
  try {
    conn.exec("SELECT * FROM no_such_table");
    FAIL();
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "42P01");
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos);
  }
}

// libpq's ERROR / DETAIL / HINT lines become one line: a log line per message.
TEST(PgConnection, ServerErrorsWithDetailAndHintAreOneLine) {
  PgConnection conn(test::sharedSource().conninfo(), "source");
  try {
    conn.exec(
        "DO $$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'the detail', HINT = 'the hint'; "
        "END$$");
    FAIL();
  } catch (const PgError& e) {
    std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find("boom; DETAIL:  the detail; HINT:  the hint"), std::string::npos) << what;
  }
}

TEST(PgConnection, QuotesIdentifiers) {
  PgConnection conn(test::sharedSource().conninfo(), "source");
  EXPECT_EQ(conn.quoteIdent("plain"), "\"plain\"");
  EXPECT_EQ(conn.quoteIdent("we\"ird"), "\"we\"\"ird\"");
  EXPECT_EQ(conn.quoteQualified("s", "t"), "\"s\".\"t\"");
}

TEST(PgConnection, ParametersCarryNullsAndArbitraryText) {
  PgConnection conn(test::sharedSource().conninfo(), "source");
  std::string tricky = "it's a \"test\"; DROP TABLE x; --\n\xC3\xA9";
  auto res = conn.execParams("SELECT $1::text, $2::text IS NULL", {tricky, std::nullopt});
  EXPECT_EQ(res.value(0, 0), tricky);
  EXPECT_EQ(res.value(0, 1), "t");
}

}  // namespace pgmorph
