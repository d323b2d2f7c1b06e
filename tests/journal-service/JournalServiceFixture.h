// JournalServiceFixture: one source database with a small ledger schema of its own (accounts
// and their entries; every source transaction inserts one entry carrying its txid), a journal
// directory written by `pgmorph journal` (pipeline file writer.yaml), and reader pipelines
// (`source: { journal: DIR }`), each into a target database of its own. The projection of the
// source (what a reader's target must equal) is computed on both sides by SQL, independently of
// pgmorph: accounts by legacy id, entries by legacy id with their account's legacy id and txid.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cdc/pg/PgConnection.h"
#include "tests/e2e/AuditLog.h"
#include "tests/e2e/ChildProcess.h"
#include "tests/e2e/Poll.h"
#include "tests/e2e/SourceAudit.h"
#include "tests/support/PgCluster.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph::test {

using namespace std::chrono_literals;

inline constexpr const char* kLedgerNamespace = "5b0e3c1a-9d2f-4c8e-a1b7-6f4d2e8c9a01";

inline constexpr const char* kSourceSql = R"sql(
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE TABLE acct (id integer PRIMARY KEY, owner text NOT NULL, balance integer NOT NULL);
CREATE TABLE ledger (id bigserial PRIMARY KEY, acct_id integer NOT NULL REFERENCES acct,
                     amount integer NOT NULL, xid bigint NOT NULL DEFAULT txid_current());
)sql";

inline constexpr const char* kTargetSql = R"sql(
CREATE TABLE accounts (id uuid PRIMARY KEY, legacy_id integer, owner text, balance integer);
CREATE TABLE entries (id uuid PRIMARY KEY, legacy_id bigint, account_id uuid REFERENCES accounts,
                      amount integer, xid bigint);
)sql";

// One source transaction: an account's balance and one ledger entry (its txid).
inline constexpr const char* kWorkload = R"(\set a random(1, 200)
\set d random(-50, 50)
BEGIN;
UPDATE acct SET balance = balance + :d WHERE id = :a;
INSERT INTO ledger (acct_id, amount) VALUES (:a, :d);
END;
)";

class JournalServiceFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    sourceDb_ = sharedSource().createDatabase("js");
    slot_ = "pgmorph_" + sourceDb_;
    sharedSource().psql(sourceDb_, kSourceSql);
    PgConnection source(sharedSource().conninfo(sourceDb_), "source");
    e2e::SourceAudit::install(source, {"acct", "ledger"});
    work_ = fmt::format("/tmp/pgmorph-journal-service-{}", sourceDb_);
    std::filesystem::create_directories(work_);
    journalDir_ = work_ + "/journal";
    std::ofstream(work_ + "/load.pgbench") << kWorkload;
  }

  void TearDown() override {
    if (HasFailure())
      for (auto& c : children_)
        std::cerr << "---- " << c->commandLine() << " ----\n" << c->stderrText() << "\n";
    children_.clear();  // kills what still runs
    sharedSource().dropReplicationSlot(slot_);
    sharedSource().dropDatabase(sourceDb_);
    for (const auto& db : targetDbs_) sharedTarget().dropDatabase(db);
    if (!HasFailure()) std::filesystem::remove_all(work_);
  }

  // Accounts 1..n, written before anything streams (a reader gets them from its snapshot).
  void seedAccounts(int n) {
    sharedSource().psql(sourceDb_,
                        fmt::format("INSERT INTO acct SELECT g, 'owner ' || g, 1000 FROM "
                                    "generate_series(1, {}) g",
                                    n));
  }

  // writer.yaml: the `pgmorph journal` side. `journalExtra`: more keys of `journal:`.
  void writeWriterFile(const std::string& journalExtra = "") {
    // The target section is required by the loader but never used by `pgmorph journal`: an
    // address nothing listens on proves it.
    writeFile("writer.yaml", "jw",
              fmt::format("conninfo: \"{}\", slot: {}", sharedSource().conninfo(sourceDb_), slot_),
              "host=127.0.0.1 port=1 dbname=none connect_timeout=1",
              fmt::format("journal: {{ dir: \"{}\"{} }}\n", journalDir_, journalExtra));
  }

  // <name>.yaml: a reader of the journal into a new target database; returns that database.
  std::string addReader(const std::string& name, bool withSourceConninfo) {
    std::string db = sharedTarget().createDatabase("jr");
    targetDbs_.push_back(db);
    sharedTarget().psql(db, kTargetSql);
    PgConnection target(sharedTarget().conninfo(db), "target");
    e2e::AuditLog::install(target, {"accounts", "entries"});
    // Its own slot name: the temporary slot of its snapshot is named after it.
    std::string source = fmt::format("journal: \"{}\", slot: {}_{}", journalDir_, slot_, name);
    if (withSourceConninfo)
      source += fmt::format(", conninfo: \"{}\"", sharedSource().conninfo(sourceDb_));
    writeFile(name + ".yaml", name, source, sharedTarget().conninfo(db), "");
    return db;
  }

  e2e::ChildProcess& spawn(std::vector<std::string> argv, const std::string& log) {
    children_.push_back(std::make_unique<e2e::ChildProcess>(
        std::move(argv), fmt::format("{}/{}.{}", work_, log, children_.size())));
    return *children_.back();
  }
  e2e::ChildProcess& pgmorph(const std::string& command, const std::string& file,
                             std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{PGMORPH_BINARY, command, "-c", work_ + "/" + file};
    if (command != "status") argv.insert(argv.end(), {"--progress-interval", "1"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return spawn(std::move(argv), command + "-" + file);
  }
  e2e::ChildProcess& pgbench(int seconds, int rate) {
    return spawn(
        {pgBin("pgbench"), "-n", "-c", "2", "-T", std::to_string(seconds), "-R",
         std::to_string(rate), "-f", work_ + "/load.pgbench", sharedSource().conninfo(sourceDb_)},
        "pgbench");
  }
  int finish(e2e::ChildProcess& child, std::chrono::seconds timeout = 60s) {
    auto status = child.waitFor(timeout);
    if (!status) child.kill9();
    EXPECT_TRUE(status) << child.commandLine() << " did not end in time\n" << child.stderrText();
    return status.value_or(-1);
  }
  void stop(e2e::ChildProcess& child) {
    child.signal(SIGINT);
    EXPECT_EQ(finish(child), 0) << child.stderrText();
  }

  bool slotActive() {
    return sharedSource().scalar(sourceDb_,
                                 fmt::format("SELECT count(*) FROM pg_replication_slots WHERE "
                                             "slot_name = '{}' AND active",
                                             slot_)) == "1";
  }
  // WAL the slot makes the source keep, and how far its confirmed position is behind.
  std::pair<long long, long long> slotRetained() {
    std::string v = sharedSource().scalar(
        sourceDb_, fmt::format("SELECT (pg_current_wal_lsn() - restart_lsn)::bigint || ',' || "
                               "(pg_current_wal_lsn() - confirmed_flush_lsn)::bigint FROM "
                               "pg_replication_slots WHERE slot_name = '{}'",
                               slot_));
    auto comma = v.find(',');
    return {std::stoll(v.substr(0, comma)), std::stoll(v.substr(comma + 1))};
  }

  // The projection, one text per side: equal when the target holds exactly the source's rows.
  std::string sourceProjection() {
    return sharedSource().scalar(
        sourceDb_,
        "SELECT md5(coalesce((SELECT string_agg(id || ':' || owner || ':' || balance, ',' ORDER BY "
        "id) FROM acct), '') || '|' || coalesce((SELECT string_agg(id || ':' || acct_id || ':' "
        "|| amount || ':' || xid, ',' ORDER BY id) FROM ledger), ''))");
  }
  std::string targetProjection(const std::string& db) {
    return sharedTarget().scalar(
        db,
        "SELECT md5(coalesce((SELECT string_agg(legacy_id || ':' || owner || ':' || balance, ',' "
        "ORDER BY legacy_id) FROM accounts), '') || '|' || coalesce((SELECT string_agg(e.legacy_id "
        "|| ':' || a.legacy_id || ':' || e.amount || ':' || e.xid, ',' ORDER BY e.legacy_id) FROM "
        "entries e JOIN accounts a ON a.id = e.account_id), ''))");
  }
  bool converges(const std::string& db, std::chrono::seconds timeout = 60s) {
    return e2e::pollUntil(
        timeout, [&] { return targetProjection(db) == sourceProjection(); }, 200ms);
  }

  std::string sourceDb_, slot_, work_, journalDir_;
  std::vector<std::string> targetDbs_;
  std::vector<std::unique_ptr<e2e::ChildProcess>> children_;

 private:
  void writeFile(const std::string& file, const std::string& pipeline, const std::string& source,
                 const std::string& target, const std::string& extra) {
    std::ofstream(work_ + "/" + file)
        << fmt::format(R"(pipeline: {}
source: {{ {} }}
target: {{ conninfo: "{}", state_schema: {}_state }}
ids: {{ namespace: {} }}
apply: {{ status_interval_ms: 200, batch_ms: 50 }}
slot: {{ heartbeat_interval_ms: 300 }}
{}tables:
  acct:
    - target: accounts
      key: id
      legacy_id: legacy_id
      columns:
        owner: owner
        balance: balance
  ledger:
    - target: entries
      key: id
      legacy_id: legacy_id
      columns:
        acct_id: {{ to: account_id, ref: acct }}
        amount: amount
        xid: xid
ignore: [e2e_audit.events]
)",
                       pipeline, source, target, pipeline, kLedgerNamespace, extra);
  }
};

}  // namespace pgmorph::test
