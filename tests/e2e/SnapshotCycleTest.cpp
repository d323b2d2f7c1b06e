// End to end: a cycle in the target's foreign keys (teams.captain_id -> players,
// players.team_id -> teams) plus a self-reference (players.mentor_id -> players), with a
// small mapping of its own and dirty legacy rows (a mentor and a captain that do not exist).
// With DEFERRABLE constraints the snapshot copies the cycle in one transaction with the
// constraints deferred; without, the bulk load suspends them (they are written from `ref:`)
// and the copy is the same. Either way every reference holds and the orphans follow the
// mapping's on_missing (the mentor NULL and kept to fill in, the team parked). Only with
// non-deferrable keys AND snapshot.defer_indexes: false does `pgmorph snapshot` refuse, before
// touching anything, naming the constraints and what to change.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>

#include <fmt/format.h>

#include "cdc/pg/PgConnection.h"
#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/ExampleConfig.h"
#include "tests/e2e/Poll.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNamespace = "8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b";

struct CycleCase {
  const char* name;
  bool deferrable;
  bool deferIndexes;
  bool refused;
};
void PrintTo(const CycleCase& c, std::ostream* os) {
  *os << c.name;
}

class SnapshotCycleTest : public ::testing::TestWithParam<CycleCase> {
 protected:
  void SetUp() override {
    std::mt19937_64 rng{std::random_device{}()};
    suffix_ = fmt::format("{:x}", rng() & 0xffffffffffULL);
    slot_ = "pgmorph_cycle_" + suffix_;
    allowWal2json();
    sourceDb_ = source().createDatabase("cycle_src");
    targetDb_ = target().createDatabase("cycle_tgt");
    workDir_ = std::string(::testing::TempDir()) + "pgmorph-cycle-" + suffix_;
    std::filesystem::create_directories(workDir_);

    source().psql(sourceDb_,
                  "CREATE TABLE legacy_team (id int PRIMARY KEY, name text NOT NULL,"
                  "  captain_id int);"
                  "CREATE TABLE legacy_player (id int PRIMARY KEY, name text NOT NULL,"
                  "  team_id int NOT NULL REFERENCES legacy_team (id), mentor_id int);"
                  "INSERT INTO legacy_team SELECT g, 'Team ' || g, g * 10"
                  "  FROM generate_series(1, 50) g;"
                  // Mentors point FORWARD (player g -> g + 1): a row references one that comes
                  // after it in the same table.
                  "INSERT INTO legacy_player SELECT g, 'Player ' || g, 1 + g % 50,"
                  "  CASE WHEN g < 500 THEN g + 1 END FROM generate_series(1, 500) g;"
                  // Dirty rows: a mentor and a captain that do not exist.
                  "INSERT INTO legacy_player VALUES (501, 'Player 501', 1, 9999);"
                  "INSERT INTO legacy_team VALUES (51, 'Team 51', 7777);");
    bool deferrable = GetParam().deferrable;
    target().psql(
        targetDb_,
        fmt::format(
            "CREATE TABLE teams (id uuid PRIMARY KEY, name text NOT NULL, captain_id uuid,"
            "  legacy_team_id int UNIQUE);"
            "CREATE TABLE players (id uuid PRIMARY KEY, name text NOT NULL, team_id uuid NOT NULL,"
            "  mentor_id uuid REFERENCES players (id), legacy_player_id int UNIQUE,"
            "  CONSTRAINT players_team_fk FOREIGN KEY (team_id) REFERENCES teams (id) {0});"
            "ALTER TABLE teams ADD CONSTRAINT teams_captain_fk FOREIGN KEY (captain_id)"
            "  REFERENCES players (id) {0};",
            deferrable ? "DEFERRABLE" : ""));
    configPath_ = workDir_ + "/pipeline.yaml";
    writePipelineFile(
        configPath_, fmt::format(
                         R"(pipeline: cycle_{0}
source:
  conninfo: "{1}"
  slot: {2}
target:
  conninfo: "{3}"
  state_schema: pgmorph_cycle
ids:
  namespace: {4}
snapshot:
  defer_indexes: {5}
tables:
  legacy_team:
    - target: teams
      key: id
      legacy_id: legacy_team_id
      columns:
        name: name
        captain_id: {{ to: captain_id, ref: legacy_player }}
  legacy_player:
    - target: players
      key: id
      legacy_id: legacy_player_id
      columns:
        name: name
        team_id: {{ to: team_id, ref: legacy_team }}
        mentor_id: {{ to: mentor_id, ref: legacy_player, on_missing: null }}
)",
                         suffix_, source().conninfo(sourceDb_), slot_, target().conninfo(targetDb_),
                         kNamespace, GetParam().deferIndexes ? "true" : "false"));
  }

  void TearDown() override {
    if (process_) {
      if (HasFailure()) std::cerr << process_->stderrText() << "\n";
      process_.reset();
    }
    try {
      source().dropReplicationSlot(slot_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop slot " << slot_ << ": " << e.what();
    }
    source().dropDatabase(sourceDb_);
    target().dropDatabase(targetDb_);
    std::error_code ec;
    std::filesystem::remove_all(workDir_, ec);
  }

  static test::PgCluster& source() { return test::sharedSource(); }
  static test::PgCluster& target() { return test::sharedTarget(); }

  // PostgreSQL 15.19+ lets only the plugins listed in output_plugin_libraries decode.
  static void allowWal2json() {
    auto& c = source();
    if (c.scalar("postgres",
                 "SELECT count(*) FROM pg_settings"
                 " WHERE name = 'output_plugin_libraries'") == "0")
      return;
    auto listed = [&] {
      return c.scalar("postgres", "SHOW output_plugin_libraries").find("wal2json") !=
             std::string::npos;
    };
    if (listed()) return;
    c.psql("postgres",
           "ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, wal2json");
    c.psql("postgres", "SELECT pg_reload_conf()");
    ASSERT_TRUE(pollUntil(30s, listed));
  }

  int runSnapshot() {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{PGMORPH_BINARY, "snapshot", "-c", configPath_, "--jobs", "2"},
        workDir_ + "/snapshot");
    auto status = process_->waitFor(120s);
    if (!status) {
      process_->kill9();
      ADD_FAILURE() << "pgmorph snapshot did not finish within 120 s";
      return -1;
    }
    return *status;
  }

  std::string targetValue(const std::string& sql) { return target().scalar(targetDb_, sql); }

  std::string suffix_, slot_, sourceDb_, targetDb_, workDir_, configPath_;
  std::unique_ptr<ChildProcess> process_;
};

TEST_P(SnapshotCycleTest, ACycleIsRefusedByNameOrCopiedWithItsConstraintsDeferred) {
  int status = runSnapshot();
  std::string log = process_->stderrText();
  if (GetParam().refused) {
    EXPECT_EQ(status, 2) << log;
    EXPECT_NE(log.find("cycle"), std::string::npos) << log;
    EXPECT_NE(log.find("players_team_fk"), std::string::npos) << log;
    EXPECT_NE(log.find("teams_captain_fk"), std::string::npos) << log;
    EXPECT_NE(log.find("ALTER TABLE public.teams ALTER CONSTRAINT teams_captain_fk DEFERRABLE"),
              std::string::npos)
        << log;
    // Refused before anything happened: no slot, no rows.
    EXPECT_EQ(source().scalar("postgres", fmt::format("SELECT count(*) FROM pg_replication_slots"
                                                      " WHERE slot_name = '{}'",
                                                      slot_)),
              "0");
    EXPECT_EQ(targetValue("SELECT count(*) FROM teams"), "0");
    return;
  }
  ASSERT_EQ(status, 0) << log;
  EXPECT_NE(log.find("cycle between public.players, public.teams"), std::string::npos) << log;
  // Team 51's captain does not exist: parked (on_missing: park), not on the target. Player
  // 501's mentor does not exist: NULL, and a reference kept to fill in.
  EXPECT_EQ(targetValue("SELECT count(*) FROM teams"), "50");
  EXPECT_EQ(targetValue("SELECT count(*) FROM players"), "501");
  EXPECT_EQ(targetValue("SELECT count(*) FROM players WHERE legacy_player_id = 501 AND mentor_id "
                        "IS NULL"),
            "1");
  EXPECT_EQ(targetValue("SELECT string_agg(kind || ' ' || target_table || ' ' || legacy_key, ', '"
                        " ORDER BY kind) FROM pgmorph_cycle.parked"),
            "missing_parent public.teams 51, null_reference public.players 501");
  // Nothing dangles, and the keys are back and valid.
  EXPECT_EQ(targetValue("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated"
                        " AND conrelid IN ('teams'::regclass, 'players'::regclass)"),
            "3");
  // Every reference points at the row the legacy key names.
  EXPECT_EQ(targetValue("SELECT count(*) FROM teams t JOIN players p ON p.id = t.captain_id"
                        " WHERE p.legacy_player_id = t.legacy_team_id * 10"),
            "50");
  EXPECT_EQ(targetValue("SELECT count(*) FROM players p JOIN teams t ON t.id = p.team_id"
                        " WHERE t.legacy_team_id = 1 + p.legacy_player_id % 50"),
            "500");
  EXPECT_EQ(targetValue("SELECT count(*) FROM players p JOIN players m ON m.id = p.mentor_id"
                        " WHERE m.legacy_player_id = p.legacy_player_id + 1"),
            "499");
  // The ids are the mapping's uuid_v5 of "<source table>:<key>".
  EXPECT_EQ(targetValue("SELECT id FROM teams WHERE legacy_team_id = 7"),
            source().scalar(sourceDb_, fmt::format("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\";"
                                                   " SELECT uuid_generate_v5('{}', "
                                                   "'legacy_team:7')",
                                                   kNamespace)));
}

INSTANTIATE_TEST_SUITE_P(Keys, SnapshotCycleTest,
                         ::testing::Values(CycleCase{"Deferrable", true, true, false},
                                           CycleCase{"NotDeferrable", false, true, false},
                                           CycleCase{"NotDeferrableInPlace", false, false, true}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace pgmorph::e2e
