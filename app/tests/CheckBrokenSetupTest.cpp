// `pgmorph check` on the broken setups that CheckCommandTest does not hold, all in one run:
// a source cluster with wal_level=replica (a small cluster of this test's own), a source role
// that may not read one mapped table, a target role that may not insert into one target
// table, and target foreign keys that go round a circle through NOT NULL, non-deferrable
// columns (no order of writes can insert the first row: a problem, where a circle pgmorph
// can break — deferrable, or nullable — is only information; CheckCommandTest keeps that
// case a warning). Each is named with what to do, and check exits 1.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "app/check/CheckCommand.h"
#include "tests/support/PgCluster.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

constexpr const char* kSourceSql = R"sql(
CREATE TABLE bs_left (id integer PRIMARY KEY, right_id integer NOT NULL);
CREATE TABLE bs_right (id integer PRIMARY KEY, left_id integer NOT NULL);
CREATE TABLE bs_secret (id integer PRIMARY KEY, v text);
)sql";

constexpr const char* kTargetSql = R"sql(
CREATE TABLE lefts (id uuid PRIMARY KEY, right_id uuid NOT NULL);
CREATE TABLE rights (id uuid PRIMARY KEY, left_id uuid NOT NULL);
CREATE INDEX ON lefts (right_id);
CREATE INDEX ON rights (left_id);
ALTER TABLE lefts ADD CONSTRAINT lefts_right_fk FOREIGN KEY (right_id) REFERENCES rights (id);
ALTER TABLE rights ADD CONSTRAINT rights_left_fk FOREIGN KEY (left_id) REFERENCES lefts (id);
CREATE TABLE secrets (id uuid PRIMARY KEY, v text);
)sql";

std::string mappingYaml(const std::string& source, const std::string& target) {
  return fmt::format(R"(pipeline: broken
source: {{ conninfo: "{}", slot: pgmorph_broken }}
target: {{ conninfo: "{}", state_schema: broken_state }}
ids: {{ namespace: 7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d }}
tables:
  bs_left:
    - target: lefts
      key: id
      columns:
        right_id: {{ to: right_id, ref: bs_right }}
  bs_right:
    - target: rights
      key: id
      columns:
        left_id: {{ to: left_id, ref: bs_left }}
  bs_secret:
    - target: secrets
      key: id
      columns:
        v: v
)",
                     source, target);
}

class CheckBrokenSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::PgCluster::Options options;
    options.name = "replica";  // logical = false: PostgreSQL's default wal_level, replica
    source_ = std::make_unique<test::PgCluster>(options);
    sourceDb_ = source_->createDatabase("broken");
    targetDb_ = test::sharedTarget().createDatabase("broken");
    role_ = fmt::format("pgmorph_broken_{}", std::random_device{}() % 1000000);
    source_->psql(sourceDb_, kSourceSql);
    source_->psql(sourceDb_, fmt::format("CREATE ROLE {0} LOGIN REPLICATION;"
                                         "GRANT SELECT ON bs_left, bs_right TO {0};",
                                         role_));
    test::sharedTarget().psql(targetDb_, kTargetSql);
    test::sharedTarget().psql(targetDb_,
                              fmt::format("CREATE ROLE {0} LOGIN;"
                                          "GRANT CREATE ON DATABASE \"{1}\" TO {0};"
                                          "GRANT USAGE, CREATE ON SCHEMA public TO {0};"
                                          "GRANT ALL ON lefts, rights TO {0};"
                                          "GRANT SELECT, UPDATE, DELETE ON secrets TO {0};",
                                          role_, targetDb_));
    path_ = fmt::format("/tmp/pgmorph-broken-{}.yaml", sourceDb_);
    std::ofstream(path_) << mappingYaml(asRole(source_->conninfo(sourceDb_)),
                                        asRole(test::sharedTarget().conninfo(targetDb_)));
  }

  void TearDown() override {
    std::remove(path_.c_str());
    source_.reset();  // the whole cluster goes, with its role
    test::sharedTarget().dropDatabase(targetDb_);
    test::sharedTarget().psql("postgres", fmt::format("DROP ROLE IF EXISTS {}", role_));
  }

  // A conninfo of user postgres, as this test's role (the clusters trust local TCP).
  std::string asRole(const std::string& conninfo) const {
    auto at = conninfo.find("user=postgres");
    if (at == std::string::npos) throw std::runtime_error("no user in " + conninfo);
    return std::string(conninfo).replace(at, 13, "user=" + role_);
  }

  std::unique_ptr<test::PgCluster> source_;
  std::string sourceDb_, targetDb_, role_, path_;
};

void expectHas(const std::string& report, const std::string& what) {
  EXPECT_NE(report.find(what), std::string::npos) << "missing: " << what << "\n" << report;
}

TEST_F(CheckBrokenSetupTest, ReplicaWalLevelMissingGrantsAndAClosedNotNullCycleInOneRun) {
  std::ostringstream s;
  int code = CheckCommand::run(path_, false, s);
  std::string out = s.str();
  EXPECT_EQ(code, 1) << out;
  // wal_level, with the command that fixes it.
  expectHas(out, "wal_level=replica");
  expectHas(out, "ALTER SYSTEM SET wal_level = logical");
  // The source role that may not read bs_secret.
  expectHas(out, fmt::format("the source role \"{}\" may not read it", role_));
  expectHas(out, fmt::format("GRANT SELECT ON bs_secret TO {}", role_));
  // The target role that may not insert into secrets.
  expectHas(out, fmt::format("the target role \"{}\" lacks INSERT", role_));
  expectHas(out, fmt::format("GRANT INSERT ON secrets TO {}", role_));
  // The circle no write order can satisfy: an error, with the way out.
  expectHas(out, "are neither deferrable nor nullable and go round in a circle");
  expectHas(out, "ALTER TABLE lefts ALTER CONSTRAINT \"lefts_right_fk\" DEFERRABLE");
  auto at = out.find("neither deferrable nor nullable");
  ASSERT_NE(at, std::string::npos);
  auto lineStart = out.rfind('\n', at);
  std::string line = out.substr(lineStart + 1, at - lineStart - 1);
  EXPECT_EQ(line.find_first_not_of(' '), line.find("error "))
      << "not reported as an error: " << line;
}

}  // namespace
}  // namespace pgmorph
