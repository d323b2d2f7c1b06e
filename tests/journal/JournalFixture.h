// JournalFixture: what the journal end-to-end tests share. A small schema of its own on the
// shared clusters (a fresh source and target database per test), a pipeline file with a journal
// directory, the real pgmorph binary and pgbench as child processes, and the helpers to dump,
// restore and compare targets (`pgmorph verify` against the mapped source).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/Poll.h"
#include "tests/support/PgCluster.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph::journal_test {

using namespace std::chrono_literals;

inline constexpr const char* kSourceTables = R"sql(
CREATE TABLE inv_item (sku integer PRIMARY KEY, label text NOT NULL, qty integer, touched timestamp);
CREATE TABLE inv_move (id bigserial PRIMARY KEY, sku integer, delta integer, note text);
)sql";

inline constexpr const char* kSourceRows = R"sql(
INSERT INTO inv_item SELECT g, 'item ' || g, g % 17, now() FROM generate_series(1, 300) g;
INSERT INTO inv_move (sku, delta, note) SELECT 1 + g % 300, g % 9 - 4, 'initial'
  FROM generate_series(1, 1000) g;
)sql";

inline constexpr const char* kTargetSql = R"sql(
CREATE TABLE items (id uuid PRIMARY KEY, label text NOT NULL, qty integer, touched timestamptz,
                    sku integer);
CREATE TABLE moves (id uuid PRIMARY KEY, item_id uuid REFERENCES items (id), delta integer,
                    note text);
CREATE INDEX ON moves (item_id);
)sql";

// Each transaction updates, inserts and deletes.
inline constexpr const char* kWorkload = R"(\set sku random(1, 300)
\set d random(-5, 5)
BEGIN;
UPDATE inv_item SET qty = qty + :d, touched = now() WHERE sku = :sku;
INSERT INTO inv_move (sku, delta, note) VALUES (:sku, :d, 'moved');
DELETE FROM inv_move WHERE id = (SELECT min(id) FROM inv_move WHERE sku = :sku);
END;
)";

class JournalFixture : public ::testing::Test {
 protected:
  // `seedBeforeSnapshot`: the rows exist before the snapshot (else the test inserts them later,
  // so that the journal holds every row).
  void setUpDatabases(bool seedBeforeSnapshot) {
    sourceDb_ = test::sharedSource().createDatabase("jn");
    targetDb_ = test::sharedTarget().createDatabase("jn");
    slot_ = "pgmorph_" + sourceDb_;
    test::sharedSource().psql(sourceDb_, kSourceTables);
    if (seedBeforeSnapshot) test::sharedSource().psql(sourceDb_, kSourceRows);
    test::sharedTarget().psql(targetDb_, kTargetSql);
    base_ = fmt::format("/tmp/pgmorph-journal-{}", sourceDb_);
    journalDir_ = base_ + ".journal";
    std::filesystem::remove_all(journalDir_);
    std::ofstream(base_ + ".pgbench") << kWorkload;
    writeConfig(base_ + ".yaml", targetDb_);
  }

  void TearDown() override {
    children_.clear();  // kills what is still running
    for (const auto& f : files_) std::filesystem::remove(f);
    std::filesystem::remove_all(journalDir_);
    std::filesystem::remove_all(journalDir_ + ".moved");
    if (!slot_.empty()) test::sharedSource().dropReplicationSlot(slot_);
    if (!sourceDb_.empty()) test::sharedSource().dropDatabase(sourceDb_);
    for (const auto& db : targets_) test::sharedTarget().dropDatabase(db);
    if (!targetDb_.empty()) test::sharedTarget().dropDatabase(targetDb_);
  }

  // The pipeline file for `target` (a database of the shared target cluster). `noteMap`: a
  // `map:` for moves.note (the corrected mapping), empty for none; `journal` false: no journal.
  std::string writeConfig(const std::string& path, const std::string& target,
                          const std::string& noteMap = "", bool journal = true) {
    std::string note = noteMap.empty() ? "note" : fmt::format("{{ to: note, map: {} }}", noteMap);
    std::ofstream(path) << fmt::format(
        R"(pipeline: inv
source: {{ conninfo: "{}", slot: {} }}
target: {{ conninfo: "{}", state_schema: inv_state }}
ids: {{ namespace: 7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d }}
apply: {{ status_interval_ms: 200 }}
{}
tables:
  inv_item:
    - target: items
      key: sku
      legacy_id: sku
      columns:
        label: label
        qty: qty
        touched: {{ to: touched, type: timestamptz }}
  inv_move:
    - target: moves
      key: id
      columns:
        sku: {{ to: item_id, ref: inv_item }}
        delta: delta
        note: {}
)",
        test::sharedSource().conninfo(sourceDb_), slot_, test::sharedTarget().conninfo(target),
        journal ? fmt::format("journal: {{ dir: {} }}", journalDir_) : "", note);
    files_.push_back(path);
    return path;
  }

  e2e::ChildProcess& spawn(std::vector<std::string> argv, const std::string& name) {
    children_.push_back(std::make_unique<e2e::ChildProcess>(
        std::move(argv), fmt::format("{}.{}.{}", base_, name, children_.size())));
    files_.push_back(children_.back()->logBase() + ".stdout");
    files_.push_back(children_.back()->logBase() + ".stderr");
    return *children_.back();
  }

  e2e::ChildProcess& pgmorph(const std::string& config, const std::string& command,
                             std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{PGMORPH_BINARY, command, "-c", config};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return spawn(std::move(argv), command);
  }

  int finish(e2e::ChildProcess& child, std::chrono::seconds timeout = 90s) {
    auto status = child.waitFor(timeout);
    if (!status) child.kill9();
    EXPECT_TRUE(status) << child.commandLine() << " did not end in time\n" << child.stderrText();
    return status.value_or(-1);
  }

  e2e::ChildProcess& pgbench(int seconds, int rate) {
    return spawn(
        {test::pgBin("pgbench"), "-n", "-c", "2", "-T", std::to_string(seconds), "-R",
         std::to_string(rate), "-f", base_ + ".pgbench", test::sharedSource().conninfo(sourceDb_)},
        "pgbench");
  }

  bool slotActive() {
    return test::sharedSource().scalar(
               "postgres", fmt::format("SELECT count(*) FROM pg_replication_slots WHERE "
                                       "slot_name = '{}' AND active",
                                       slot_)) == "1";
  }

  std::string checkpointOf(const std::string& target) {
    return test::sharedTarget().scalar(
        target, "SELECT lsn FROM inv_state.checkpoint WHERE pipeline = 'inv'");
  }

  std::string sourceInsertLsn() {
    return test::sharedSource().scalar("postgres", "SELECT pg_current_wal_insert_lsn()");
  }

  // True when `a` < `b` as LSNs.
  bool lsnBefore(const std::string& a, const std::string& b) {
    return test::sharedSource().scalar(
               "postgres", fmt::format("SELECT '{}'::pg_lsn < '{}'::pg_lsn", a, b)) == "t";
  }

  // Waits until the running follower's checkpoint on `target` has reached the source's position
  // now (the idle advance gets it there once the writer has stopped).
  bool waitCaughtUp(const std::string& target) {
    std::string goal = sourceInsertLsn();
    return e2e::pollUntil(
        60s, [&] { return !lsnBefore(checkpointOf(target), goal); }, 200ms);
  }

  void dump(const std::string& target, const std::string& file) {
    files_.push_back(file);
    auto& d =
        spawn({test::pgBin("pg_dump"), "-Fc", "-f", file, test::sharedTarget().conninfo(target)},
              "pg_dump");
    ASSERT_EQ(finish(d), 0) << d.stderrText();
  }

  // A fresh target database holding what `file` holds.
  std::string restore(const std::string& file) {
    std::string db = test::sharedTarget().createDatabase("jr");
    targets_.push_back(db);
    auto& r = spawn(
        {test::pgBin("pg_restore"), "--no-owner", "-d", test::sharedTarget().conninfo(db), file},
        "pg_restore");
    EXPECT_EQ(finish(r), 0) << r.stderrText();
    return db;
  }

  // Before verify (whose own apply, with the follower stopped, would bring a target forward
  // from the journal by itself): the target already holds the source's rows and quantities.
  void expectSameCounts(const std::string& target) {
    EXPECT_EQ(test::sharedTarget().scalar(target,
                                          "SELECT count(*) || '/' || count(*) FILTER "
                                          "(WHERE note = 'moved') FROM moves"),
              test::sharedSource().scalar(sourceDb_,
                                          "SELECT count(*) || '/' || count(*) FILTER "
                                          "(WHERE note = 'moved') FROM inv_move"))
        << "moves of " << target;
    EXPECT_EQ(
        test::sharedTarget().scalar(target, "SELECT count(*) || '/' || sum(qty) FROM items"),
        test::sharedSource().scalar(sourceDb_, "SELECT count(*) || '/' || sum(qty) FROM inv_item"))
        << "items of " << target;
  }

  // `pgmorph verify`: the target equals the mapped source (exit 0).
  void expectEqualToSource(const std::string& config) {
    auto& v = pgmorph(config, "verify", {"--max-differences", "5"});
    EXPECT_EQ(finish(v), 0) << "the target differs from the mapped source:\n"
                            << v.stdoutText() << v.stderrText();
  }

  std::string sourceDb_, targetDb_, slot_, base_, journalDir_;
  std::vector<std::string> targets_, files_;
  std::vector<std::unique_ptr<e2e::ChildProcess>> children_;
};

}  // namespace pgmorph::journal_test
