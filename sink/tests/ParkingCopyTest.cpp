// ParkingCopy against a real target: the snapshot's bulk copy parks what the stream would park
// — rows whose parent is missing (found before the COPY, one lookup per parent table and
// chunk), NULLs on_missing: null references and keeps them to fill in, isolates rows the
// target refuses by splitting the chunk — and the rest of the copy lands in the same
// transaction. What it parks is what the stream then applies when the parent arrives.
#include "sink/ParkingCopy.h"

#include <gtest/gtest.h>

#include <map>

#include "cdc/model/Errors.h"
#include "sink/ChangeParker.h"
#include "sink/tests/ParkingFixture.h"

namespace pgmorph::parkingtest {
namespace {

class ParkingCopyTest : public ParkingTest {
 protected:
  void SetUp() override {
    ParkingTest::SetUp();
    txn({office("1")});
    checker_ = std::make_unique<ParentChecker>(*catalog_, transformer_->plans());
  }
  const WritePlan& planOf(std::string_view target) {
    for (const WritePlan& p : transformer_->plans())
      if (p.targetTable == target && p.mapping->mode == TargetMode::Upsert) return p;
    throw std::runtime_error("no plan");
  }
  // Copies `rows` (source inserts of one table) into `target` in one transaction, as a
  // snapshot worker does; unconvertible rows are handed to park().
  std::uint64_t copy(std::string_view target, const std::vector<Change>& rows,
                     std::size_t segmentRows, std::size_t heldRows = 2000, CopyFormat format = {}) {
    const WritePlan& plan = planOf(target);
    ParkingCopy copy(*conn_, plan, *catalog_->table("public." + std::string(target)), *checker_,
                     store_, segmentRows, heldRows, format);
    conn_->exec("BEGIN");
    copy.begin();
    WriteBatch batch;
    for (const Change& c : rows) {
      batch.clear();
      TransformOutcome outcome = transformer_->transform(c, batch);
      if (outcome.status == TransformOutcome::Status::Failed) {
        copy.park(ChangeParker::unconvertibleRow(*plan.source, c, outcome));
        continue;
      }
      for (const TargetWrite& w : batch.writes())
        if (w.plan == &plan) copy.write(w);
    }
    std::uint64_t stored = copy.finish();
    conn_->exec("COMMIT");
    lastParked_ = copy.parked();
    lastNulled_ = copy.nulled();
    return stored;
  }
  std::unique_ptr<ParentChecker> checker_;
  std::size_t lastParked_ = 0, lastNulled_ = 0;
};

TEST_F(ParkingCopyTest, RowsThatLandAreSharedOnceCommittedAndRefusedOnesAreNot) {
  CommittedRows shared;
  checker_->share(&shared);
  std::vector<Change> users;
  for (int i = 1; i <= 10; ++i)
    users.push_back(user(std::to_string(i), i == 3 || i == 8 ? "bad " + std::to_string(i) : ""));
  EXPECT_EQ(copy("profiles", users, /*segmentRows=*/4), 8u);
  EXPECT_EQ(shared.size(), 0u) << "nothing is shared before the worker says it committed";
  checker_->committed();
  EXPECT_EQ(shared.size(), 9u) << "the 8 profiles that landed, and the office they name";
  // Parents that other workers' rows may name, so never looked up again; not a refused row,
  // which is not on the target.
  std::vector<Uuid> ids = {idOf("dispatch_user", "4"), idOf("dispatch_user", "10"),
                           idOf("dispatch_user", "3"), idOf("dispatch_user", "8")};
  std::vector<char> found(ids.size(), 0);
  shared.find("public.profiles", ids, found);
  EXPECT_EQ(found, (std::vector<char>{1, 1, 0, 0}));
}

TEST_F(ParkingCopyTest, RefusedRowsAreIsolatedAndParkedAndTheRestLands) {
  std::vector<Change> users;
  for (int i = 1; i <= 10; ++i)
    users.push_back(user(std::to_string(i), i == 3 || i == 8 ? "bad " + std::to_string(i) : ""));
  EXPECT_EQ(copy("profiles", users, /*segmentRows=*/4), 8u);
  EXPECT_EQ(lastParked_, 2u);
  EXPECT_EQ(value("SELECT count(*) FROM profiles"), "8");
  EXPECT_FALSE(exists("profiles", idOf("dispatch_user", "3")));
  EXPECT_TRUE(exists("profiles", idOf("dispatch_user", "4")));
  auto rows = parked();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.kind, ParkKind::Refused);
    EXPECT_EQ(r.sqlstate, "23514") << "check_violation, as rows parked while streaming record it";
    EXPECT_NE(r.reason.find("profiles_email_check"), std::string::npos) << r.reason;
  }
  EXPECT_EQ(rows[0].legacyKey, "3");
  EXPECT_EQ(rows[1].legacyKey, "8");

  // The stream that follows the snapshot fixes it like any parked row.
  start();
  txn({user("3", "user3@example.com", ChangeKind::Update)});
  EXPECT_EQ(column("profiles", idOf("dispatch_user", "3"), "first_name"), "First3");
}

TEST_F(ParkingCopyTest, RowsTheTargetRefusesInABinaryCopyAreIsolatedAndParkedAlike) {
  std::vector<Change> users;
  for (int i = 1; i <= 10; ++i)
    users.push_back(user(std::to_string(i), i == 3 || i == 8 ? "bad " + std::to_string(i) : ""));
  EXPECT_EQ(copy("profiles", users, /*segmentRows=*/4, 2000,
                 CopyFormat{.binary = true, .utcTimestamps = true}),
            8u);
  EXPECT_EQ(lastParked_, 2u);
  EXPECT_EQ(value("SELECT count(*) FROM profiles"), "8");
  EXPECT_FALSE(exists("profiles", idOf("dispatch_user", "8")));
  auto rows = parked();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.kind, ParkKind::Refused);
    EXPECT_EQ(r.sqlstate, "23514");
    EXPECT_NE(r.reason.find("profiles_email_check"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("COPY profiles, line 1"), std::string::npos) << r.reason;
  }
  EXPECT_EQ(rows[0].legacyKey, "3");
  EXPECT_EQ(rows[1].legacyKey, "8");
}

TEST_F(ParkingCopyTest, ARowBinaryCopyCannotEncodeGoesByTextCopySoTheServerJudgesIt) {
  const WritePlan& plan = planOf("profiles");
  ParkingCopy copy(*conn_, plan, *catalog_->table("public.profiles"), *checker_, store_,
                   /*segmentRows=*/4, /*heldRows=*/2000,
                   CopyFormat{.binary = true, .utcTimestamps = true});
  conn_->exec("BEGIN");
  copy.begin();
  WriteBatch batch;
  // Row 3: a timestamp in a form the encoder does not convert but timestamptz input takes;
  // row 5: a value no integer input takes. Both are rows the stream would send as text too.
  const std::map<int, std::pair<std::string, std::string>> odd = {
      {3, {"joined_at", "January 8, 2019 04:05:06 UTC"}}, {5, {"legacy_user_id", "three"}}};
  for (int i = 1; i <= 6; ++i) {
    batch.clear();
    transformer_->transform(user(std::to_string(i)), batch);
    for (const TargetWrite& w : batch.writes()) {
      if (w.plan != &plan) continue;
      auto it = odd.find(i);
      if (it == odd.end()) {
        copy.write(w);
        continue;
      }
      TargetWrite changed;
      changed.op = w.op;
      changed.plan = w.plan;
      changed.row = w.row;
      changed.lsn = w.lsn;
      changed.setLegacyKey(w.legacyKey());
      for (std::size_t c = 0; c < plan.columns.size(); ++c) {
        const WriteValue& v = w.values()[c];
        if (plan.columns[c] == it->second.first)
          changed.addValue(it->second.second);
        else if (v.state == ValueState::Null)
          changed.addNull();
        else
          changed.addValue(w.text(v));
      }
      copy.write(changed);
    }
  }
  EXPECT_EQ(copy.finish(), 5u);
  conn_->exec("COMMIT");
  EXPECT_EQ(copy.parked(), 1u);
  EXPECT_EQ(value("SELECT count(*) FROM profiles"), "5");
  EXPECT_EQ(column("profiles", idOf("dispatch_user", "3"), "joined_at"), "2019-01-08 04:05:06+00");
  EXPECT_FALSE(exists("profiles", idOf("dispatch_user", "5")));
  EXPECT_TRUE(exists("profiles", idOf("dispatch_user", "4")));
  auto rows = parked();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kind, ParkKind::Refused);
  EXPECT_EQ(rows[0].sqlstate, "22P02");
  EXPECT_EQ(rows[0].legacyKey, "5");
  EXPECT_NE(rows[0].reason.find("invalid input syntax for type integer: \"three\""),
            std::string::npos)
      << rows[0].reason;
}

TEST_F(ParkingCopyTest, MissingParentsAreFoundBeforeTheCopyAndParkedOrNulled) {
  EXPECT_EQ(copy("profiles", {user("1"), user("2")}, 100), 2u);
  std::size_t lookups = checker_->lookups();
  std::vector<Change> messages;
  for (int i = 1; i <= 20; ++i)
    messages.push_back(notification(std::to_string(i), i % 5 == 0 ? "77" : "1"));
  messages.push_back(notification("21", "2", "{oops"));  // not JSON: parked as unconvertible
  EXPECT_EQ(copy("system_messages", messages, 100), 16u);
  EXPECT_EQ(checker_->lookups() - lookups, 1u) << "one existence check of profiles";
  EXPECT_EQ(lastParked_, 5u);
  auto waiting = parked({"system_messages", "", ParkKind::MissingParent});
  ASSERT_EQ(waiting.size(), 4u);
  EXPECT_EQ(waiting[0].missingId, idOf("dispatch_user", "77"));
  EXPECT_EQ(parked({"system_messages", "", ParkKind::Unconvertible}).size(), 1u);

  // patients.doctor_id is on_missing: null: the row lands, the reference waits.
  EXPECT_EQ(copy("patients", {patient("4", "5"), patient("6", std::nullopt)}, 100), 2u);
  EXPECT_EQ(lastNulled_, 1u);
  EXPECT_EQ(column("patients", idOf("dispatch_patient", "4"), "doctor_id"), "<null>");
  ASSERT_EQ(parked({"patients", "", ParkKind::NullReference}).size(), 1u);

  // Streaming after the snapshot (a new follow session): the parents arrive, everything
  // waiting lands.
  start();
  txn({user("77"), doctor("5", "1")});
  EXPECT_TRUE(exists("system_messages", idOf("dispatch_notification", "5")));
  EXPECT_EQ(column("patients", idOf("dispatch_patient", "4"), "doctor_id"),
            idOf("dispatch_doctor", "5").str());
  EXPECT_EQ(parkedCount(), 1) << "only the unconvertible message is left";
}

TEST_F(ParkingCopyTest, AParentFoundMissingIsNotAskedAgain) {
  txn({user("1")});
  std::vector<Change> patients;
  for (int i = 1; i <= 6; ++i) patients.push_back(patient(std::to_string(i), "5"));
  patients.push_back(patient("7", std::nullopt));
  std::size_t lookups = checker_->lookups();
  // One held row per segment: the first row's parent is asked, the others' is known missing.
  EXPECT_EQ(copy("patients", patients, /*segmentRows=*/2, /*heldRows=*/1), 7u);
  EXPECT_EQ(checker_->lookups() - lookups, 2u) << "doctors and offices, once each";
  EXPECT_EQ(lastNulled_, 6u);
  EXPECT_EQ(parked({"patients", "", ParkKind::NullReference}).size(), 6u);
  EXPECT_EQ(value("SELECT count(*) FROM patients WHERE doctor_id IS NULL"), "7");
}

TEST_F(ParkingCopyTest, OnMissingFailStopsTheCopy) {
  start(replace("recipient_id: { to: recipient_id, ref: dispatch_user }",
                "recipient_id: { to: recipient_id, ref: dispatch_user, on_missing: fail }"));
  checker_ = std::make_unique<ParentChecker>(*catalog_, transformer_->plans());
  try {
    copy("system_messages", {notification("1", "77")}, 10);
    FAIL() << "on_missing: fail did not stop the copy";
  } catch (const PgmorphError& e) {
    EXPECT_NE(std::string(e.what()).find("on_missing: fail"), std::string::npos) << e.what();
  }
  conn_->exec("ROLLBACK");
  EXPECT_EQ(parkedCount(), 0);
}

}  // namespace
}  // namespace pgmorph::parkingtest
