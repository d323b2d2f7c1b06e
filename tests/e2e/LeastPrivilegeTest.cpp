// The README's "Roles and grants", as written: a source role with REPLICATION, CONNECT, USAGE
// and SELECT on the mapped tables, and a target role with CREATE on the database, USAGE on
// the schema and either plain table rights or membership in the tables' owner with CREATE on
// the schema and SET on session_replication_role, both authenticated by password
// (scram-sha-256) with the passwords coming from the environment through ${VAR} (one with a
// space, single-quoted as the README says). check, snapshot, follow and status succeed, the
// target equals the projection of the source, and no password appears in any output.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "tests/e2e/DispatchE2eTest.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSourcePassword = "src-Secret-1";
constexpr const char* kTargetPassword = "tgt Secret 2";  // a space: needs password='...'

// How the target role gets its rights: plain table rights; membership in the tables' owner with
// CREATE on their schema (the README's owner path); the same without CREATE on the schema, which
// rebuilding an index needs — the snapshot must then load with the indexes in place instead of
// dropping what it cannot build again.
enum class TargetRights { Plain, Owner, OwnerWithoutSchemaCreate };

class LeastPrivilegeTest : public DispatchE2eTest,
                           public ::testing::WithParamInterface<TargetRights> {
 protected:
  bool targetOwnsTables() const { return GetParam() != TargetRights::Plain; }
  bool bulkLoads() const { return GetParam() == TargetRights::Owner; }

  void grantAsTheReadmeSays() {
    auto& src = env().source();
    src.requirePassword("pgmorph_lp_source", kSourcePassword);
    src.psql(env().sourceDb(),
             fmt::format("ALTER ROLE pgmorph_lp_source REPLICATION;"
                         "GRANT CONNECT ON DATABASE {} TO pgmorph_lp_source;"
                         "GRANT USAGE ON SCHEMA public TO pgmorph_lp_source;"
                         "GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgmorph_lp_source;",
                         env().sourceDb()));
    auto& tgt = env().target();
    tgt.requirePassword("pgmorph_lp_target", kTargetPassword);
    std::string grants = fmt::format(
        "GRANT CREATE ON DATABASE {} TO pgmorph_lp_target;"
        "GRANT USAGE ON SCHEMA public TO pgmorph_lp_target;",
        env().targetDb());
    if (targetOwnsTables()) {
      // The README's `GRANT modern_owner TO pgmorph_target`: a role that owns every table.
      grants +=
          "DO $$BEGIN CREATE ROLE pgmorph_lp_owner NOLOGIN; EXCEPTION WHEN duplicate_object "
          "THEN NULL; END$$;"
          "DO $$DECLARE t text; BEGIN FOR t IN SELECT format('%I.%I', schemaname, tablename)"
          "  FROM pg_tables WHERE schemaname = 'public' LOOP"
          "  EXECUTE 'ALTER TABLE ' || t || ' OWNER TO pgmorph_lp_owner'; END LOOP; END$$;"
          "GRANT pgmorph_lp_owner TO pgmorph_lp_target;"
          // The optional grant, with the owner only: the plain case shows it is optional.
          "GRANT SET ON PARAMETER session_replication_role TO pgmorph_lp_target;";
      if (bulkLoads()) grants += "GRANT CREATE ON SCHEMA public TO pgmorph_lp_target;";
    } else {
      grants +=
          "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public"
          "  TO pgmorph_lp_target;";
    }
    tgt.psql(env().targetDb(), grants);
  }

  // The environment's pipeline file with the two roles and ${VAR} passwords.
  std::string writePipeline() {
    std::ifstream in(env().configPath());
    std::stringstream out;
    std::string line;
    int conninfos = 0;
    while (std::getline(in, line)) {
      if (line.rfind("  conninfo: ", 0) == 0) {
        ++conninfos;
        line = conninfos == 1 ? fmt::format(
                                    "  conninfo: \"host=127.0.0.1 port={} dbname={} "
                                    "user=pgmorph_lp_source password=${{LP_SOURCE_PASSWORD}}\"",
                                    env().source().port(), env().sourceDb())
                              : fmt::format(
                                    "  conninfo: \"host=127.0.0.1 port={} dbname={} "
                                    "user=pgmorph_lp_target password='${{LP_TARGET_PASSWORD}}'\"",
                                    env().target().port(), env().targetDb());
      }
      out << line << "\n";
    }
    EXPECT_EQ(conninfos, 2) << "the example's shape changed";
    std::string path = env().workDir() + "/least-privilege.yaml";
    writePipelineFile(path, out.str());
    return path;
  }

  // Runs `pgmorph <args...> -c <path>` with the passwords in its environment, to its end.
  RunResult run(const std::string& path, std::vector<std::string> args) {
    std::string tag = args.front();
    args.insert(args.begin(), PGMORPH_BINARY);
    args.insert(args.end(), {"-c", path});
    auto start = std::chrono::steady_clock::now();
    ChildProcess p(args, fmt::format("{}/lp-{}-{}", env().workDir(), runs_++, tag),
                   {std::string("LP_SOURCE_PASSWORD=") + kSourcePassword,
                    std::string("LP_TARGET_PASSWORD=") + kTargetPassword});
    auto status = p.waitFor(300s);
    if (!status) p.kill9();
    std::string output = p.stdoutText() + p.stderrText();
    EXPECT_EQ(output.find(kSourcePassword), std::string::npos) << output;
    EXPECT_EQ(output.find(kTargetPassword), std::string::npos) << output;
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    return RunResult{status.value_or(-1), output, took.count()};
  }

  int runs_ = 0;
};

TEST_P(LeastPrivilegeTest, TheReadmesGrantsAreEnoughForEveryCommand) {
  grantAsTheReadmeSays();
  std::string pipeline = writePipeline();
  env().loadSampleData();

  RunResult check = run(pipeline, {"check"});
  ASSERT_EQ(check.exitStatus, 0) << check.stderrText;
  RunResult snapshot = run(pipeline, {"snapshot", "--jobs", "2"});
  ASSERT_EQ(snapshot.exitStatus, 0) << snapshot.stderrText;
  bool indexesKept = snapshot.stderrText.find("may not drop the indexes") != std::string::npos;
  EXPECT_EQ(indexesKept, !bulkLoads())
      << "only an owner with CREATE on the schema can suspend the indexes; others load with them "
         "in place:\n"
      << snapshot.stderrText;
  bool rowByRow =
      snapshot.stderrText.find("may not set session_replication_role") != std::string::npos;
  EXPECT_EQ(rowByRow, !targetOwnsTables())
      << "GRANT SET ON PARAMETER session_replication_role (given with the owner only):\n"
      << snapshot.stderrText;

  env().finishWriter(env().startWriter(5s));
  env().flushSourceWal();
  RunResult follow = run(pipeline, {"follow", "--until-caught-up"});
  ASSERT_EQ(follow.exitStatus, 0) << follow.stderrText;
  RunResult status = run(pipeline, {"status"});
  EXPECT_EQ(status.exitStatus, 0) << status.stderrText;

  ComparisonReport report = env().compareWithProjection();
  ASSERT_GE(report.expectedRows(), 25000u) << report.str();
  EXPECT_TRUE(report.equal()) << "target differs from the projection of the source:\n"
                              << report.str();
}

INSTANTIATE_TEST_SUITE_P(TargetRights, LeastPrivilegeTest,
                         ::testing::Values(TargetRights::Plain, TargetRights::Owner,
                                           TargetRights::OwnerWithoutSchemaCreate),
                         [](const auto& info) {
                           switch (info.param) {
                             case TargetRights::Plain:
                               return "PlainRights";
                             case TargetRights::Owner:
                               return "OwnerMember";
                             case TargetRights::OwnerWithoutSchemaCreate:
                               break;
                           }
                           return "OwnerMemberWithoutSchemaCreate";
                         });

}  // namespace
}  // namespace pgmorph::e2e
