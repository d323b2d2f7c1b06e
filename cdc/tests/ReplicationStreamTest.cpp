// ReplicationStream against a real PostgreSQL 15 source: streaming decoded transactions,
// keepalive replies, status updates that confirm exactly the flushed position, a
// walsender killed server-side, clean stop and resume.
#include "cdc/ReplicationStream.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <fmt/format.h>

#include <functional>

#include "cdc/SlotManager.h"
#include "cdc/Wal2JsonDecoder.h"
#include "cdc/pg/PgError.h"
#include "cdc/tests/CdcTestSupport.h"

namespace pgmorph {
namespace {

using namespace std::chrono_literals;

struct Received {
  Change change;
  Lsn dataStart;
};

class ReplicationStreamTest : public test::SourceDatabaseTest {
 protected:
  void SetUp() override {
    test::SourceDatabaseTest::SetUp();
    writer_ = std::make_unique<PgConnection>(conninfo(), "source");
    // The test cluster runs with synchronous_commit=off and the walsender only sends
    // flushed WAL: flush each commit at once instead of waiting for the WAL writer.
    writer_->exec("SET synchronous_commit = on");
    writer_->exec("CREATE TABLE items (id bigint PRIMARY KEY, price numeric(12,2), note text)");
    slot_ = test::uniqueSlotName("stream");
    created_ = SlotManager(conninfo()).create(slot_);
  }
  void TearDown() override {
    writer_.reset();
    test::SourceDatabaseTest::TearDown();
  }

  std::unique_ptr<ReplicationStream> startStream(std::string extraConninfo = "") {
    auto s = std::make_unique<ReplicationStream>(conninfo() + extraConninfo, slot_);
    s->start(created_.consistentPoint, Wal2JsonDecoder::pluginOptions());
    return s;
  }

  // Waits for the stream's socket to be readable (up to 50 ms): how the pipeline waits.
  static void waitReadable(ReplicationStream& s) {
    pollfd fd{s.socket(), POLLIN, 0};
    ::poll(&fd, 1, 50);
  }

  // Decodes messages until `done` holds for one of them; fails after `timeout`.
  std::vector<Received> receiveUntil(ReplicationStream& s,
                                     const std::function<bool(const Change&)>& done,
                                     std::chrono::milliseconds timeout = 10s) {
    std::vector<Received> out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      while (auto m = s.poll()) {
        Received r;
        decoder_.decode(m->payload, m->dataStart, r.change);
        r.dataStart = m->dataStart;
        out.push_back(std::move(r));
        if (done(out.back().change)) return out;
      }
      waitReadable(s);
    }
    ADD_FAILURE() << "timed out after receiving " << out.size() << " messages";
    return out;
  }
  std::vector<Received> receiveCommits(ReplicationStream& s, int commits) {
    int seen = 0;
    return receiveUntil(
        s, [&](const Change& c) { return c.kind == ChangeKind::Commit && ++seen == commits; });
  }

  Lsn confirmedFlush() {
    return Lsn::parse(source().scalar(
        db_,
        fmt::format("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{}'",
                    slot_)));
  }
  // "write flush" as the server took them from our last status update ("-" for none).
  std::string reportedPositions() {
    return source().scalar(
        db_, fmt::format("SELECT coalesce(r.write_lsn::text, '-') || ' ' ||"
                         " coalesce(r.flush_lsn::text, '-') FROM pg_stat_replication r"
                         " JOIN pg_replication_slots s ON s.active_pid = r.pid"
                         " WHERE s.slot_name = '{}'",
                         slot_));
  }

  std::unique_ptr<PgConnection> writer_;
  std::string slot_;
  CreatedSlot created_;
  Wal2JsonDecoder decoder_;
};

TEST_F(ReplicationStreamTest, StreamsTransactionsFromTheConsistentPoint) {
  auto stream = startStream();
  writer_->exec(
      "BEGIN; INSERT INTO items VALUES (14526741, 16040.59, E'two\\nlines'), (2, NULL, NULL);"
      " INSERT INTO items VALUES (3, 0.10, 'x'); COMMIT");
  auto got = receiveCommits(*stream, 1);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].change.kind, ChangeKind::Begin);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(got[i].change.kind, ChangeKind::Insert);
  const Change& commit = got[4].change;
  EXPECT_EQ(commit.kind, ChangeKind::Commit);
  EXPECT_EQ(commit.xid, got[0].change.xid);
  EXPECT_NE(commit.xid, 0u);
  EXPECT_GT(commit.lsn, created_.consistentPoint);
  EXPECT_GT(commit.nextLsn, commit.lsn);
  const Change& first = got[1].change;
  EXPECT_EQ(first.table(), "items");
  EXPECT_EQ(first.view(*first.findColumn("id")).value, "14526741");
  EXPECT_EQ(first.view(*first.findColumn("price")).value, "16040.59");
  EXPECT_EQ(first.view(*first.findColumn("note")).value, "two\nlines");
  EXPECT_TRUE(got[2].change.view(*got[2].change.findColumn("price")).isNull());
  EXPECT_EQ(got[3].change.view(*got[3].change.findColumn("price")).value, "0.10");
  // Each row change's XLogData starts at the change's own LSN; positions never go back.
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(got[i].dataStart, got[i].change.lsn);
  for (std::size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i].dataStart, got[i - 1].dataStart);
  EXPECT_EQ(stream->received(), got.back().dataStart);
  // Nothing is confirmed merely because it was received.
  EXPECT_EQ(confirmedFlush(), created_.consistentPoint);
}

TEST_F(ReplicationStreamTest, KeepaliveRepliesKeepAnIdleStreamAlive) {
  // wal_sender_timeout is settable per session: 400 ms makes the server ask for a reply
  // after 200 ms of silence and drop us at 400 ms, without touching the cluster's config.
  const std::string shortTimeout = " options='-c wal_sender_timeout=400ms'";
  {
    // Control: a stream that is never polled never replies, and the server drops it.
    auto silent = startStream(shortTimeout);
    ASSERT_TRUE(test::waitFor([&] {
      return source().scalar(db_, fmt::format("SELECT active FROM pg_replication_slots"
                                              " WHERE slot_name = '{}'",
                                              slot_)) == "f";
    })) << "the server did not drop a client that never replied";
    bool threw = false;
    test::waitFor([&] {
      try {
        silent->poll();
        waitReadable(*silent);
        return false;
      } catch (const PgError& e) {
        threw = true;
        EXPECT_EQ(e.errorClass(), ErrorClass::Transient) << e.what();
        return true;
      }
    });
    EXPECT_TRUE(threw);
  }
  auto stream = startStream(shortTimeout);
  // Three answered requests span longer than the 400 ms timeout.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (stream->keepaliveRepliesSent() < 3 && std::chrono::steady_clock::now() < deadline) {
    EXPECT_FALSE(stream->poll().has_value());
    waitReadable(*stream);
  }
  ASSERT_GE(stream->keepaliveRepliesSent(), 3u);
  EXPECT_GT(stream->serverWalEnd(), Lsn());
  writer_->exec("INSERT INTO items VALUES (7, 1.00, 'still here')");
  auto got = receiveCommits(*stream, 1);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].change.view(*got[1].change.findColumn("note")).value, "still here");
}

TEST_F(ReplicationStreamTest, StatusUpdatesConfirmExactlyTheFlushedPosition) {
  auto stream = startStream();
  writer_->exec("INSERT INTO items VALUES (1, 1.00, 'a')");
  writer_->exec("INSERT INTO items VALUES (2, 2.00, 'b')");
  auto got = receiveCommits(*stream, 2);
  std::vector<Lsn> commitEnds;
  for (const auto& r : got)
    if (r.change.kind == ChangeKind::Commit) commitEnds.push_back(r.change.nextLsn);
  ASSERT_EQ(commitEnds.size(), 2u);

  // Before setFlushed, a status update reports write = received and no flush position,
  // so nothing is confirmed.
  stream->sendStatus(true);
  std::string expectWrite = fmt::format("{} -", stream->received().str());
  ASSERT_TRUE(test::waitFor([&] { return reportedPositions() == expectWrite; }))
      << reportedPositions();
  EXPECT_EQ(confirmedFlush(), created_.consistentPoint);

  // Flushed up to the first commit: exactly that, although the second was received.
  stream->setFlushed(commitEnds[0]);
  stream->sendStatus();
  ASSERT_TRUE(test::waitFor([&] { return confirmedFlush() == commitEnds[0]; }))
      << confirmedFlush().str();
  // More traffic and answered keepalives never move it further.
  writer_->exec("INSERT INTO items VALUES (3, 3.00, 'c')");
  receiveCommits(*stream, 1);
  ASSERT_GT(stream->received(), commitEnds[1]);
  stream->sendStatus(true);
  std::string expectBoth = fmt::format("{} {}", stream->received().str(), commitEnds[0].str());
  ASSERT_TRUE(test::waitFor([&] { return reportedPositions() == expectBoth; }))
      << reportedPositions();
  EXPECT_EQ(confirmedFlush(), commitEnds[0]);

  // Flushed never moves backwards.
  stream->setFlushed(commitEnds[1]);
  stream->setFlushed(commitEnds[0]);
  EXPECT_EQ(stream->flushed(), commitEnds[1]);
  stream->sendStatus();
  ASSERT_TRUE(test::waitFor([&] { return confirmedFlush() == commitEnds[1]; }))
      << confirmedFlush().str();
}

TEST_F(ReplicationStreamTest, KilledWalsenderMakesPollThrowTransient) {
  auto stream = startStream();
  std::string pid;
  ASSERT_TRUE(test::waitFor([&] {
    pid = source().scalar(db_, fmt::format("SELECT active_pid FROM pg_replication_slots"
                                           " WHERE slot_name = '{}'",
                                           slot_));
    return !pid.empty();
  }));
  source().scalar(db_, "SELECT pg_terminate_backend(" + pid + ")");
  bool threw = false;
  test::waitFor([&] {
    try {
      stream->poll();
      waitReadable(*stream);
      return false;
    } catch (const PgError& e) {
      threw = true;
      EXPECT_EQ(e.errorClass(), ErrorClass::Transient) << e.what();
      EXPECT_NE(std::string(e.what()).find(slot_), std::string::npos) << e.what();
      return true;
    }
  });
  ASSERT_TRUE(threw) << "poll() never noticed the terminated walsender";
  EXPECT_FALSE(stream->streaming());
  EXPECT_EQ(stream->socket(), -1);
}

TEST_F(ReplicationStreamTest, StopReportsFlushedAndResumeSkipsWhatWasConfirmed) {
  auto stream = startStream();
  writer_->exec("INSERT INTO items VALUES (1, 1.00, 'first')");
  auto first = receiveCommits(*stream, 1);
  Lsn end = first.back().change.nextLsn;
  stream->setFlushed(end);
  stream->stop();
  EXPECT_FALSE(stream->streaming());
  EXPECT_TRUE(test::waitFor([&] {
    auto info = SlotManager(conninfo()).inspect(slot_);
    return info && !info->active;
  }));
  EXPECT_EQ(confirmedFlush(), end);

  // Asking for the old consistent point again: the server starts at confirmed_flush_lsn,
  // so the first transaction is not sent twice.
  writer_->exec("INSERT INTO items VALUES (2, 2.00, 'second')");
  auto resumed = startStream();
  auto got = receiveCommits(*resumed, 1);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].change.view(*got[1].change.findColumn("note")).value, "second");
}

TEST_F(ReplicationStreamTest, RejectedPluginOptionFailsStartWithTheServersReason) {
  ReplicationStream stream(conninfo(), slot_);
  try {
    stream.start(created_.consistentPoint, {{"format-version", "2"}, {"no-such-option", "it's"}});
    FAIL() << "wal2json accepted an unknown option";
  } catch (const PgError& e) {
    std::string msg = e.what();
    // The value came through the quoting intact: the server quotes it back.
    EXPECT_NE(msg.find("no-such-option"), std::string::npos) << msg;
    EXPECT_NE(msg.find("it's"), std::string::npos) << msg;
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator) << msg;
  }
}

// A second consumer of a streaming slot: not PostgreSQL's raw "slot is active for PID N", but who
// holds it and that N is the walsender's PID; transient (the holder may be going away).
TEST_F(ReplicationStreamTest, StartingASlotInUseNamesItsWalsender) {
  auto first = startStream();
  std::string pid(
      writer_
          ->execParams("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", {slot_})
          .value(0, 0));
  ReplicationStream second(conninfo(), slot_);
  try {
    second.start(created_.consistentPoint, Wal2JsonDecoder::pluginOptions());
    FAIL() << "two consumers streamed one slot";
  } catch (const PgmorphError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Transient) << msg;
    EXPECT_NE(msg.find(fmt::format("slot \"{}\" is in use: another pgmorph (or another consumer) "
                                   "is streaming it; the walsender serving it on the source has "
                                   "PID {}",
                                   slot_, pid)),
              std::string::npos)
        << msg;
  }
}

TEST(ReplicationStream, UnknownSlotFailsStart) {
  ReplicationStream stream(test::wal2jsonSource().conninfo("postgres"), "pgmorph_no_such_slot");
  try {
    stream.start(Lsn(), Wal2JsonDecoder::pluginOptions());
    FAIL();
  } catch (const PgError& e) {
    EXPECT_NE(std::string(e.what()).find("pgmorph_no_such_slot"), std::string::npos) << e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
  }
}

}  // namespace
}  // namespace pgmorph
