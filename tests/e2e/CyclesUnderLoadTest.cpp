// End to end, on a schema that is not the example: bigint keys; a self-referencing table whose
// rows come in circles (person A referred by B, B by A), with primary keys that change; a
// cycle of two tables (a team names its captain, a member names its team); notes that name
// people with no constraint on either side (on_missing: null). The target's keys are NOT
// deferrable (the legacy ones are). `pgmorph run` snapshots and follows while a writer inserts,
// re-points, re-keys and deletes whole circles, and pgmorph is killed with SIGKILL three times
// and restarted. Afterwards the target equals an independent SQL projection of the source —
// the mapping written by hand in SQL — and every parked entry is one that projection explains
// (a note whose person does not exist on the source).
//
// One file of ~400 lines on purpose: the schema, the writer and the projection are one
// contract — a change to one needs the others beside it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "cdc/pg/PgConnection.h"
#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/ExampleConfig.h"
#include "tests/e2e/Poll.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNamespace = "0f6e2d4c-3b1a-4987-8c6d-5e4f3a2b1c0d";
constexpr long long kBase = 7000000000LL;  // keys past 2^31

constexpr const char* kSource = R"(
CREATE TABLE legacy_person (id bigint PRIMARY KEY, name text NOT NULL,
  referred_by bigint REFERENCES legacy_person (id) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE legacy_team (id bigint PRIMARY KEY, name text NOT NULL, captain_id bigint);
CREATE TABLE legacy_member (id bigint PRIMARY KEY, name text NOT NULL,
  team_id bigint REFERENCES legacy_team (id) DEFERRABLE INITIALLY DEFERRED);
ALTER TABLE legacy_team ADD FOREIGN KEY (captain_id) REFERENCES legacy_member (id)
  DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE legacy_note (id bigint PRIMARY KEY, body text, person_id bigint);
)";

constexpr const char* kTarget = R"(
CREATE TABLE persons (id uuid PRIMARY KEY, name text NOT NULL,
  referred_by uuid REFERENCES persons (id), legacy_id bigint UNIQUE);
CREATE TABLE teams (id uuid PRIMARY KEY, name text NOT NULL, captain_id uuid,
  legacy_id bigint UNIQUE);
CREATE TABLE members (id uuid PRIMARY KEY, name text NOT NULL,
  team_id uuid REFERENCES teams (id), legacy_id bigint UNIQUE);
ALTER TABLE teams ADD CONSTRAINT teams_captain FOREIGN KEY (captain_id) REFERENCES members (id);
CREATE INDEX ON persons (referred_by);
CREATE INDEX ON members (team_id);
CREATE INDEX ON teams (captain_id);
CREATE TABLE notes (id uuid PRIMARY KEY, body text, person_id uuid, legacy_id bigint UNIQUE);
)";

// What the source holds, as the writer keeps track of it.
struct Model {
  std::map<long long, long long> partner;  // person -> the person it names (itself possible)
  std::vector<long long> teams;            // team ids; members are team + 1, team + 2
  std::set<long long> notes;
  long long next = 1;
};

class CyclesUnderLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 seedGen{std::random_device{}()};
    seed_ = seedGen();
    // PGMORPH_TEST_SEED replays the writer's operations of a failed run (not the kill times).
    if (const char* s = std::getenv("PGMORPH_TEST_SEED")) seed_ = std::stoull(s);
    std::cerr << "CyclesUnderLoadTest seed " << seed_ << " (PGMORPH_TEST_SEED replays it)\n";
    rng_.seed(seed_);
    killRng_.seed(seed_ ^ 0x5bd1e995u);
    suffix_ = fmt::format("{:x}", seed_ & 0xffffffffffULL);
    slot_ = "pgmorph_cul_" + suffix_;
    sourceDb_ = source().createDatabase("cul_src");
    targetDb_ = target().createDatabase("cul_tgt");
    dir_ = std::string(::testing::TempDir()) + "pgmorph-cul-" + suffix_;
    std::filesystem::create_directories(dir_);
    source().psql(sourceDb_, kSource);
    target().psql(targetDb_, kTarget);
    config_ = dir_ + "/pipeline.yaml";
    writePipelineFile(config_, fmt::format(R"(pipeline: cul_{0}
source:
  conninfo: "{1}"
  slot: {2}
target:
  conninfo: "{3}"
  state_schema: pgmorph_cul
ids:
  namespace: {4}
apply:
  batch_changes: 200
tables:
  legacy_person:
    - target: persons
      key: id
      legacy_id: legacy_id
      columns:
        name: name
        referred_by: {{ to: referred_by, ref: legacy_person }}
  legacy_team:
    - target: teams
      key: id
      legacy_id: legacy_id
      columns:
        name: name
        captain_id: {{ to: captain_id, ref: legacy_member }}
  legacy_member:
    - target: members
      key: id
      legacy_id: legacy_id
      columns:
        name: name
        team_id: {{ to: team_id, ref: legacy_team }}
  legacy_note:
    - target: notes
      key: id
      legacy_id: legacy_id
      columns:
        body: body
        person_id: {{ to: person_id, ref: legacy_person, on_missing: null }}
)",
                                           suffix_, source().conninfo(sourceDb_), slot_,
                                           target().conninfo(targetDb_), kNamespace));
  }

  void TearDown() override {
    stopWriter();
    if (pgmorph_) {
      if (HasFailure()) std::cerr << pgmorph_->stderrText() << "\n";
      pgmorph_.reset();
    }
    try {
      source().dropReplicationSlot(slot_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop slot " << slot_ << ": " << e.what();
    }
    source().dropDatabase(sourceDb_);
    target().dropDatabase(targetDb_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static test::PgCluster& source() { return test::sharedSource(); }
  static test::PgCluster& target() { return test::sharedTarget(); }
  static std::string k(long long n) { return std::to_string(kBase + n); }

  // --- the writer's operations, each one source transaction -------------------------------
  std::string insertCircle(Model& m) {
    long long a = m.next++, b = m.next++;
    m.partner[a] = b;
    m.partner[b] = a;
    return fmt::format("INSERT INTO legacy_person VALUES ({0}, 'p', {1}), ({1}, 'p', {0});", k(a),
                       k(b));
  }
  long long anyPerson(Model& m) {
    auto it = m.partner.begin();
    std::advance(it, static_cast<long>(rng_() % m.partner.size()));
    return it->first;
  }
  // Deletes a person and whoever names it (its circle; a circle of one is itself).
  std::string deleteCircle(Model& m) {
    long long a = anyPerson(m);
    std::set<long long> gone{a};
    for (const auto& [p, named] : m.partner)
      if (named == a) gone.insert(p);
    std::string sql;
    for (long long p : gone) {
      sql += fmt::format("DELETE FROM legacy_person WHERE id = {};", k(p));
      m.partner.erase(p);
    }
    for (auto& [p, named] : m.partner)  // nobody else names them (circles of two at most)
      if (gone.count(named)) named = p;
    return sql;
  }
  // The primary key of a person changes; its partner's reference follows (ON UPDATE CASCADE).
  std::string rekey(Model& m) {
    long long a = anyPerson(m), b = m.next++;
    long long named = m.partner[a];
    m.partner.erase(a);
    m.partner[b] = named == a ? b : named;
    for (auto& [p, n] : m.partner)
      if (n == a) n = b;
    return fmt::format("UPDATE legacy_person SET id = {} WHERE id = {};", k(b), k(a));
  }
  // One member of a circle goes; the other now names itself.
  std::string deleteOneAndRepoint(Model& m) {
    long long a = anyPerson(m), b = m.partner[a];
    if (a == b) return deleteCircle(m);
    m.partner.erase(a);
    m.partner[b] = b;
    return fmt::format(
        "UPDATE legacy_person SET referred_by = {1} WHERE id = {1};"
        "DELETE FROM legacy_person WHERE id = {0};",
        k(a), k(b));
  }
  std::string insertTeam(Model& m) {
    long long t = m.next;
    m.next += 3;
    m.teams.push_back(t);
    return fmt::format(
        "INSERT INTO legacy_team VALUES ({0}, 't', {1});"
        "INSERT INTO legacy_member VALUES ({1}, 'm', {0}), ({2}, 'm', {0});",
        k(t), k(t + 1), k(t + 2));
  }
  std::string deleteTeam(Model& m) {
    std::size_t i = rng_() % m.teams.size();
    long long t = m.teams[i];
    m.teams.erase(m.teams.begin() + static_cast<long>(i));
    return fmt::format(
        "DELETE FROM legacy_member WHERE team_id = {0}; DELETE FROM legacy_team WHERE id = {0};",
        k(t));
  }
  std::string note(Model& m) {
    long long n = m.next++;
    m.notes.insert(n);
    // A person that exists, or one that does not (never did, or was deleted).
    long long p = rng_() % 3 == 0 ? 1 + static_cast<long long>(rng_() % m.next) : anyPerson(m);
    return fmt::format("INSERT INTO legacy_note VALUES ({}, 'n', {});", k(n), k(p));
  }
  std::string repointNote(Model& m) {
    auto it = m.notes.begin();
    std::advance(it, static_cast<long>(rng_() % m.notes.size()));
    return fmt::format("UPDATE legacy_note SET person_id = {} WHERE id = {};", k(anyPerson(m)),
                       k(*it));
  }
  std::string nextTransaction(Model& m) {
    switch (rng_() % 10) {
      case 0:
      case 1:
        return insertCircle(m);
      case 2:
        return m.partner.size() > 20 ? deleteCircle(m) : insertCircle(m);
      case 3:
        return m.partner.empty() ? insertCircle(m) : rekey(m);
      case 4:
        return m.partner.size() > 20 ? deleteOneAndRepoint(m) : insertCircle(m);
      case 5:
        return insertTeam(m);
      case 6:
        return m.teams.size() > 5 ? deleteTeam(m) : insertTeam(m);
      case 7:
      case 8:
        return note(m);
      default:
        return m.notes.empty() ? note(m) : repointNote(m);
    }
  }

  void startWriter(int transactions) {
    writer_ = std::thread([this, transactions] {
      try {
        PgConnection conn(source().conninfo(sourceDb_), "writer");
        for (int i = 0; i < transactions && !stop_; ++i) {
          std::string sql = nextTransaction(model_);
          conn.exec("BEGIN;" + sql + "COMMIT;");
          ++written_;
          std::this_thread::sleep_for(5ms);
        }
      } catch (const std::exception& e) {
        writerError_ = e.what();
      }
      done_ = true;
    });
  }
  void stopWriter() {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
  }

  void startPgmorph(std::vector<std::string> args) {
    args.insert(args.begin(), PGMORPH_BINARY);
    args.push_back("-c");
    args.push_back(config_);
    pgmorph_ = std::make_unique<ChildProcess>(args, dir_ + "/pgmorph" + std::to_string(++runs_));
  }

  // "legacy key>legacy key it names" for every row, sorted: what the mapping must give.
  std::set<std::string> rows(const std::string& db, const std::string& sql) {
    PgConnection c(db == "source" ? source().conninfo(sourceDb_) : target().conninfo(targetDb_),
                   "observer");
    auto res = c.exec(sql);
    std::set<std::string> out;
    for (int r = 0; r < res.rows(); ++r) out.emplace(res.value(r, 0));
    return out;
  }
  static std::string differences(const std::set<std::string>& expected,
                                 const std::set<std::string>& actual) {
    std::string out;
    int shown = 0;
    for (const auto& e : expected)
      if (!actual.count(e) && shown++ < 10) out += "  missing on the target: " + e + "\n";
    for (const auto& a : actual)
      if (!expected.count(a) && shown++ < 20) out += "  not on the source: " + a + "\n";
    return out;
  }

  std::uint64_t seed_ = 0;
  std::mt19937_64 rng_;      // the writer's thread only (after the initial rows)
  std::mt19937_64 killRng_;  // the test's thread
  std::string suffix_, slot_, sourceDb_, targetDb_, dir_, config_;
  std::unique_ptr<ChildProcess> pgmorph_;
  int runs_ = 0;
  Model model_;
  std::thread writer_;
  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<int> written_{0};
  std::string writerError_;
};

TEST_F(CyclesUnderLoadTest, TargetEqualsTheProjectionAfterKillsUnderLoad) {
  // Rows before the snapshot: circles, teams, notes (some naming nobody).
  std::string initial = "BEGIN;";
  for (int i = 0; i < 150; ++i) initial += insertCircle(model_);
  for (int i = 0; i < 30; ++i) initial += insertTeam(model_);
  for (int i = 0; i < 150; ++i) initial += note(model_);
  source().psql(sourceDb_, initial + "COMMIT;");

  startPgmorph({"run", "--jobs", "2"});
  startWriter(1200);
  // Three kills at random moments while the writer runs (the first may hit the snapshot).
  for (int kill = 0; kill < 3; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600 + killRng_() % 1500));
    ASSERT_TRUE(pgmorph_->running()) << "pgmorph stopped by itself:\n" << pgmorph_->stderrText();
    pgmorph_->kill9();
    startPgmorph({"run", "--jobs", "2"});
  }
  ASSERT_TRUE(pollUntil(180s, [&] { return done_.load(); })) << "the writer did not finish";
  stopWriter();
  ASSERT_TRUE(writerError_.empty()) << writerError_;
  pgmorph_->signal(SIGINT);
  auto status = pgmorph_->waitFor(60s);
  ASSERT_TRUE(status) << "pgmorph did not stop on SIGINT";
  startPgmorph({"follow", "--until-caught-up"});
  status = pgmorph_->waitFor(180s);
  ASSERT_TRUE(status && *status == 0) << pgmorph_->stderrText();
  ASSERT_GE(written_.load(), 1200);

  // The mapping by hand, on the source: references by legacy key, a note's person NULL ('-')
  // when it does not exist (on_missing: null).
  auto key = [](const char* column) {
    return fmt::format("coalesce(({} - {})::text, '-')", column, kBase);
  };
  struct Table {
    const char* name;
    std::string source, target;
  };
  std::vector<Table> tables = {
      {"persons",
       fmt::format("SELECT (id - {})::text || '>' || {} FROM legacy_person", kBase,
                   key("referred_by")),
       fmt::format("SELECT (c.legacy_id - {})::text || '>' || {} FROM persons c LEFT JOIN "
                   "persons p ON p.id = c.referred_by",
                   kBase, key("p.legacy_id"))},
      {"teams",
       fmt::format("SELECT (id - {})::text || '>' || {} FROM legacy_team", kBase,
                   key("captain_id")),
       fmt::format("SELECT (c.legacy_id - {})::text || '>' || {} FROM teams c LEFT JOIN members "
                   "p ON p.id = c.captain_id",
                   kBase, key("p.legacy_id"))},
      {"members",
       fmt::format("SELECT (id - {})::text || '>' || {} FROM legacy_member", kBase, key("team_id")),
       fmt::format("SELECT (c.legacy_id - {})::text || '>' || {} FROM members c LEFT JOIN teams "
                   "p ON p.id = c.team_id",
                   kBase, key("p.legacy_id"))},
      {"notes",
       fmt::format("SELECT (n.id - {})::text || '>' || {} FROM legacy_note n LEFT JOIN "
                   "legacy_person p ON p.id = n.person_id",
                   kBase, key("p.id")),
       fmt::format("SELECT (c.legacy_id - {})::text || '>' || {} FROM notes c LEFT JOIN persons "
                   "p ON p.id = c.person_id",
                   kBase, key("p.legacy_id"))},
  };
  for (const auto& t : tables) {
    auto expected = rows("source", t.source);
    auto actual = rows("target", t.target);
    EXPECT_EQ(expected.size(), actual.size()) << t.name;
    EXPECT_TRUE(expected == actual) << t.name << " differs from the source's projection:\n"
                                    << differences(expected, actual);
  }
  // A reference on the target names a row that exists, or is NULL: nothing dangles.
  EXPECT_EQ(target().scalar(targetDb_,
                            "SELECT count(*) FROM notes n WHERE person_id IS NOT NULL AND NOT "
                            "EXISTS (SELECT 1 FROM persons p WHERE p.id = n.person_id)"),
            "0");
  // Every parked entry is explained: a note whose person does not exist on the source, kept
  // to be filled in. Exactly those notes, nothing else.
  auto explained = rows("source", fmt::format("SELECT 'null_reference notes ' || (n.id - {}) FROM "
                                              "legacy_note n WHERE n.person_id IS NOT NULL AND "
                                              "NOT EXISTS (SELECT 1 FROM legacy_person p WHERE "
                                              "p.id = n.person_id)",
                                              kBase));
  auto parked = rows("target", fmt::format("SELECT kind || ' ' || split_part(target_table, '.', 2) "
                                           "|| ' ' || (legacy_key::bigint - {}) FROM "
                                           "pgmorph_cul.parked",
                                           kBase));
  EXPECT_TRUE(explained == parked) << "parked entries the projection does not explain:\n"
                                   << differences(explained, parked);
}

}  // namespace
}  // namespace pgmorph::e2e
