// End to end: `pgmorph journal` owns the slot and writes the journal; pipelines with
// `source: { journal: DIR }` apply it into targets of their own (JournalServiceFixture).
//  (a) two targets from one slot under a pgbench writer; one reader stopped for a while and then
//      caught up from the journal; both equal the source's projection; the slot's confirmed
//      position kept up with the source meanwhile (the journal confirms, not the readers);
//  (b) the journal writer killed (SIGKILL) five times at random moments under load and
//      restarted (the reader twice too): the reader applied every source transaction exactly once
//      (projection and the audits), and the journal holds each source transaction once (no gap, no
//      duplicate);
//  (c) retention: only applied segments go while readers keep up; a reader left behind is
//      forced past (error line naming it, status, metric) and is then told it needs a snapshot;
//      with it, the refusals (no journal: section, a reader's snapshot without source.conninfo)
//      and --until-caught-up of a reader without a source (the journal's end at start);
//  (d) a second writer of one journal, and a slot consumed past the journal's end, are refused.
#include <csignal>
#include <cstdio>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include <rapidjson/document.h>

#include "state/journal/Journal.h"
#include "tests/e2e/ExactlyOnceCheck.h"
#include "tests/journal-service/JournalServiceFixture.h"
#include "tests/support/HttpGet.h"
#include "tests/support/PrometheusScrape.h"

namespace pgmorph::test {
namespace {

using JournalService = JournalServiceFixture;

// Every transaction of the journal once, in commit order: their xids (from wal2json's Begin
// message) and commit ends.
struct JournalTransactions {
  std::vector<long long> xids;
  std::vector<Lsn> commits;
  Lsn start;
};
JournalTransactions readJournal(const std::string& dir) {
  JournalTransactions out;
  JournalReader reader(dir);
  out.start = reader.start();
  reader.seek(reader.start());
  static const std::regex xid("\"xid\"\\s*:\\s*([0-9]+)");
  bool first = false;
  while (auto r = reader.next()) {
    if (r->kind == JournalReader::Record::Kind::Begin) {
      out.commits.push_back(r->lsn);
      first = true;
    } else if (r->kind == JournalReader::Record::Kind::Message && first) {
      std::cmatch m;
      std::string payload(r->payload);
      if (std::regex_search(payload.c_str(), m, xid)) out.xids.push_back(std::stoll(m[1]));
      first = false;
    }
  }
  return out;
}

TEST_F(JournalService, TwoTargetsFromOneSlotAndAStoppedReaderCatchesUp) {
  seedAccounts(200);
  writeWriterFile();
  std::string t1 = addReader("r1", true);
  std::string t2 = addReader("r2", true);
  auto& journal = pgmorph("journal", "writer.yaml");
  ASSERT_TRUE(e2e::pollUntil(30s, [&] { return slotActive(); })) << journal.stderrText();
  auto& load = pgbench(30, 150);
  // Both readers: a snapshot under a temporary slot, then the journal from its point.
  auto* r1 = &pgmorph("run", "r1.yaml");
  auto* r2 = &pgmorph("run", "r2.yaml");
  ASSERT_TRUE(e2e::pollUntil(40s, [&] {
    return r2->stderrText().find("applying journal") != std::string::npos;
  })) << r2->stderrText();
  std::this_thread::sleep_for(2s);
  stop(*r2);
  // While r2 is down the source writes on; the slot is confirmed by the journal all the same.
  long long maxRetained = 0, maxUnconfirmed = 0;
  for (int i = 0; i < 40; ++i) {
    auto [retained, unconfirmed] = slotRetained();
    maxRetained = std::max(maxRetained, retained);
    maxUnconfirmed = std::max(maxUnconfirmed, unconfirmed);
    std::this_thread::sleep_for(250ms);
  }
  long long walWritten = std::stoll(
      sharedSource().scalar(sourceDb_, "SELECT count(*) FROM ledger"));  // transactions so far
  std::printf(
      "[ journal ] reader r2 stopped 10 s: slot kept at most %lld bytes of WAL "
      "(restart_lsn), at most %lld bytes unconfirmed; %lld transactions so far\n",
      maxRetained, maxUnconfirmed, walWritten);
  r2 = &pgmorph("follow", "r2.yaml");
  ASSERT_EQ(finish(load, 60s), 0) << load.stderrText();
  EXPECT_GT(std::stoll(sharedSource().scalar(sourceDb_, "SELECT count(*) FROM ledger")), 1000);
  EXPECT_TRUE(converges(t1)) << r1->stderrText();
  EXPECT_TRUE(converges(t2)) << r2->stderrText();
  // The journal confirms what it holds: a stopped reader does not hold the source's WAL back.
  EXPECT_LT(maxUnconfirmed, 256 << 10);
  EXPECT_LT(maxRetained, 64 << 20);
  // Status of a reader shows the journal and both consumers.
  auto& status = pgmorph("status", "r2.yaml", {"--json"});
  ASSERT_EQ(finish(status), 0) << status.stdoutText() << status.stderrText();
  rapidjson::Document doc;
  doc.Parse(status.stdoutText().c_str());
  ASSERT_TRUE(doc.IsObject() && doc["journal"].IsObject()) << status.stdoutText();
  EXPECT_STREQ(doc["journal"]["role"].GetString(), "reads");
  std::set<std::string> consumers;
  for (const auto& c : doc["journal"]["consumers"].GetArray())
    consumers.insert(c["name"].GetString());
  EXPECT_EQ(consumers, (std::set<std::string>{"r1", "r2"})) << status.stdoutText();
  stop(*r1);
  stop(*r2);
  stop(journal);
  // No second permanent slot: only the journal's.
  EXPECT_EQ(sharedSource().scalar(sourceDb_,
                                  "SELECT count(*) FROM pg_replication_slots WHERE "
                                  "database = current_database()"),
            "1");
}

TEST_F(JournalService, JournalWriterKilledUnderLoadLosesAndDuplicatesNothing) {
  seedAccounts(200);
  writeWriterFile(", segment_bytes: 256kB");
  std::string t1 = addReader("r1", true);
  auto* journal = &pgmorph("journal", "writer.yaml");
  ASSERT_TRUE(e2e::pollUntil(30s, [&] { return slotActive(); })) << journal->stderrText();
  auto* reader = &pgmorph("run", "r1.yaml");
  ASSERT_TRUE(e2e::pollUntil(40s, [&] {
    return reader->stderrText().find("applying journal") != std::string::npos;
  })) << reader->stderrText();
  auto& load = pgbench(25, 200);
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause(500, 3000);
  for (int kill = 0; kill < 5; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
    journal->kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng) / 4));
    journal = &pgmorph("journal", "writer.yaml");
    if (kill % 2 == 1) {
      // The reader too, now and then: it resumes from its target's checkpoint.
      reader->kill9();
      reader = &pgmorph("follow", "r1.yaml");
    }
  }
  ASSERT_EQ(finish(load, 60s), 0) << load.stderrText();
  EXPECT_TRUE(converges(t1, 90s)) << reader->stderrText() << journal->stderrText();
  stop(*reader);
  stop(*journal);

  PgConnection source(sharedSource().conninfo(sourceDb_), "source");
  PgConnection target(sharedTarget().conninfo(t1), "target");
  for (auto [s, t] : {std::pair{"acct", "accounts"}, std::pair{"ledger", "entries"}}) {
    auto report = e2e::checkExactlyOnce(source, target, kLedgerNamespace, s, t);
    EXPECT_TRUE(report.ok()) << s << ": " << report.str();
  }
  // The journal: commit ends strictly increasing (no duplicate), and every ledger transaction
  // that committed after its start is in it (no gap).
  JournalTransactions j = readJournal(journalDir_);
  for (std::size_t i = 1; i < j.commits.size(); ++i)
    ASSERT_LT(j.commits[i - 1], j.commits[i]) << "transaction " << i << " twice or out of order";
  std::set<long long> journaled(j.xids.begin(), j.xids.end());
  EXPECT_EQ(journaled.size(), j.xids.size()) << "a source transaction journaled twice";
  auto res = source.exec("SELECT xid FROM ledger WHERE amount IS NOT NULL ORDER BY id");
  int missing = 0;
  for (int r = 0; r < res.rows(); ++r)
    if (!journaled.count(std::stoll(std::string(res.value(r, 0))) & 0xffffffffLL)) ++missing;
  std::printf(
      "[ journal ] 5 kills: %zu transactions journaled, %d ledger transactions of the "
      "source missing from it\n",
      j.xids.size(), missing);
  EXPECT_EQ(missing, 0);
}

TEST_F(JournalService, RetentionKeepsWhatReadersNeedAndSaysWhenItCannot) {
  writeWriterFile(", segment_bytes: 64kB, retain_bytes: 1MB");
  std::string t1 = addReader("r1", false);
  std::string t2 = addReader("r2", false);
  // Refusals that name what is missing: no journal: section for the writer, no source for a
  // reader's snapshot (never a libpq default connection).
  auto& noJournal = pgmorph("journal", "r1.yaml");
  EXPECT_EQ(finish(noJournal), 2);
  EXPECT_NE(noJournal.stderrText().find("needs a `journal:` section"), std::string::npos)
      << noJournal.stderrText();
  auto& noSource = pgmorph("snapshot", "r2.yaml");
  EXPECT_EQ(finish(noSource), 2);
  EXPECT_NE(noSource.stderrText().find("a snapshot copies from the source: set source.conninfo"),
            std::string::npos)
      << noSource.stderrText();
  int port = freePort();
  auto& journal = pgmorph(
      "journal", "writer.yaml",
      {"--retention-interval", "1", "--metrics-address", fmt::format("127.0.0.1:{}", port)});
  ASSERT_TRUE(e2e::pollUntil(30s, [&] { return slotActive(); })) << journal.stderrText();
  seedAccounts(200);
  auto* r1 = &pgmorph("follow", "r1.yaml");
  auto* r2 = &pgmorph("follow", "r2.yaml");
  auto& load = pgbench(8, 200);
  // While both keep up, retention never passes a consumer.
  bool passed = false;
  while (load.running()) {
    JournalInfo info = JournalReader(journalDir_).info();
    for (const auto& c : info.consumers) passed = passed || c.applied < info.start;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_FALSE(passed) << "retention removed a segment a running reader had not applied";
  EXPECT_TRUE(converges(t1)) << r1->stderrText();
  EXPECT_TRUE(converges(t2)) << r2->stderrText();
  EXPECT_EQ(journal.stderrText().find("had not applied"), std::string::npos)
      << journal.stderrText();

  // r2 stops; a few MB more than retain_bytes go through: retention must force past it.
  stop(*r2);
  auto& more = pgbench(10, 400);
  ASSERT_EQ(finish(more, 60s), 0);
  ASSERT_TRUE(e2e::pollUntil(20s, [&] {
    return journal.stderrText().find("consumer(s) r2 had not applied") != std::string::npos;
  })) << journal.stderrText();
  EXPECT_TRUE(converges(t1)) << r1->stderrText();
  JournalInfo info = JournalReader(journalDir_).info();
  EXPECT_LT(info.bytes, 3u << 20) << "retention did not bound the journal";
  for (const auto& c : info.consumers)
    if (c.name == "r1") EXPECT_GE(c.applied, info.start);

  auto& status = pgmorph("status", "r2.yaml", {"--json"});
  ASSERT_EQ(finish(status), 0) << status.stdoutText();
  rapidjson::Document doc;
  doc.Parse(status.stdoutText().c_str());
  ASSERT_TRUE(doc.IsObject() && doc["journal"].IsObject()) << status.stdoutText();
  ASSERT_EQ(doc["journal"]["forced_retention"].Size(), 1u) << status.stdoutText();
  EXPECT_STREQ(doc["journal"]["forced_retention"][0].GetString(), "r2");
  auto& text = pgmorph("status", "r2.yaml");
  ASSERT_EQ(finish(text), 0);
  EXPECT_NE(text.stdoutText().find("retention deleted changes consumer 'r2' had not applied"),
            std::string::npos)
      << text.stdoutText();
  auto scraped = httpGet(port, "/metrics").body;
  EXPECT_EQ(sample(scraped, "pgmorph_journal_forced_retention_total{consumer=\"r2\"}"), 1)
      << scraped;
  EXPECT_EQ(sample(scraped, "pgmorph_journal_consumer_behind_retention{consumer=\"r2\"}"), 1)
      << scraped;

  // The reader left behind is told, and stops (2).
  auto& late = pgmorph("follow", "r2.yaml");
  EXPECT_EQ(finish(late), 2);
  EXPECT_NE(late.stderrText().find("holds only the transactions committing after"),
            std::string::npos)
      << late.stderrText();
  EXPECT_NE(late.stderrText().find("take a new snapshot"), std::string::npos);
  // Without source.conninfo, "caught up" is the journal's end at start.
  stop(*r1);
  auto& caughtUp = pgmorph("follow", "r1.yaml", {"--until-caught-up"});
  EXPECT_EQ(finish(caughtUp), 0);
  EXPECT_NE(caughtUp.stderrText().find("following until caught up with the journal's end"),
            std::string::npos)
      << caughtUp.stderrText();
  stop(journal);
}

// The journal has one writer, and never a hole: a second `pgmorph journal` on the directory is
// refused naming the first; a slot someone else consumed past the journal's end is refused.
TEST_F(JournalService, ASecondWriterAndAHoleAreRefused) {
  writeWriterFile();
  auto& journal = pgmorph("journal", "writer.yaml");
  ASSERT_TRUE(e2e::pollUntil(30s, [&] { return slotActive(); })) << journal.stderrText();
  auto& second = pgmorph("journal", "writer.yaml");
  EXPECT_EQ(finish(second), 2);
  EXPECT_NE(second.stderrText().find(
                fmt::format("is already being written by process {}", journal.pid())),
            std::string::npos)
      << second.stderrText();
  stop(journal);
  // Another consumer moves the slot on while the journal is stopped (once its walsender is gone).
  ASSERT_TRUE(e2e::pollUntil(10s, [&] { return !slotActive(); }));
  seedAccounts(10);
  // The test clusters may commit without waiting for the flush: decoding reads flushed WAL.
  sharedSource().psql(sourceDb_, "SELECT pg_switch_wal()");
  std::string consumed = sharedSource().scalar(
      sourceDb_,
      fmt::format("SELECT count(*) FROM pg_logical_slot_get_changes('{}', NULL, NULL)", slot_));
  ASSERT_NE(consumed, "0");
  auto& again = pgmorph("journal", "writer.yaml");
  EXPECT_EQ(finish(again), 2);
  EXPECT_NE(again.stderrText().find("the journal has a hole"), std::string::npos)
      << again.stderrText();
}

}  // namespace
}  // namespace pgmorph::test
