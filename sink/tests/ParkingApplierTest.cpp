// Parking against a real target, through the real transformer of the dispatch mapping: rows
// whose parent is missing are parked before writing (batched checks, no FK error caught),
// applied when the parent arrives (chains too), NULLed and filled in per on_missing: null,
// merged or removed by later changes of the same row (never resurrecting stale data), and
// rows the target refuses anyway are isolated and parked while the rest commits.
#include <gtest/gtest.h>

#include "cdc/pg/PgError.h"
#include "sink/tests/ParkingFixture.h"

namespace pgmorph::parkingtest {
namespace {

class ParkingApplierTest : public ParkingTest {
 protected:
  void SetUp() override {
    ParkingTest::SetUp();
    txn({office("1")});
  }
};

TEST_F(ParkingApplierTest, AnOrphanIsParkedBeforeWritingAndAppliedWhenItsParentArrives) {
  txn({user("1")});
  std::vector<Change> changes;
  // Fifty notifications, forty-nine of them to users the target does not have.
  changes.push_back(notification("100", "1"));
  for (int i = 1; i < 50; ++i)
    changes.push_back(notification(std::to_string(100 + i), std::to_string(1000 + i)));
  std::size_t lookupsBefore = parking_->checker().lookups();
  auto passesBefore = writer_->orderedCounters().retriedPasses;
  txn(changes);

  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "100")));
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "101")));
  EXPECT_EQ(parkedCount(), 49);
  // Found before writing: one existence check of profiles for the whole batch, and no
  // pass of the writer was rolled back to isolate a foreign-key error.
  EXPECT_EQ(parking_->checker().lookups() - lookupsBefore, 1u);
  EXPECT_EQ(writer_->orderedCounters().retriedPasses, passesBefore);

  auto rows = parked({"system_messages", idOf("dispatch_user", "1001").str(), {}});
  ASSERT_EQ(rows.size(), 1u) << "the reason names the missing parent's id";
  const ParkedRow& r = rows[0];
  EXPECT_EQ(r.kind, ParkKind::MissingParent);
  EXPECT_EQ(r.sourceTable, "dispatch_notification");
  EXPECT_EQ(r.legacyKey, "101");
  EXPECT_EQ(r.targetTable, "public.system_messages");
  EXPECT_EQ(r.missingTable, "public.profiles");
  EXPECT_EQ(r.missingId, idOf("dispatch_user", "1001"));
  EXPECT_EQ(r.missingColumn, "recipient_id");
  EXPECT_EQ(r.rowId, idOf("dispatch_notification", "101"));
  EXPECT_NE(r.reason.find("system_messages.recipient_id names public.profiles"), std::string::npos)
      << r.reason;
  EXPECT_NE(r.reason.find("a dispatch_user row"), std::string::npos) << r.reason;
  EXPECT_EQ(counts_["dispatch_notification"].parked, 49u);
  EXPECT_EQ(counts_["dispatch_notification"].applied, 1u);

  // The recipient arrives: its waiting message lands in the same transaction.
  txn({user("1001")});
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "101")));
  EXPECT_EQ(column("system_messages", idOf("dispatch_notification", "101"), "recipient_id"),
            idOf("dispatch_user", "1001").str());
  EXPECT_EQ(parkedCount(), 48);
  EXPECT_EQ(counts_["dispatch_notification"].unparked, 1u);
  EXPECT_EQ(counts_["dispatch_notification"].applied, 2u);
}

// Changes of unmapped tables are counted by TransactionApplier (app/tests).
TEST_F(ParkingApplierTest, FilteredAndUnmappedChangesAreCounted) {
  Change state = makeChange(ChangeKind::Insert, "dispatch_state",
                            {num("id", "1"), str("kind", "neither"), null("patient_id"),
                             null("instruction_id"), str("state", "new"), ts("changed_at")});
  Change unmapped = makeChange(ChangeKind::Insert, "audit_log", {num("id", "1")});
  auto outcomes = txn({state, unmapped});
  EXPECT_EQ(outcomes[0].status, TransformOutcome::Status::Filtered);
  EXPECT_EQ(outcomes[1].status, TransformOutcome::Status::Unmapped);
  EXPECT_EQ(counts_["dispatch_state"].filtered, 1u);
  EXPECT_EQ(counts_["dispatch_office"].applied, 1u) << "the office of SetUp";
}

TEST_F(ParkingApplierTest, ARowTheTargetRefusesIsParkedWithItsMessageAndTheRestCommits) {
  txn({user("1"), user("2"), user("3", "user3 at example dot com"), user("4"), user("5")});
  for (const char* key : {"1", "2", "4", "5"})
    EXPECT_TRUE(exists("profiles", idOf("dispatch_user", key))) << key;
  EXPECT_FALSE(exists("profiles", idOf("dispatch_user", "3")));
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, ParkKind::Refused);
  EXPECT_EQ(rows[0].legacyKey, "3");
  EXPECT_EQ(rows[0].sqlstate, "23514");
  EXPECT_NE(rows[0].reason.find("violates check constraint \"profiles_email_check\""),
            std::string::npos)
      << rows[0].reason;
  EXPECT_NE(rows[0].reason.find("dispatch_user 3"), std::string::npos) << rows[0].reason;

  // The source fixes the e-mail: the update merges into the parked row and lands.
  txn({user("3", "user3@example.com", ChangeKind::Update)});
  EXPECT_EQ(column("profiles", idOf("dispatch_user", "3"), "email"), "user3@example.com");
  EXPECT_EQ(column("profiles", idOf("dispatch_user", "3"), "first_name"), "First3");
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, OnMissingNullWritesNullNowAndFillsTheReferenceWhenTheParentArrives) {
  txn({user("1")});
  // patients.doctor_id is `on_missing: null` in the example mapping.
  txn({patient("4", "5")});
  EXPECT_TRUE(exists("patients", idOf("dispatch_patient", "4")));
  EXPECT_EQ(column("patients", idOf("dispatch_patient", "4"), "doctor_id"), "<null>");
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, ParkKind::NullReference);
  EXPECT_EQ(rows[0].missingTable, "public.doctors");
  EXPECT_EQ(rows[0].missingId, idOf("dispatch_doctor", "5"));
  EXPECT_EQ(rows[0].missingColumn, "doctor_id");
  EXPECT_NE(rows[0].reason.find("on_missing: null"), std::string::npos) << rows[0].reason;

  txn({doctor("5", "1")});
  EXPECT_EQ(column("patients", idOf("dispatch_patient", "4"), "doctor_id"),
            idOf("dispatch_doctor", "5").str());
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, AReferenceToFillInIsForgottenWhenALaterChangeSetsItItself) {
  txn({user("1"), doctor("1", "1")});
  txn({patient("4", "5")});  // doctor 5 missing: NULL now, to fill in later
  ASSERT_EQ(parkedCount(), 1);
  // The source re-points the patient at doctor 1 before doctor 5 ever arrives.
  txn({patient("4", "1", ChangeKind::Update)});
  EXPECT_EQ(parkedCount(), 0);
  txn({doctor("5", "1")});
  EXPECT_EQ(column("patients", idOf("dispatch_patient", "4"), "doctor_id"),
            idOf("dispatch_doctor", "1").str())
      << "a stale reference was filled in over a later change";
}

TEST_F(ParkingApplierTest, NoReferenceIsKeptToFillInARowDeletedLaterInTheBatch) {
  txn({user("1"), patient("4", std::nullopt)});
  // An order of a doctor the target does not have (on_missing: null), deleted again within
  // the same batch (the workload's purge of a fresh order).
  txn({instruction("9", "4", "5", std::nullopt, std::nullopt),
       removal("dispatch_instruction", "9")});
  EXPECT_FALSE(exists("orders", idOf("dispatch_instruction", "9")));
  EXPECT_EQ(parkedCount(), 0);
  txn({doctor("5", "1")});
  EXPECT_EQ(parkedCount(), 0) << "a reference was kept for a row that no longer exists";
}

TEST_F(ParkingApplierTest, ALaterDeleteOfAParkedRowRemovesItsEntry) {
  txn({notification("10", "7")});
  ASSERT_EQ(parkedCount(), 1);
  txn({removal("dispatch_notification", "10")});
  EXPECT_EQ(parkedCount(), 0);
  EXPECT_EQ(counts_["dispatch_notification"].discarded, 1u);
  // The recipient arrives: the deleted notification must not appear.
  txn({user("7")});
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "10")));
}

TEST_F(ParkingApplierTest, ADeleteInTheSameBatchMakesTheOrphanMoot) {
  txn({notification("10", "7"), removal("dispatch_notification", "10")});
  EXPECT_EQ(parkedCount(), 0);
  txn({user("7")});
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "10")));
}

TEST_F(ParkingApplierTest, ALaterUpdateOfAParkedRowUpdatesItsEntry) {
  txn({notification("10", "7")});
  auto before = parked().at(0);
  // Marked read while still waiting; the update leaves template_context out, as wal2json
  // does with an unchanged TOASTed value: the parked value must be kept.
  Change read =
      makeChange(ChangeKind::Update, "dispatch_notification",
                 {num("id", "10"), num("recipient_id", "7"), str("template", "order_shipped"),
                  Col{"is_read", "1", ValueKind::Number, "smallint"}, ts("created_at")},
                 {num("id", "10")});
  txn({read});
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, before.id);
  EXPECT_EQ(rows[0].attempts, 2);
  EXPECT_EQ(rows[0].firstSeen, before.firstSeen);

  txn({user("7")});
  Uuid id = idOf("dispatch_notification", "10");
  EXPECT_EQ(column("system_messages", id, "is_read"), "true");
  EXPECT_EQ(column("system_messages", id, "context"), R"({"order": 1})");
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, AChainOfParkedRowsDrainsWhenTheGrandparentArrives) {
  txn({jaw("1"), jaw("2")});
  // Patient 4 is missing: the order is parked, and so are its file (whose parent is the parked
  // order) and the completion of its jaws — across two batches.
  txn({instruction("9", "4", std::nullopt, "1", "2")});
  txn({file("20", "9")});
  EXPECT_FALSE(exists("orders", idOf("dispatch_instruction", "9")));
  EXPECT_FALSE(exists("case_files", idOf("dispatch_file", "20")));
  EXPECT_EQ(column("jaws", idOf("dispatch_jaw", "1"), "order_id"), "<null>");
  EXPECT_EQ(parkedCount(), 4) << "order, file, upper and lower jaw completion";
  auto file20 = parked({"case_files", "", {}});
  ASSERT_EQ(file20.size(), 1u);
  EXPECT_EQ(file20[0].missingTable, "public.orders");

  txn({patient("4", std::nullopt)});
  EXPECT_TRUE(exists("orders", idOf("dispatch_instruction", "9")));
  EXPECT_TRUE(exists("case_files", idOf("dispatch_file", "20")));
  EXPECT_EQ(column("jaws", idOf("dispatch_jaw", "1"), "order_id"),
            idOf("dispatch_instruction", "9").str());
  EXPECT_EQ(column("jaws", idOf("dispatch_jaw", "2"), "jaw_type"), "lower");
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, AChainInsideOneBatchIsParkedWholeAndDrainsWhole) {
  txn({user("1")});
  // A refused user (bad e-mail) and, in the same batch, its doctor, that doctor's patient
  // (on_missing: null) and a notification to the user.
  txn({user("7", "not an e-mail"), doctor("3", "7"), patient("4", "3"), notification("10", "7")});
  EXPECT_FALSE(exists("profiles", idOf("dispatch_user", "7")));
  EXPECT_FALSE(exists("doctors", idOf("dispatch_doctor", "3")));
  EXPECT_TRUE(exists("patients", idOf("dispatch_patient", "4")));
  EXPECT_EQ(column("patients", idOf("dispatch_patient", "4"), "doctor_id"), "<null>");
  std::map<std::string, ParkKind> kinds;
  for (const auto& r : parked()) kinds[r.targetTable] = r.kind;
  EXPECT_EQ(kinds["public.profiles"], ParkKind::Refused);
  EXPECT_EQ(kinds["public.doctors"], ParkKind::MissingParent);
  EXPECT_EQ(kinds["public.patients"], ParkKind::NullReference);
  EXPECT_EQ(kinds["public.system_messages"], ParkKind::MissingParent);
  EXPECT_EQ(parkedCount(), 4);

  // The e-mail is corrected on the source: everything waiting on the user drains.
  txn({user("7", "user7@example.com", ChangeKind::Update)});
  EXPECT_TRUE(exists("doctors", idOf("dispatch_doctor", "3")));
  EXPECT_EQ(column("patients", idOf("dispatch_patient", "4"), "doctor_id"),
            idOf("dispatch_doctor", "3").str());
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "10")));
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, AReleaseMakesAParkedJawCompletionMoot) {
  txn({jaw("1"), jaw("2"), jaw("3")});
  txn({instruction("9", "4", std::nullopt, "1", "2")});  // patient 4 missing
  // The lab swaps the upper jaw for jaw 3 while the order still waits.
  txn({instruction("9", "4", std::nullopt, "3", "2", ChangeKind::Update)});
  txn({patient("4", std::nullopt)});
  EXPECT_EQ(column("jaws", idOf("dispatch_jaw", "3"), "order_id"),
            idOf("dispatch_instruction", "9").str());
  EXPECT_EQ(column("jaws", idOf("dispatch_jaw", "3"), "jaw_type"), "upper");
  EXPECT_EQ(column("jaws", idOf("dispatch_jaw", "1"), "order_id"), "<null>")
      << "a jaw the order no longer names was completed from a stale parked write";
  EXPECT_EQ(column("jaws", idOf("dispatch_jaw", "2"), "jaw_type"), "lower");
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, OnMissingFailStopsWithAPreciseError) {
  start(replace("recipient_id: { to: recipient_id, ref: dispatch_user }",
                "recipient_id: { to: recipient_id, ref: dispatch_user, on_missing: fail }"));
  try {
    txn({notification("10", "7")});
    FAIL() << "on_missing: fail did not stop";
  } catch (const PgmorphError& e) {
    std::string what = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    for (const char* needle : {"dispatch_notification 10", "system_messages.recipient_id",
                               "on_missing: fail", "dispatch_user"})
      EXPECT_NE(what.find(needle), std::string::npos) << needle << " not in: " << what;
  }
  EXPECT_FALSE(writer_->inTransaction());
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, OnErrorParkKeepsTheSourceChangeAndMergesLaterChangesIntoIt) {
  txn({user("7")});
  auto outcome = txn({notification("10", "7", R"({"note": "unterminated)")});
  ASSERT_EQ(outcome[0].status, TransformOutcome::Status::Failed);
  EXPECT_EQ(outcome[0].policy, RowPolicy::Park);
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, ParkKind::Unconvertible);
  EXPECT_EQ(rows[0].legacyKey, "10");
  EXPECT_NE(rows[0].reason.find("template_context"), std::string::npos) << rows[0].reason;

  // Marked read, the context left out (unchanged TOAST): still malformed, still parked.
  Change read =
      makeChange(ChangeKind::Update, "dispatch_notification",
                 {num("id", "10"), num("recipient_id", "7"), str("template", "order_shipped"),
                  Col{"is_read", "1", ValueKind::Number, "smallint"}, ts("created_at")},
                 {num("id", "10")});
  txn({read});
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "10")))
      << "the row was written without the context it still has on the source";
  ASSERT_EQ(parkedCount(), 1);
  EXPECT_EQ(parked()[0].attempts, 2);

  // The JSON is fixed on the source (is_read left out this time): lands with both changes.
  Change fix =
      makeChange(ChangeKind::Update, "dispatch_notification",
                 {num("id", "10"), num("recipient_id", "7"), str("template", "order_shipped"),
                  str("template_context", R"({"note": "fixed"})"), ts("created_at")},
                 {num("id", "10")});
  txn({fix});
  Uuid id = idOf("dispatch_notification", "10");
  EXPECT_EQ(column("system_messages", id, "context"), R"({"note": "fixed"})");
  EXPECT_EQ(column("system_messages", id, "is_read"), "true");
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, OnErrorNullWritesNullForThatColumn) {
  start(replace("template_context: { to: context, type: jsonb, on_error: park }",
                "template_context: { to: context, type: jsonb, on_error: null }"));
  txn({user("7")});
  auto outcome = txn({notification("10", "7", "{not json")});
  EXPECT_EQ(outcome[0].status, TransformOutcome::Status::Written);
  Uuid id = idOf("dispatch_notification", "10");
  EXPECT_TRUE(exists("system_messages", id));
  EXPECT_EQ(column("system_messages", id, "context"), "<null>");
  EXPECT_EQ(column("system_messages", id, "template"), "order_shipped");
  EXPECT_EQ(parkedCount(), 0);
  EXPECT_EQ(counts_["dispatch_notification"].nulled, 1u);
}

TEST_F(ParkingApplierTest, OnErrorFailReportsTheProblemForTheCallerToStop) {
  start(replace("template_context: { to: context, type: jsonb, on_error: park }",
                "template_context: { to: context, type: jsonb, on_error: fail }"));
  txn({user("7")});
  auto outcome = txn({notification("10", "7", "{not json")});
  EXPECT_EQ(outcome[0].status, TransformOutcome::Status::Failed);
  EXPECT_EQ(outcome[0].policy, RowPolicy::Fail);
  EXPECT_NE(outcome[0].problem.find("dispatch_notification 10"), std::string::npos)
      << outcome[0].problem;
  EXPECT_EQ(parkedCount(), 0);
}

TEST_F(ParkingApplierTest, RetryAppliesWhatCanLandNowAndCountsTheRest) {
  txn({notification("10", "7"), notification("11", "8"), user("9", "bad e-mail")});
  ASSERT_EQ(parkedCount(), 3);
  // Recipient 7 appears on the target behind pgmorph's back (a DBA fixed it by hand).
  observer_->exec(
      fmt::format("INSERT INTO profiles (id, is_active, joined_at) VALUES ('{}', true, now())",
                  idOf("dispatch_user", "7").str()));
  writer_->begin();
  ParkingApplier::RetryReport report = retry({});
  conn_->exec("COMMIT");
  writer_->rollback();
  EXPECT_EQ(report.tried, 3u);
  EXPECT_EQ(report.applied, 1u);
  EXPECT_EQ(report.stillParked, 2u);
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "10")));
  auto rows = parked();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) EXPECT_EQ(r.attempts, 2) << r.reason;
}

TEST_F(ParkingApplierTest, ARowUpsertedAndDeletedInOneBatchIsNotRememberedAsPresent) {
  // The parent checks trust what this process saw; a row written and deleted by the same
  // batch must end up known as gone, whatever order the bookkeeping runs in. (With a target
  // foreign key the database would still refuse a later child; a `ref:` without one relies
  // on this alone.)
  txn({user("7"), removal("dispatch_user", "7")});
  int profiles = parking_->checker().table("public.profiles");
  ASSERT_GE(profiles, 0);
  EXPECT_FALSE(parking_->checker().knownPresent(profiles, idOf("dispatch_user", "7")));
  EXPECT_FALSE(exists("profiles", idOf("dispatch_user", "7")));
  // So a message to that user is parked before writing, not sent to the target.
  std::size_t lookupsBefore = parking_->checker().lookups();
  txn({notification("700", "7")});
  EXPECT_EQ(parking_->checker().lookups() - lookupsBefore, 1u);
  EXPECT_FALSE(exists("system_messages", idOf("dispatch_notification", "700")));
  EXPECT_EQ(parkedCount(), 1);
}

}  // namespace
}  // namespace pgmorph::parkingtest
