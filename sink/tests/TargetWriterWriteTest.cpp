// What each WriteOp does to a real target (the dispatch example's schema): upserts of every
// column type, unchanged TOAST values, deletes, partial targets (SetColumns / Release, the jaw
// swap) and truncates.
#include <gtest/gtest.h>

#include "sink/tests/SinkFixture.h"

namespace pgmorph::sinktest {
namespace {

class TargetWriterWriteTest : public SinkTest {};

TEST_F(TargetWriterWriteTest, UpsertInsertsThenUpdatesTheSameRowWithEveryColumnType) {
  seed();
  std::vector<TargetWrite> insert;
  insert.push_back(
      upsert(plans_.offices, "7", {"7", "North", "2 North Rd", "US", "2019-01-01 05:00:00 UTC"}));
  insert.push_back(upsert(
      plans_.profiles, "7",
      {"7", "bob@example.com", "Bob", "Ray", officeId(), "true", "2019-01-01 05:00:00 UTC"}));
  insert.push_back(upsert(plans_.patients, "7",
                          {"7", Val::null(), officeId(), "Al", "Fox", "1990-05-17", "AB12"}));
  insert.push_back(upsert(plans_.orders, "7",
                          {"7", patientId(), Val::null(), "submitted", "16040.59", "n",
                           "2019-01-02 00:00:00 UTC", "2019-01-01 05:00:00 UTC"}));
  insert.push_back(
      upsert(plans_.caseFiles, "7",
             {"7", orderId("7").str(), "scan.zip", "14526741", "2019-01-01 05:00:00 UTC"}));
  insert.push_back(upsert(plans_.messages, "5000000000",
                          {"5000000000", idOf("dispatch_user", "7").str(), "welcome",
                           R"({"b": 1, "a": [1, 2]})", "false", "2019-01-01 05:00:00 UTC"}));
  applyAndCommit(insert);

  EXPECT_EQ(row("offices", idOf("dispatch_office", "7"),
                "legacy_office_id, name, address, country_code, created_at"),
            "7|North|2 North Rd|US|2019-01-01 05:00:00+00");
  EXPECT_EQ(row("profiles", idOf("dispatch_user", "7"), "email, office_id, is_active, joined_at"),
            fmt::format("bob@example.com|{}|true|2019-01-01 05:00:00+00", officeId()));
  EXPECT_EQ(row("patients", idOf("dispatch_patient", "7"), "doctor_id, birth_date, suffix"),
            "<null>|1990-05-17|AB12");
  EXPECT_EQ(row("orders", orderId("7"), "patient_id, status, price, submitted_at"),
            fmt::format("{}|submitted|16040.59|2019-01-02 00:00:00+00", patientId()));
  EXPECT_EQ(row("case_files", idOf("dispatch_file", "7"), "order_id, size_bytes"),
            fmt::format("{}|14526741", orderId("7").str()));
  EXPECT_EQ(row("system_messages", idOf("dispatch_notification", "5000000000"),
                "legacy_notification_id, context, is_read"),
            R"(5000000000|{"a": [1, 2], "b": 1}|false)");

  std::vector<TargetWrite> update;
  update.push_back(upsert(plans_.offices, "7",
                          {"7", "North 2", Val::null(), "DE", "2020-02-02 10:30:00.5 UTC"}));
  update.push_back(upsert(
      plans_.profiles, "7",
      {"7", "bob@example.org", "Bob", "Ray", Val::null(), "false", "2019-06-01 00:00:00 UTC"}));
  update.push_back(upsert(plans_.patients, "7",
                          {"7", Val::null(), Val::null(), "Al", "Fox", "1991-12-31", "CD"}));
  update.push_back(upsert(plans_.orders, "7",
                          {"7", patientId(), Val::null(), "shipped", "1234567890.12", "n",
                           Val::null(), "2019-01-01 05:00:00 UTC"}));
  update.push_back(upsert(
      plans_.caseFiles, "7",
      {"7", orderId("7").str(), "scan.zip", "9223372036854775807", "2019-01-01 05:00:00 UTC"}));
  update.push_back(upsert(plans_.messages, "5000000000",
                          {"5000000000", idOf("dispatch_user", "7").str(), "welcome",
                           R"({"c": null})", "true", "2019-01-01 05:00:00 UTC"}));
  applyAndCommit(update, Lsn::parse("0/200"));

  EXPECT_EQ(row("offices", idOf("dispatch_office", "7"),
                "legacy_office_id, name, address, country_code, created_at"),
            "7|North 2|<null>|DE|2020-02-02 10:30:00.5+00");
  EXPECT_EQ(row("profiles", idOf("dispatch_user", "7"), "email, office_id, is_active, joined_at"),
            "bob@example.org|<null>|false|2019-06-01 00:00:00+00");
  EXPECT_EQ(row("patients", idOf("dispatch_patient", "7"), "office_id, birth_date, suffix"),
            "<null>|1991-12-31|CD");  // char(4) pads; its text form drops the padding
  EXPECT_EQ(value("SELECT octet_length(suffix::bytea) FROM patients WHERE id = $1",
                  {idOf("dispatch_patient", "7").str()}),
            "4");
  EXPECT_EQ(row("orders", orderId("7"), "status, price, submitted_at"),
            "shipped|1234567890.12|<null>");
  EXPECT_EQ(row("case_files", idOf("dispatch_file", "7"), "size_bytes"), "9223372036854775807");
  EXPECT_EQ(row("system_messages", idOf("dispatch_notification", "5000000000"), "context, is_read"),
            R"({"c": null}|true)");
  // Updated in place, not inserted again.
  EXPECT_EQ(count("offices"), 2);
  EXPECT_EQ(count("system_messages"), 1);
}

TEST_F(TargetWriterWriteTest, AnAbsentColumnIsNeitherBlankedByAnUpdateNorInventedByAnInsert) {
  seed();
  std::string notes(200000, 'n');  // large enough to be TOASTed on the target too
  notes += " end";
  applyAndCommit({upsert(plans_.orders, "1",
                         {"1", patientId(), Val::null(), "draft", "100.00", notes, Val::null(),
                          "2019-01-01 05:00:00 UTC"})});
  // wal2json leaves the unchanged TOASTed notes out of the update.
  applyAndCommit({upsert(plans_.orders, "1",
                         {"1", patientId(), Val::null(), "submitted", "120.00", Val::absent(),
                          "2019-03-01 00:00:00 UTC", "2019-01-01 05:00:00 UTC"})});
  EXPECT_EQ(row("orders", orderId("1"), "status, price"), "submitted|120.00");
  EXPECT_EQ(value("SELECT notes FROM orders WHERE id = $1", {orderId("1").str()}), notes);

  // Every non-id column absent: the existing row is left exactly as it is.
  applyAndCommit({upsert(plans_.orders, "1",
                         {Val::absent(), Val::absent(), Val::absent(), Val::absent(), Val::absent(),
                          Val::absent(), Val::absent(), Val::absent()})});
  EXPECT_EQ(row("orders", orderId("1"), "status, price"), "submitted|120.00");
  EXPECT_EQ(value("SELECT notes FROM orders WHERE id = $1", {orderId("1").str()}), notes);

  // An insert with an absent nullable column leaves it to its default (NULL), not a value.
  applyAndCommit({upsert(plans_.orders, "9",
                         {"9", patientId(), Val::null(), "draft", Val::absent(), Val::absent(),
                          Val::null(), "2019-01-01 05:00:00 UTC"})});
  EXPECT_EQ(row("orders", orderId("9"), "status, price, notes"), "draft|<null>|<null>");
}

TEST_F(TargetWriterWriteTest, DeleteRemovesTheRowAndADeleteOfAMissingRowIsHarmless) {
  seed();
  applyAndCommit(
      {remove(plans_.orders, "2"), remove(plans_.orders, "404"), remove(plans_.orders, "2")});
  EXPECT_EQ(row("orders", orderId("2"), "status"), "<no row>");
  EXPECT_EQ(row("orders", orderId("1"), "status"), "draft");
  EXPECT_EQ(count("orders"), 1);
}

TEST_F(TargetWriterWriteTest, SetColumnsCompletesJawsAndReleaseClearsOnlyWhatTheOrderFilled) {
  seed();
  std::string order1 = orderId("1").str(), order2 = orderId("2").str();
  // Order 1: upper jaw 1, lower jaw 2. Order 2: upper jaw 3.
  applyAndCommit({setColumns(plans_.upperJaws, "1", jawId("1"), {order1, "upper"}),
                  setColumns(plans_.lowerJaws, "1", jawId("2"), {order1, "lower"}),
                  setColumns(plans_.upperJaws, "2", jawId("3"), {order2, "upper"})});
  EXPECT_EQ(row("jaws", jawId("1"), "order_id, jaw_type, scan_file"), order1 + "|upper|scan-1.stl");
  EXPECT_EQ(row("jaws", jawId("2"), "order_id, jaw_type"), order1 + "|lower");

  // The order still names jaw 1 as its upper jaw: releasing "all but jaw 1" changes nothing.
  applyAndCommit({release(plans_.upperJaws, "1", {order1, "upper"}, jawId("1")),
                  setColumns(plans_.upperJaws, "1", jawId("1"), {order1, "upper"})});
  EXPECT_EQ(row("jaws", jawId("1"), "order_id, jaw_type"), order1 + "|upper");

  // Order 1 is deleted: its upper jaw is released (no row kept); its lower jaw and order 2's
  // jaw are not touched, and the released row itself stays with its own columns.
  applyAndCommit({release(plans_.upperJaws, "1", {order1, "upper"}, std::nullopt)});
  EXPECT_EQ(row("jaws", jawId("1"), "order_id, jaw_type, scan_file"), "<null>|<null>|scan-1.stl");
  EXPECT_EQ(row("jaws", jawId("2"), "order_id, jaw_type"), order1 + "|lower");
  EXPECT_EQ(row("jaws", jawId("3"), "order_id, jaw_type"), order2 + "|upper");
}

TEST_F(TargetWriterWriteTest, AJawSwapEndsRightWhicheverPartialTargetIsWrittenFirst) {
  seed();
  std::string order1 = orderId("1").str();
  for (bool upperFirst : {true, false}) {
    SCOPED_TRACE(upperFirst ? "upper target first" : "lower target first");
    // Before: upper = jaw 1, lower = jaw 2.
    applyAndCommit({release(plans_.upperJaws, "1", {order1, "upper"}, jawId("1")),
                    setColumns(plans_.upperJaws, "1", jawId("1"), {order1, "upper"}),
                    release(plans_.lowerJaws, "1", {order1, "lower"}, jawId("2")),
                    setColumns(plans_.lowerJaws, "1", jawId("2"), {order1, "lower"})});
    ASSERT_EQ(row("jaws", jawId("1"), "order_id, jaw_type"), order1 + "|upper");
    ASSERT_EQ(row("jaws", jawId("2"), "order_id, jaw_type"), order1 + "|lower");

    // The order swaps them: upper = jaw 2, lower = jaw 1 (one source UPDATE).
    std::vector<TargetWrite> upper, lower, swap;
    upper.push_back(release(plans_.upperJaws, "1", {order1, "upper"}, jawId("2")));
    upper.push_back(setColumns(plans_.upperJaws, "1", jawId("2"), {order1, "upper"}));
    lower.push_back(release(plans_.lowerJaws, "1", {order1, "lower"}, jawId("1")));
    lower.push_back(setColumns(plans_.lowerJaws, "1", jawId("1"), {order1, "lower"}));
    for (auto* part : upperFirst ? std::array{&upper, &lower} : std::array{&lower, &upper})
      for (auto& w : *part) swap.push_back(w);
    applyAndCommit(swap);
    EXPECT_EQ(row("jaws", jawId("1"), "order_id, jaw_type"), order1 + "|lower");
    EXPECT_EQ(row("jaws", jawId("2"), "order_id, jaw_type"), order1 + "|upper");
    EXPECT_EQ(row("jaws", jawId("3"), "order_id, jaw_type"), "<null>|<null>");
  }
}

TEST_F(TargetWriterWriteTest, TruncateOfAnUpsertTargetDeletesItsRowsAndNothingElse) {
  seed();
  applyAndCommit({upsert(plans_.caseFiles, "1",
                         {"1", orderId("1").str(), "a.zip", "10", "2019-01-01 05:00:00 UTC"}),
                  upsert(plans_.caseFiles, "2",
                         {"2", orderId("2").str(), "b.zip", "20", "2019-01-01 05:00:00 UTC"})});
  ASSERT_EQ(count("case_files"), 2);
  applyAndCommit({truncate(plans_.caseFiles)});
  EXPECT_EQ(count("case_files"), 0);
  EXPECT_EQ(count("orders"), 2);
  EXPECT_EQ(count("jaws"), 3);
}

TEST_F(TargetWriterWriteTest, TruncateOfAPartialTargetReleasesOnlyTheRowsItsConstantsMatch) {
  seed();
  std::string order1 = orderId("1").str(), order2 = orderId("2").str();
  applyAndCommit({setColumns(plans_.upperJaws, "1", jawId("1"), {order1, "upper"}),
                  setColumns(plans_.lowerJaws, "1", jawId("2"), {order1, "lower"}),
                  setColumns(plans_.upperJaws, "2", jawId("3"), {order2, "upper"})});
  applyAndCommit({truncate(plans_.upperJaws)});
  EXPECT_EQ(row("jaws", jawId("1"), "order_id, jaw_type, scan_file"), "<null>|<null>|scan-1.stl");
  EXPECT_EQ(row("jaws", jawId("3"), "order_id, jaw_type"), "<null>|<null>");
  EXPECT_EQ(row("jaws", jawId("2"), "order_id, jaw_type"), order1 + "|lower");
  EXPECT_EQ(count("jaws"), 3);
  EXPECT_EQ(count("orders"), 2);
}

TEST_F(TargetWriterWriteTest, StatementsArePreparedOncePerShapeAndReused) {
  seed();
  std::size_t afterSeed = writer_->preparedStatements();
  // Same shapes as the seed (offices upsert with every column present): nothing new.
  applyAndCommit(
      {upsert(plans_.offices, "2", {"2", "B", "x", "US", "2019-01-01 05:00:00 UTC"}),
       upsert(plans_.offices, "3", {"3", "C", Val::null(), "US", "2019-01-01 05:00:00 UTC"})});
  EXPECT_EQ(writer_->preparedStatements(), afterSeed);
  // An absent column is another shape.
  applyAndCommit(
      {upsert(plans_.offices, "3", {"3", "C", Val::absent(), "FR", "2019-01-01 05:00:00 UTC"})});
  EXPECT_EQ(writer_->preparedStatements(), afterSeed + 1);
  EXPECT_EQ(row("offices", idOf("dispatch_office", "3"), "name, country_code"), "C|FR");
}

TEST_F(TargetWriterWriteTest, ANewSessionInTheSameConnectionObjectPreparesItsStatementsAgain) {
  seed();
  std::vector<TargetWrite> first{
      upsert(plans_.offices, "7", {"7", "North", "2 North Rd", "US", "2019-01-01 05:00:00 UTC"})};
  applyAndCommit(first);
  // The session ends and a new one takes its place in the same object, the way a reconnect
  // does: none of the prepared statements exist there. (Its PGconn may even get the freed
  // one's address, so the writer asks PgConnection::sessionToken, not the address.)
  conn_.reset();
  conn_.emplace(test::sharedTarget().conninfo(db_), "target");
  std::vector<TargetWrite> second{
      upsert(plans_.offices, "7", {"7", "South", "3 South Rd", "US", "2019-01-01 05:00:00 UTC"})};
  applyAndCommit(second, Lsn::parse("0/200"));
  EXPECT_EQ(row("offices", idOf("dispatch_office", "7"), "name"), "South");
}

TEST_F(TargetWriterWriteTest, WorkThatIsNoSourceTransactionCommitsWithoutMovingTheCheckpoint) {
  seed();
  applyAndCommit(
      {upsert(plans_.offices, "7", {"7", "North", "2 North Rd", "US", "2019-01-01 05:00:00 UTC"})},
      Lsn::parse("0/500"), 3);
  auto before = checkpoint();
  ASSERT_TRUE(before);
  EXPECT_EQ(before->lsn, Lsn::parse("0/500"));
  std::vector<TargetWrite> more{
      upsert(plans_.offices, "8", {"8", "South", "3 South Rd", "US", "2019-01-01 05:00:00 UTC"})};
  writer_->begin();
  writer_->applyOrdered(oneByOneInSourceOrder(more));
  writer_->commitKeepingCheckpoint("of a test");
  EXPECT_FALSE(writer_->inTransaction());
  EXPECT_EQ(row("offices", idOf("dispatch_office", "8"), "name"), "South");
  auto cp = checkpoint();
  ASSERT_TRUE(cp);
  EXPECT_EQ(cp->lsn, before->lsn);
  EXPECT_EQ(cp->appliedTransactions, before->appliedTransactions);
  // The writer goes on as after any commit.
  applyAndCommit(
      {upsert(plans_.offices, "9", {"9", "East", "4 East Rd", "US", "2019-01-01 05:00:00 UTC"})},
      Lsn::parse("0/600"), 1);
  EXPECT_EQ(checkpoint()->lsn, Lsn::parse("0/600"));
}

}  // namespace
}  // namespace pgmorph::sinktest
