// TargetWriter::applyOrdered on a real target: multi-row statements carry values exactly
// (quotes, backslashes, NULL against 'NULL', TOAST left alone), a refused row inside a
// multi-row statement is isolated and named exactly, and the RefusalHandler can skip it and
// let the rest of the batch commit.
#include <gtest/gtest.h>

#include "sink/tests/OrderingTestSupport.h"

namespace pgmorph::ordertest {
namespace {

class OrderingBulk : public OrderingTest {
 protected:
  void SetUp() override {
    OrderingTest::SetUp();
    std::vector<TargetWrite> seed = writesOf({office("1"), patient("1")});
    applyOrdered(seed);
  }
  std::vector<TargetWrite> users(int from, int to, int bad = -1) {
    WriteBatch batch;
    for (int u = from; u <= to; ++u) {
      std::string key = std::to_string(u);
      std::string email = u == bad ? "user" + key + " at example dot com" : "u" + key + "@x.org";
      EXPECT_EQ(tf_.transform(user(ChangeKind::Insert, key, email), batch).status,
                TransformOutcome::Status::Written);
    }
    return {batch.writes().begin(), batch.writes().end()};
  }
  // An update of instruction `id` that leaves its notes alone (unchanged TOAST: wal2json
  // leaves the column out).
  static Change statusOnly(std::string id, std::string status) {
    return test::makeChange(
        ChangeKind::Update, "dispatch_instruction",
        {test::num("id", id), test::num("patient_id", "1"), test::null("doctor_id"),
         test::null("upper_jaw_id"), test::null("lower_jaw_id"), test::num("status", status),
         test::num("price", "100.00"), test::null("submitted_at"), ts("created_at")},
        {test::num("id", id)});
  }
};

TEST_F(OrderingBulk, ARefusedRowInAMultiRowStatementIsNamedExactly) {
  auto writes = users(1, 12, 7);
  const auto before = writer_->orderedCounters();
  writer_->begin();
  try {
    writer_->applyOrdered(orderer_->order(writes));
    FAIL() << "the target accepted an e-mail its check refuses";
  } catch (const RefusedRowError& e) {
    EXPECT_EQ(e.row().writeIndex, 6u);  // user 7 is the seventh write
    EXPECT_EQ(e.row().legacyKey, "7");
    EXPECT_EQ(e.row().sqlstate, "23514");
    EXPECT_EQ(e.row().constraint, "profiles_email_check");
    EXPECT_EQ(e.row().targetTable, "public.profiles");
  }
  // Stop: the whole transaction is gone.
  EXPECT_FALSE(writer_->inTransaction());
  EXPECT_EQ(count("profiles"), 0);
  // First pass: the multi-row statement fails; second: its rows one by one name user 7
  // (and stop).
  EXPECT_EQ(writer_->orderedCounters().retriedPasses, before.retriedPasses + 2);
}

TEST_F(OrderingBulk, ASkippedRefusalLetsTheRestOfTheBatchCommit) {
  auto writes = users(1, 12, 7);
  std::vector<std::string> refused;
  applyOrdered(writes, [&](const RefusedRow& row, const TargetWrite& w) {
    refused.push_back(row.legacyKey + " " + row.sqlstate);
    EXPECT_EQ(w.row, tf_.ids().id("dispatch_user", "7"));
    EXPECT_EQ(row.writeIndex, 6u);
    return RefusalAction::Skip;
  });
  EXPECT_EQ(refused, std::vector<std::string>{"7 23514"});
  EXPECT_EQ(count("profiles"), 11);
  EXPECT_EQ(value("SELECT count(*) FROM profiles WHERE legacy_user_id = 7"), "0");
  EXPECT_EQ(checkpoint()->lsn, Lsn(lsn_));
}

TEST_F(OrderingBulk, TwoRefusalsInOneBatchAreBothReportedInOrder) {
  auto writes = users(1, 10, 3);
  auto more = users(11, 20, 15);
  writes.insert(writes.end(), more.begin(), more.end());
  std::vector<std::string> refused;
  applyOrdered(writes, [&](const RefusedRow& row, const TargetWrite&) {
    refused.push_back(row.legacyKey);
    return RefusalAction::Skip;
  });
  EXPECT_EQ(refused, (std::vector<std::string>{"3", "15"}));
  EXPECT_EQ(count("profiles"), 18);
}

TEST_F(OrderingBulk, AMissingRowOfASetColumnsRunIsNamed) {
  // Orders 1..6 name jaws 1..12 (which exist), order 7 names jaw 99 (which does not).
  std::vector<Change> changes;
  for (int j = 1; j <= 12; ++j) changes.push_back(jaw(std::to_string(j)));
  WriteBatch seed;
  for (const auto& c : changes) tf_.transform(c, seed);
  applyOrdered({seed.writes().begin(), seed.writes().end()});
  WriteBatch batch;
  for (int o = 1; o <= 6; ++o)
    tf_.transform(instruction(ChangeKind::Insert, std::to_string(o), std::to_string(2 * o - 1),
                              std::to_string(2 * o)),
                  batch);
  tf_.transform(instruction(ChangeKind::Insert, "7", "99", std::nullopt), batch);
  std::vector<TargetWrite> writes(batch.writes().begin(), batch.writes().end());
  std::vector<std::string> refused;
  applyOrdered(writes, [&](const RefusedRow& row, const TargetWrite& w) {
    refused.push_back(row.legacyKey + " " + row.sqlstate + " " + std::string(toString(row.op)));
    EXPECT_EQ(w.row, tf_.ids().id("dispatch_jaw", "99"));
    EXPECT_EQ(writes[row.writeIndex].row, w.row);
    return RefusalAction::Skip;
  });
  EXPECT_EQ(refused, std::vector<std::string>{"7 02000 set-columns"});
  EXPECT_EQ(count("orders"), 7);
  EXPECT_EQ(jawState(*observer_, "11"), "6 upper");
  EXPECT_EQ(jawState(*observer_, "12"), "6 lower");
}

TEST_F(OrderingBulk, ASetColumnsRunThatChangesNothingRewritesNoRowAndIsNotAMissingRow) {
  std::vector<Change> changes;
  for (int j = 1; j <= 12; ++j) changes.push_back(jaw(std::to_string(j)));
  WriteBatch seed;
  for (const auto& c : changes) tf_.transform(c, seed);
  for (int o = 1; o <= 6; ++o)
    tf_.transform(instruction(ChangeKind::Insert, std::to_string(o), std::to_string(2 * o - 1),
                              std::to_string(2 * o)),
                  seed);
  applyOrdered({seed.writes().begin(), seed.writes().end()});
  // The row versions of the jaws as the orders left them.
  const std::string versions =
      "SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY id) FROM jaws";
  const std::string before = value(versions);

  // Status updates of all six orders: wal2json gives no old values, so each one sets its
  // two jaws again, to what they already hold.
  WriteBatch batch;
  for (int o = 1; o <= 6; ++o)
    tf_.transform(instruction(ChangeKind::Update, std::to_string(o), std::to_string(2 * o - 1),
                              std::to_string(2 * o), "1"),
                  batch);
  std::vector<TargetWrite> writes(batch.writes().begin(), batch.writes().end());
  const auto counters = writer_->orderedCounters();
  std::vector<std::string> refused;
  applyOrdered(writes, [&](const RefusedRow& row, const TargetWrite&) {
    refused.push_back(row.legacyKey + " " + row.sqlstate);
    return RefusalAction::Skip;
  });
  EXPECT_TRUE(refused.empty()) << refused.front();
  // Sent as multi-row statements, never retried row by row for a "missing" row.
  EXPECT_EQ(writer_->orderedCounters().retriedPasses, counters.retriedPasses);
  EXPECT_EQ(writer_->orderedCounters().oneRowWrites, counters.oneRowWrites);
  EXPECT_EQ(value(versions), before);
  EXPECT_EQ(value("SELECT count(*) FROM orders WHERE status = 'submitted'"), "6");
  for (int o = 1; o <= 6; ++o) {
    EXPECT_EQ(jawState(*observer_, std::to_string(2 * o - 1)), std::to_string(o) + " upper");
    EXPECT_EQ(jawState(*observer_, std::to_string(2 * o)), std::to_string(o) + " lower");
  }

  // Unchanged rows, changed rows and a missing row in one batch: the missing one is still
  // named, the changed ones are written. The lower jaws' run has no missing row: its
  // unchanged rows are left alone (the upper jaws' run is sent again row by row to find the
  // missing one, and one-row statements write unconditionally).
  const std::string untouched =
      "SELECT string_agg(xmin::text || ctid::text, ',' ORDER BY legacy_jaw_id) FROM jaws WHERE "
      "legacy_jaw_id IN (2, 4, 6, 8)";
  const std::string kept = value(untouched);
  WriteBatch mixed;
  for (int o = 1; o <= 4; ++o)
    tf_.transform(instruction(ChangeKind::Update, std::to_string(o), std::to_string(2 * o - 1),
                              std::to_string(2 * o), "2"),
                  mixed);
  tf_.transform(instruction(ChangeKind::Update, "5", "10", "9", "2"), mixed);  // swap
  tf_.transform(instruction(ChangeKind::Update, "6", "99", "12", "2"), mixed);
  std::vector<TargetWrite> more(mixed.writes().begin(), mixed.writes().end());
  applyOrdered(more, [&](const RefusedRow& row, const TargetWrite& w) {
    refused.push_back(row.legacyKey + " " + row.sqlstate + " " + std::string(toString(row.op)));
    EXPECT_EQ(w.row, tf_.ids().id("dispatch_jaw", "99"));
    return RefusalAction::Skip;
  });
  EXPECT_EQ(refused, std::vector<std::string>{"6 02000 set-columns"});
  EXPECT_EQ(jawState(*observer_, "9"), "5 lower");
  EXPECT_EQ(jawState(*observer_, "10"), "5 upper");
  EXPECT_EQ(jawState(*observer_, "11"), "- -");  // released: order 6's upper is jaw 99 now
  EXPECT_EQ(jawState(*observer_, "12"), "6 lower");
  for (int o = 1; o <= 4; ++o) {
    EXPECT_EQ(jawState(*observer_, std::to_string(2 * o - 1)), std::to_string(o) + " upper");
    EXPECT_EQ(jawState(*observer_, std::to_string(2 * o)), std::to_string(o) + " lower");
  }
  EXPECT_EQ(value(untouched), kept);
}

TEST_F(OrderingBulk, AnUpsertOfARowThatHoldsItsValuesWritesNoNewRowVersion) {
  WriteBatch seed;
  for (int o = 1; o <= 6; ++o)
    tf_.transform(instruction(ChangeKind::Insert, std::to_string(o), std::nullopt, std::nullopt),
                  seed);
  applyOrdered({seed.writes().begin(), seed.writes().end()});
  auto version = [&](int o) {
    return value("SELECT xmin::text || ctid::text FROM orders WHERE legacy_instruction_id = " +
                 std::to_string(o));
  };
  std::vector<std::string> before;
  for (int o = 1; o <= 6; ++o) before.push_back(version(o));

  // 1-3: the same values again (an update of a column the mapping drops looks like this);
  // 4: a new status; 5: new notes; 6: the price written as 100.0, which numeric(12,2) stores
  // as the 100.00 it holds.
  WriteBatch batch;
  for (int o = 1; o <= 3; ++o)
    tf_.transform(instruction(ChangeKind::Update, std::to_string(o), std::nullopt, std::nullopt),
                  batch);
  tf_.transform(instruction(ChangeKind::Update, "4", std::nullopt, std::nullopt, "1"), batch);
  tf_.transform(
      instruction(ChangeKind::Update, "5", std::nullopt, std::nullopt, "0", "rewritten notes"),
      batch);
  tf_.transform(
      test::makeChange(ChangeKind::Update, "dispatch_instruction",
                       {test::num("id", "6"), test::num("patient_id", "1"), test::null("doctor_id"),
                        test::null("upper_jaw_id"), test::null("lower_jaw_id"),
                        test::num("status", "0"), test::num("price", "100.0"),
                        test::str("notes", "notes"), test::null("submitted_at"), ts("created_at")},
                       {test::num("id", "6")}),
      batch);
  const auto counters = writer_->orderedCounters();
  applyOrdered({batch.writes().begin(), batch.writes().end()});
  // One multi-row upsert, not retried row by row.
  EXPECT_EQ(writer_->orderedCounters().oneRowWrites, counters.oneRowWrites);
  for (int o : {1, 2, 3, 6}) EXPECT_EQ(version(o), before[o - 1]) << "order " << o;
  for (int o : {4, 5}) EXPECT_NE(version(o), before[o - 1]) << "order " << o;
  EXPECT_EQ(value("SELECT status FROM orders WHERE legacy_instruction_id = 4"), "submitted");
  EXPECT_EQ(value("SELECT notes FROM orders WHERE legacy_instruction_id = 5"), "rewritten notes");
  EXPECT_EQ(value("SELECT price::text FROM orders WHERE legacy_instruction_id = 6"), "100.00");
}

TEST_F(OrderingBulk, RowsTheSourceInsertedGoAsOnePlainInsertAndARowTheTargetHasStillLands) {
  // New rows: one multi-row statement, no pass retried.
  auto fresh = users(1, 6);
  for (const auto& w : fresh) EXPECT_TRUE(w.fresh);
  auto counters = writer_->orderedCounters();
  applyOrdered(fresh);
  EXPECT_EQ(writer_->orderedCounters().retriedPasses, counters.retriedPasses);
  EXPECT_EQ(writer_->orderedCounters().oneRowWrites, counters.oneRowWrites);
  EXPECT_EQ(count("profiles"), 6);

  // The source inserts 4-9 while the target holds 4-6 already (a target restored from a
  // later backup than its checkpoint, say): the plain INSERT fails on the primary key, the run
  // goes row by row as upserts, and every row lands with the source's values. Nothing is
  // refused.
  WriteBatch batch;
  for (int u = 4; u <= 9; ++u)
    tf_.transform(
        user(ChangeKind::Insert, std::to_string(u), "again" + std::to_string(u) + "@x.org"), batch);
  std::vector<TargetWrite> writes(batch.writes().begin(), batch.writes().end());
  counters = writer_->orderedCounters();
  std::vector<std::string> refused;
  applyOrdered(writes, [&](const RefusedRow& row, const TargetWrite&) {
    refused.push_back(row.legacyKey + " " + row.sqlstate);
    return RefusalAction::Skip;
  });
  EXPECT_TRUE(refused.empty()) << refused.front();
  EXPECT_GT(writer_->orderedCounters().retriedPasses, counters.retriedPasses);
  EXPECT_EQ(count("profiles"), 9);
  EXPECT_EQ(value("SELECT string_agg(email, ',' ORDER BY legacy_user_id) FROM profiles WHERE "
                  "legacy_user_id >= 4"),
            "again4@x.org,again5@x.org,again6@x.org,again7@x.org,again8@x.org,again9@x.org");

  // Updates are not fresh, and an insert merged with its later update in one batch still is.
  WriteBatch mixed;
  tf_.transform(user(ChangeKind::Update, "2", "upd2@x.org"), mixed);
  tf_.transform(user(ChangeKind::Insert, "10", "u10@x.org"), mixed);
  tf_.transform(user(ChangeKind::Update, "10", "upd10@x.org"), mixed);
  ASSERT_EQ(mixed.writes().size(), 3u);
  EXPECT_FALSE(mixed.writes()[0].fresh);
  EXPECT_TRUE(mixed.writes()[1].fresh);
  EXPECT_FALSE(mixed.writes()[2].fresh);
  std::vector<TargetWrite> more(mixed.writes().begin(), mixed.writes().end());
  const OrderedBatch& ordered = orderer_->order(more);
  std::vector<bool> freshOut;
  for (const auto& w : ordered.writes) freshOut.push_back(w.write->fresh);
  EXPECT_EQ(freshOut, (std::vector<bool>{false, true}));
  applyOrdered(more);
  EXPECT_EQ(value("SELECT email FROM profiles WHERE legacy_user_id = 10"), "upd10@x.org");
  EXPECT_EQ(value("SELECT email FROM profiles WHERE legacy_user_id = 2"), "upd2@x.org");
}

TEST_F(OrderingBulk, ValuesSurviveTheArrayParametersExactly) {
  const std::vector<std::string> notes = {"plain",
                                          "",
                                          "NULL",
                                          "say \"hi\"",
                                          "C:\\dir\\file",
                                          "{a,b} (c) [d]",
                                          "line1\nline2\ttab",
                                          " spaced ",
                                          "naïve ✓ 日本",
                                          "ends with backslash \\",
                                          std::string(5000, 'x') + "\"\\"};
  WriteBatch batch;
  for (std::size_t i = 0; i < notes.size(); ++i)
    tf_.transform(instruction(ChangeKind::Insert, std::to_string(100 + i), std::nullopt,
                              std::nullopt, "0", notes[i]),
                  batch);
  const auto before = writer_->orderedCounters();
  applyOrdered({batch.writes().begin(), batch.writes().end()});
  EXPECT_GT(writer_->orderedCounters().multiRowWrites, before.multiRowWrites + notes.size() - 1);
  for (std::size_t i = 0; i < notes.size(); ++i) {
    std::string key = std::to_string(100 + i);
    EXPECT_EQ(value("SELECT notes FROM orders WHERE legacy_instruction_id = $1::int", {key}),
              notes[i])
        << "order " << key;
  }
  EXPECT_EQ(value("SELECT price::text FROM orders WHERE legacy_instruction_id = 100"), "100.00");
}

TEST_F(OrderingBulk, FixedLengthAndLengthLimitedColumnsKeepTheirWholeValue) {
  // character(n) columns through a multi-row statement: cast to the type without its length
  // ("bpchar"), so 'AU' stays 'AU' and 'AB12' stays 'AB12' (a cast to plain "character"
  // would mean character(1)).
  WriteBatch batch;
  for (int o = 2; o <= 7; ++o) tf_.transform(office(std::to_string(o)), batch);
  for (int p = 2; p <= 7; ++p) tf_.transform(patient(std::to_string(p)), batch);
  const auto before = writer_->orderedCounters();
  applyOrdered({batch.writes().begin(), batch.writes().end()});
  EXPECT_EQ(writer_->orderedCounters().multiRowStatements, before.multiRowStatements + 2);
  EXPECT_EQ(value("SELECT string_agg(DISTINCT country_code, ',') FROM offices"), "US");
  EXPECT_EQ(value("SELECT string_agg(DISTINCT suffix, ',') FROM patients"), "AB12");
  // A value too long for its column is still refused, as the one-row statement refuses it.
  conn_->exec("ALTER TABLE offices ALTER COLUMN name TYPE varchar(9)");
  WriteBatch longNames;
  for (int o = 8; o <= 13; ++o)
    tf_.transform(office(std::to_string(o)), longNames);  // up to "Office 13"
  tf_.transform(office("1000"), longNames);               // 11 chars
  std::vector<std::string> refused;
  applyOrdered({longNames.writes().begin(), longNames.writes().end()},
               [&](const RefusedRow& row, const TargetWrite&) {
                 refused.push_back(row.legacyKey + " " + row.sqlstate);
                 return RefusalAction::Skip;
               });
  EXPECT_EQ(refused, std::vector<std::string>{"1000 22001"});
  EXPECT_EQ(value("SELECT count(*) FROM offices"), "13");
}

TEST_F(OrderingBulk, AnUpsertThatLeavesAToastedColumnOutKeepsItAndStillInsertsNewRows) {
  const std::string longNotes(3000, 'n');
  WriteBatch seed;
  for (int o = 1; o <= 5; ++o)
    tf_.transform(instruction(ChangeKind::Insert, std::to_string(o), std::nullopt, std::nullopt,
                              "0", longNotes + std::to_string(o)),
                  seed);
  applyOrdered({seed.writes().begin(), seed.writes().end()});

  // Orders 1..5 change status without their notes; order 6 arrives that way too (its first
  // change seen is an update, e.g. after a snapshot that missed it).
  WriteBatch batch;
  for (int o = 1; o <= 6; ++o) tf_.transform(statusOnly(std::to_string(o), "3"), batch);
  const auto before = writer_->orderedCounters();
  applyOrdered({batch.writes().begin(), batch.writes().end()});
  EXPECT_GT(writer_->orderedCounters().multiRowStatements, before.multiRowStatements);
  for (int o = 1; o <= 5; ++o) {
    std::string key = std::to_string(o);
    EXPECT_EQ(value("SELECT status FROM orders WHERE legacy_instruction_id = $1::int", {key}),
              "shipped");
    EXPECT_EQ(value("SELECT notes FROM orders WHERE legacy_instruction_id = $1::int", {key}),
              longNotes + key);
  }
  EXPECT_EQ(value("SELECT status || ' ' || coalesce(notes, '<null>') FROM orders WHERE "
                  "legacy_instruction_id = 6"),
            "shipped <null>");
}

TEST_F(OrderingBulk, ManyOrdersSwappingTheirJawsGoThroughMultiRowStatements) {
  WriteBatch seed;
  for (int j = 1; j <= 24; ++j) tf_.transform(jaw(std::to_string(j)), seed);
  applyOrdered({seed.writes().begin(), seed.writes().end()});
  // Twelve orders created and then swapped, all in one batch.
  WriteBatch batch;
  for (int o = 1; o <= 12; ++o)
    tf_.transform(instruction(ChangeKind::Insert, std::to_string(o), std::to_string(2 * o - 1),
                              std::to_string(2 * o)),
                  batch);
  for (int o = 1; o <= 12; ++o)
    tf_.transform(instruction(ChangeKind::Update, std::to_string(o), std::to_string(2 * o),
                              std::to_string(2 * o - 1), "1"),
                  batch);
  const auto before = writer_->orderedCounters();
  applyOrdered({batch.writes().begin(), batch.writes().end()});
  const auto& after = writer_->orderedCounters();
  // 120 writes: orders' upserts (merged), then per wave the releases and set-columns of each
  // jaw target, each one statement.
  EXPECT_LE(after.multiRowStatements - before.multiRowStatements, 9u);
  EXPECT_EQ(after.oneRowWrites, before.oneRowWrites);
  EXPECT_EQ(after.retriedPasses, before.retriedPasses);
  for (int o = 1; o <= 12; ++o) {
    std::string key = std::to_string(o);
    EXPECT_EQ(jawState(*observer_, std::to_string(2 * o - 1)), key + " lower");
    EXPECT_EQ(jawState(*observer_, std::to_string(2 * o)), key + " upper");
  }
  EXPECT_EQ(value("SELECT count(*) FROM orders WHERE status = 'submitted'"), "12");
}

TEST_F(OrderingBulk, ANulByteInAMultiRowRunIsNamedByItsRow) {
  WriteBatch batch;
  for (int o = 1; o <= 6; ++o)
    tf_.transform(instruction(ChangeKind::Insert, std::to_string(o), std::nullopt, std::nullopt,
                              "0", o == 4 ? std::string("bad\0byte", 8) : "fine"),
                  batch);
  std::vector<std::string> refused;
  applyOrdered({batch.writes().begin(), batch.writes().end()},
               [&](const RefusedRow& row, const TargetWrite&) {
                 refused.push_back(row.legacyKey + " " + row.sqlstate + " " + row.column);
                 return RefusalAction::Skip;
               });
  EXPECT_EQ(refused, std::vector<std::string>{"4 22021 notes"});
  EXPECT_EQ(count("orders"), 5);
}

}  // namespace
}  // namespace pgmorph::ordertest
