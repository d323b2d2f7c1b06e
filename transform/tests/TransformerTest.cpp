// The Transformer, op by op, on the example mapping: what each change becomes, and the
// failures with their policies. Over 400 lines: one fixture and its change builders serve every
// case; partial targets have a file of their own (PartialTargetTest).
#include "transform/Transformer.h"

#include <gtest/gtest.h>

#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using test::makeChange;
using test::null;
using test::num;
using test::str;
using test::summary;
using test::valueOf;
using Status = TransformOutcome::Status;
using Strings = std::vector<std::string>;

class TransformerTest : public ::testing::Test {
 protected:
  TransformerTest() : config_(test::loadDispatch()), tf_(config_), ids_(tf_.ids()) {}

  std::string id(std::string_view table, std::string_view key) const {
    return ids_.id(table, key).str();
  }
  TransformOutcome run(const Change& c) { return tf_.transform(c, batch_); }
  const TargetWrite& write(std::size_t i) const { return batch_.writes()[i]; }

  PipelineConfig config_;
  Transformer tf_;
  const IdMapper& ids_;
  WriteBatch batch_;
};

Change office(ChangeKind kind, std::string id, std::string createdAt = "2015-01-04 00:00:00") {
  return makeChange(kind, "dispatch_office",
                    {num("id", std::move(id)), str("name", "Office 1"),
                     str("address", "1 Main Street"), str("country", "US", "character(2)"),
                     str("created_at", std::move(createdAt), "timestamp without time zone")},
                    kind == ChangeKind::Update ? std::initializer_list<test::Col>{num("id", "42")}
                                               : std::initializer_list<test::Col>{});
}

TEST_F(TransformerTest, BuildsOnePlanPerTargetWithTheColumnLayoutOfWritePlan) {
  ASSERT_EQ(tf_.plans().size(), 13u);
  const WritePlan& offices = tf_.plans()[0];
  EXPECT_EQ(offices.targetTable, "offices");
  EXPECT_EQ(offices.columns,
            (Strings{"id", "legacy_office_id", "name", "address", "country_code", "created_at"}));
  EXPECT_TRUE(offices.ownerColumns.empty());
  const WritePlan& profiles = tf_.plans()[1];
  EXPECT_EQ(profiles.refTables, (Strings{"", "", "", "", "", "dispatch_office", "", ""}));
  const WritePlan& upper = tf_.plans()[6];
  EXPECT_EQ(upper.targetTable, "jaws");
  EXPECT_EQ(upper.columns, (Strings{"order_id", "jaw_type"}));
  EXPECT_EQ(upper.ownerColumns, (Strings{"order_id", "jaw_type"}));
  EXPECT_EQ(upper.constantOwners,
            (std::vector<std::pair<std::string, std::string>>{{"jaw_type", "upper"}}));
  EXPECT_EQ(upper.refTables, (Strings{"dispatch_instruction", ""}));
  const WritePlan& payments = tf_.plans()[10];
  EXPECT_EQ(payments.columns.back(), "payment_status");
}

TEST_F(TransformerTest, InsertBecomesAnUpsertWithIdLegacyIdRenamesAndZonedTimestamps) {
  Change c = office(ChangeKind::Insert, "42");
  EXPECT_EQ(run(c).status, Status::Written);
  ASSERT_EQ(batch_.size(), 1u);
  const TargetWrite& w = write(0);
  EXPECT_EQ(w.op, WriteOp::Upsert);
  EXPECT_EQ(w.plan, &tf_.plans()[0]);
  EXPECT_EQ(w.row.str(), "7e45f430-8668-5c4a-8f1d-be1d80f72aa3");  // uuid_generate_v5 vector
  EXPECT_EQ(w.lsn, c.lsn);
  EXPECT_EQ(w.legacyKey(), "42");
  EXPECT_EQ(valueOf(w, "id"), "7e45f430-8668-5c4a-8f1d-be1d80f72aa3");
  EXPECT_EQ(valueOf(w, "legacy_office_id"), "42");
  EXPECT_EQ(valueOf(w, "name"), "Office 1");
  EXPECT_EQ(valueOf(w, "country_code"), "US");
  EXPECT_EQ(valueOf(w, "created_at"), "2015-01-04 00:00:00 UTC");
}

TEST_F(TransformerTest, NaiveTimestampsAreReadInTheSourceTimezone) {
  config_.source.timezone = "America/New_York";
  Transformer tf(config_);
  EXPECT_EQ(
      tf.transform(office(ChangeKind::Insert, "1", "2019-01-01 05:00:00.250000"), batch_).status,
      Status::Written);
  EXPECT_EQ(valueOf(write(0), "created_at"), "2019-01-01 05:00:00.250000 America/New_York");
}

TEST_F(TransformerTest, AGarbageTimestampFailsTheChangeAndAppendsNothing) {
  run(office(ChangeKind::Insert, "1"));
  ASSERT_EQ(batch_.size(), 1u);
  TransformOutcome out = run(office(ChangeKind::Insert, "42", "soon"));
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(batch_.size(), 1u);  // the earlier change's write is kept, none of this one's
  EXPECT_EQ(out.column, "created_at");
  EXPECT_EQ(out.policy, RowPolicy::Park);
  EXPECT_EQ(out.problem,
            "dispatch_office 42 (insert at 0/16B3748): column created_at -> offices.created_at: "
            "value 'soon' is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff]); "
            "on_error: park");
}

Change user(std::string isActive, ValueKind kind = ValueKind::Number,
            std::optional<std::string> office = "3") {
  return makeChange(
      ChangeKind::Insert, "dispatch_user",
      {num("id", "7"), str("email", "user7@example.com"), str("first_name", "First7"),
       str("last_name", "Last7"), office ? num("office_id", *office) : null("office_id"),
       test::Col{"is_active", isActive, kind, "smallint"},
       str("date_joined", "2016-01-03 01:00:00", "timestamp without time zone")});
}

TEST_F(TransformerTest, BooleansAndRefsAreConverted) {
  ASSERT_EQ(run(user("0")).status, Status::Written);
  ASSERT_EQ(run(user("1", ValueKind::Number, std::nullopt)).status, Status::Written);
  EXPECT_EQ(valueOf(write(0), "is_active"), "false");
  EXPECT_EQ(valueOf(write(1), "is_active"), "true");
  EXPECT_EQ(valueOf(write(0), "office_id"), id("dispatch_office", "3"));
  EXPECT_EQ(valueOf(write(1), "office_id"), "NULL");  // NULL ref stays NULL
  EXPECT_EQ(valueOf(write(0), "joined_at"), "2016-01-03 01:00:00 UTC");
  EXPECT_EQ(write(0).row, ids_.id("dispatch_user", "7"));

  TransformOutcome bad = run(user("7"));
  EXPECT_EQ(bad.status, Status::Failed);
  EXPECT_EQ(bad.column, "is_active");
  EXPECT_NE(bad.problem.find("dispatch_user 7"), std::string::npos) << bad.problem;
  EXPECT_NE(bad.problem.find("value '7' is not a boolean"), std::string::npos) << bad.problem;
  EXPECT_EQ(batch_.size(), 2u);
}

Change notification(std::string context) {
  return makeChange(ChangeKind::Insert, "dispatch_notification",
                    {num("id", "500"), num("recipient_id", "1000500"),
                     str("template", "order_shipped"), str("template_context", std::move(context)),
                     num("is_read", "1"), str("created_at", "2020-01-04 11:20:00")});
}

TEST_F(TransformerTest, JsonIsValidatedAndPassedThrough) {
  const std::string good = R"({"order": 1, "by": "user1", "tags": ["a", "b"]})";
  ASSERT_EQ(run(notification(good)).status, Status::Written);
  EXPECT_EQ(valueOf(write(0), "context"), good);
  // An orphan recipient is still written: whether the parent exists is the sink's concern.
  EXPECT_EQ(valueOf(write(0), "recipient_id"), id("dispatch_user", "1000500"));

  const std::string bad = R"({"order": 500, "note": "unterminated)";
  TransformOutcome out = run(notification(bad));
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(out.policy, RowPolicy::Park);  // on_error: park in the example
  EXPECT_EQ(out.column, "template_context");
  EXPECT_NE(out.problem.find("dispatch_notification 500"), std::string::npos);
  EXPECT_NE(out.problem.find("is not valid JSON"), std::string::npos) << out.problem;
  EXPECT_NE(out.problem.find("on_error: park"), std::string::npos);
}

TEST_F(TransformerTest, OnErrorNullIsReportedAndCanBeAppliedByTheCaller) {
  for (auto& t : config_.tables)
    for (auto& m : t.targets)
      for (auto& c : m.columns)
        if (c.source == "template_context") c.onError = RowPolicy::Null;
  Transformer tf(config_);
  Change c = notification("{not json");
  TransformOutcome out = tf.transform(c, batch_);
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(out.policy, RowPolicy::Null);
  EXPECT_TRUE(batch_.empty());
  out = tf.transformNullingErrors(c, batch_);
  EXPECT_EQ(out.status, Status::Written);
  ASSERT_EQ(batch_.size(), 1u);
  EXPECT_EQ(valueOf(write(0), "context"), "NULL");
  EXPECT_EQ(valueOf(write(0), "is_read"), "true");
  // Nulling applies only to on_error: null columns; this call does not stick.
  EXPECT_EQ(tf.transform(c, batch_).status, Status::Failed);
}

TEST_F(TransformerTest, TransformWithPolicyNullsOnErrorNullAndSaysWhat) {
  for (auto& t : config_.tables)
    for (auto& m : t.targets)
      for (auto& c : m.columns)
        if (c.source == "template_context") c.onError = RowPolicy::Null;
  Transformer tf(config_);
  TransformOutcome out = tf.transformWithPolicy(notification("{not json"), batch_);
  EXPECT_EQ(out.status, Status::Written);
  ASSERT_EQ(batch_.size(), 1u);
  EXPECT_EQ(valueOf(write(0), "context"), "NULL");
  EXPECT_NE(out.nulled.find("is not valid JSON"), std::string::npos) << out.nulled;
  batch_.clear();
  // A good value: nothing nulled.
  out = tf.transformWithPolicy(notification("{}"), batch_);
  EXPECT_EQ(out.status, Status::Written);
  EXPECT_EQ(out.nulled, "");
}

TEST_F(TransformerTest, TransformWithPolicyLeavesParkAndFailToTheCaller) {
  Transformer tf(config_);  // template_context: on_error park (the mapping's default)
  TransformOutcome out = tf.transformWithPolicy(notification("{not json"), batch_);
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(out.policy, RowPolicy::Park);
  EXPECT_EQ(out.nulled, "");
  EXPECT_TRUE(batch_.empty());
}

Change instruction(ChangeKind kind, std::string id, std::string status,
                   std::optional<std::string> upper = "83", std::optional<std::string> lower = "84",
                   bool withNotes = true, std::string oldId = "") {
  Change c;
  c.kind = kind;
  c.lsn = Lsn(0x16B3748);
  c.setSchema("public");
  c.setTable("dispatch_instruction");
  c.addColumn("id", "integer", id, ValueKind::Number);
  c.addColumn("patient_id", "integer", "42", ValueKind::Number);
  c.addColumn("doctor_id", "integer", "", ValueKind::Null);
  c.addColumn("upper_jaw_id", "integer", upper.value_or(""),
              upper ? ValueKind::Number : ValueKind::Null);
  c.addColumn("lower_jaw_id", "integer", lower.value_or(""),
              lower ? ValueKind::Number : ValueKind::Null);
  c.addColumn("status", "smallint", status, ValueKind::Number);
  c.addColumn("price", "numeric(12,2)", "12345678901.25", ValueKind::Number);
  if (withNotes) c.addColumn("notes", "text", "note 42", ValueKind::String);
  c.addColumn("submitted_at", "timestamp without time zone", "", ValueKind::Null);
  c.addColumn("created_at", "timestamp without time zone", "2019-01-09 18:00:00",
              ValueKind::String);
  if (kind == ChangeKind::Update)
    c.addIdentity("id", "integer", oldId.empty() ? id : oldId, ValueKind::Number);
  return c;
}

TEST_F(TransformerTest, MapRecodesAndAnUnknownCodeFailsNamingTheKnownCodes) {
  ASSERT_EQ(run(instruction(ChangeKind::Insert, "42", "2")).status, Status::Written);
  EXPECT_EQ(valueOf(write(0), "status"), "in_production");
  EXPECT_EQ(valueOf(write(0), "price"), "12345678901.25");  // exact digits
  EXPECT_EQ(valueOf(write(0), "doctor_id"), "NULL");
  EXPECT_EQ(valueOf(write(0), "submitted_at"), "NULL");
  EXPECT_EQ(valueOf(write(0), "patient_id"), id("dispatch_patient", "42"));

  TransformOutcome out = run(instruction(ChangeKind::Insert, "43", "9"));
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(out.column, "status");
  EXPECT_NE(out.problem.find("dispatch_instruction 43"), std::string::npos);
  EXPECT_NE(out.problem.find("value '9' is not one of the codes in its map (known: 0, 1, 2, 3, 4)"),
            std::string::npos)
      << out.problem;
}

TEST_F(TransformerTest, DefaultReplacesNullAndSetWritesConstants) {
  Change c = makeChange(ChangeKind::Insert, "dispatch_payment",
                        {num("id", "4"), num("instruction_id", "5"), num("amount", "7.29"),
                         null("method"), str("paid_at", "2019-02-02 12:00:00")});
  ASSERT_EQ(run(c).status, Status::Written);
  EXPECT_EQ(valueOf(write(0), "payment_method"), "unknown");
  EXPECT_EQ(valueOf(write(0), "payment_status"), "completed");
  EXPECT_EQ(valueOf(write(0), "order_id"), id("dispatch_instruction", "5"));
  EXPECT_EQ(valueOf(write(0), "amount"), "7.29");
}

Change state(ChangeKind kind, std::string kind_, std::initializer_list<test::Col> identity = {}) {
  return makeChange(kind, "dispatch_state",
                    {num("id", "10"), str("kind", std::move(kind_)), num("patient_id", "11"),
                     num("instruction_id", "11"), str("state", "approved"),
                     str("changed_at", "2019-03-02 06:00:00")},
                    identity);
}

TEST_F(TransformerTest, WhereSendsTheRowToItsTargetAndAMoveDeletesItFromTheOther) {
  ASSERT_EQ(run(state(ChangeKind::Insert, "case")).status, Status::Written);
  EXPECT_EQ(summary(batch_), (Strings{"upsert case_states"}));
  EXPECT_EQ(valueOf(write(0), "patient_id"), id("dispatch_patient", "11"));
  EXPECT_EQ(valueOf(write(0), "legacy_state_id"), "10");

  batch_.clear();
  ASSERT_EQ(run(state(ChangeKind::Update, "order", {num("id", "10")})).status, Status::Written);
  EXPECT_EQ(summary(batch_), (Strings{"delete case_states", "upsert order_states"}));
  EXPECT_EQ(write(0).row, ids_.id("dispatch_state", "10"));
  EXPECT_EQ(write(1).row, ids_.id("dispatch_state", "10"));
  EXPECT_EQ(valueOf(write(1), "order_id"), id("dispatch_instruction", "11"));

  batch_.clear();
  EXPECT_EQ(run(state(ChangeKind::Insert, "archived")).status, Status::Filtered);
  EXPECT_TRUE(batch_.empty());
}

TEST_F(TransformerTest, AnUpdateOmittingTheWhereColumnUsesTheIdentityOrFails) {
  Change c = makeChange(ChangeKind::Update, "dispatch_state",
                        {num("id", "10"), str("state", "closed")}, {num("id", "10")});
  TransformOutcome out = run(c);
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(out.column, "kind");
  EXPECT_NE(out.problem.find("REPLICA IDENTITY FULL"), std::string::npos) << out.problem;

  // With REPLICA IDENTITY FULL the old row says where it is: no move, columns absent.
  Change full =
      makeChange(ChangeKind::Update, "dispatch_state", {num("id", "10"), str("state", "closed")},
                 {num("id", "10"), str("kind", "order"), str("state", "approved")});
  ASSERT_EQ(run(full).status, Status::Written);
  EXPECT_EQ(summary(batch_), (Strings{"delete case_states", "upsert order_states"}));
  EXPECT_EQ(valueOf(write(1), "state"), "closed");
  EXPECT_EQ(valueOf(write(1), "changed_at"), std::nullopt);
}

TEST_F(TransformerTest, KeyChangeDeletesTheOldRowAndUpsertsTheNewOne) {
  ASSERT_EQ(run(office(ChangeKind::Update, "43")).status, Status::Written);  // identity id 42
  EXPECT_EQ(summary(batch_), (Strings{"delete offices", "upsert offices"}));
  EXPECT_EQ(write(0).row, ids_.id("dispatch_office", "42"));
  EXPECT_EQ(write(1).row, ids_.id("dispatch_office", "43"));
  EXPECT_EQ(write(0).legacyKey(), "42");
  EXPECT_EQ(write(1).legacyKey(), "43");
  EXPECT_EQ(valueOf(write(1), "legacy_office_id"), "43");
}

TEST_F(TransformerTest, UnchangedToastColumnsAreAbsentNotBlanked) {
  ASSERT_EQ(run(instruction(ChangeKind::Update, "42", "3", "83", "84", false)).status,
            Status::Written);
  const TargetWrite& orders = write(0);
  EXPECT_EQ(orders.op, WriteOp::Upsert);
  EXPECT_EQ(valueOf(orders, "notes"), std::nullopt);
  EXPECT_EQ(valueOf(orders, "status"), "shipped");
  EXPECT_EQ(valueOf(orders, "created_at"), "2019-01-09 18:00:00 UTC");

  // A key change cannot re-create the row without the value it does not carry.
  batch_.clear();
  TransformOutcome out = run(instruction(ChangeKind::Update, "43", "3", "83", "84", false, "42"));
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(out.column, "notes");
  EXPECT_NE(out.problem.find("unchanged TOASTed"), std::string::npos) << out.problem;
  EXPECT_TRUE(batch_.empty());
}

TEST_F(TransformerTest, DeleteUsesTheIdentityForEveryTarget) {
  Change c = makeChange(ChangeKind::Delete, "dispatch_state", {}, {num("id", "10")});
  ASSERT_EQ(run(c).status, Status::Written);
  EXPECT_EQ(summary(batch_), (Strings{"delete case_states", "delete order_states"}));
  EXPECT_EQ(write(0).row, ids_.id("dispatch_state", "10"));
  EXPECT_EQ(write(0).legacyKey(), "10");
  EXPECT_EQ(write(1).row, ids_.id("dispatch_state", "10"));

  batch_.clear();
  Change order = makeChange(ChangeKind::Delete, "dispatch_instruction", {}, {num("id", "42")});
  ASSERT_EQ(run(order).status, Status::Written);
  EXPECT_EQ(summary(batch_), (Strings{"release jaws", "release jaws", "delete orders"}));
  for (std::size_t i : {0u, 1u}) {
    EXPECT_FALSE(write(i).hasRow);
    EXPECT_EQ(valueOf(write(i), "order_id"), id("dispatch_instruction", "42"));
  }
  EXPECT_EQ(valueOf(write(0), "jaw_type"), "upper");
  EXPECT_EQ(valueOf(write(1), "jaw_type"), "lower");
  EXPECT_EQ(write(2).row, ids_.id("dispatch_instruction", "42"));

  batch_.clear();
  TransformOutcome out = run(makeChange(ChangeKind::Delete, "dispatch_state", {}, {}));
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_NE(out.problem.find("REPLICA IDENTITY"), std::string::npos) << out.problem;
}

TEST_F(TransformerTest, TruncateEmitsPartialTargetsFirstThenUpsertTargets) {
  Change c = makeChange(ChangeKind::Truncate, "dispatch_instruction", {});
  ASSERT_EQ(run(c).status, Status::Written);
  EXPECT_EQ(summary(batch_), (Strings{"truncate jaws", "truncate jaws", "truncate orders"}));
  EXPECT_EQ(write(0).plan, &tf_.plans()[6]);
  EXPECT_EQ(write(1).plan, &tf_.plans()[7]);
  EXPECT_EQ(write(2).plan, &tf_.plans()[5]);
  EXPECT_EQ(write(2).lsn, c.lsn);
}

TEST_F(TransformerTest, UnmappedTablesAndNonRowChangesAppendNothing) {
  EXPECT_EQ(run(makeChange(ChangeKind::Insert, "django_session", {num("id", "1")})).status,
            Status::Unmapped);
  Change other = office(ChangeKind::Insert, "1");
  other.setSchema("archive");  // same name, another schema: not mapped
  EXPECT_EQ(run(other).status, Status::Unmapped);
  Change begin;
  begin.kind = ChangeKind::Begin;
  EXPECT_EQ(run(begin).status, Status::Unmapped);
  EXPECT_TRUE(batch_.empty());
}

TEST_F(TransformerTest, NullOrMissingKeysAndMissingColumnsFail) {
  Change nullKey =
      makeChange(ChangeKind::Insert, "dispatch_jaw",
                 {null("id"), str("scan_file", "a.stl"), str("created_at", "2018-01-01 02:00:00")});
  TransformOutcome out = run(nullKey);
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(out.column, "id");
  EXPECT_EQ(out.problem, "dispatch_jaw (key unknown) (insert at 0/16B3748): key column id is NULL");

  Change renamed =
      makeChange(ChangeKind::Insert, "dispatch_jaw",
                 {num("id", "1"), str("scan", "a.stl"), str("created_at", "2018-01-01 02:00:00")});
  out = run(renamed);
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_EQ(out.column, "scan_file");
  EXPECT_NE(out.problem.find("the source table has no such column"), std::string::npos);
  EXPECT_TRUE(batch_.empty());
}

TEST_F(TransformerTest, LongValuesAreTruncatedInMessages) {
  std::string huge(5000, 'x');
  TransformOutcome out = run(notification(huge));
  EXPECT_EQ(out.status, Status::Failed);
  EXPECT_LT(out.problem.size(), 400u);
  EXPECT_NE(out.problem.find("(5000 bytes)"), std::string::npos) << out.problem;
}

TEST(TransformerComposite, CompositeKeysJoinEscapedPartsForIdsLegacyIdsAndRefs) {
  PipelineConfig cfg = test::load(R"yaml(pipeline: p
source: { conninfo: "host=a" }
target: { conninfo: "host=b" }
ids: { namespace: 8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b }
tables:
  t:
    - target: tt
      key: [region, num]
      legacy_id: legacy_key
      columns:
        name: name
  single:
    - target: singles
      key: code
      columns:
        t_code: { to: t_id, ref: single }
)yaml");
  Transformer tf(cfg);
  WriteBatch batch;
  Change c = makeChange(ChangeKind::Insert, "t",
                        {str("region", "a,b"), str("num", "c"), str("name", "n")});
  ASSERT_EQ(tf.transform(c, batch).status, TransformOutcome::Status::Written);
  const TargetWrite& w = batch.writes()[0];
  // python3: uuid.uuid5(uuid.UUID("8d3e2f4a-..."), "t:a\\,b,c")
  EXPECT_EQ(w.row.str(), "c53deb17-7586-52d6-8ba6-b24f3d8454e6");
  EXPECT_EQ(valueOf(w, "legacy_key"), "a\\,b,c");
  EXPECT_EQ(w.legacyKey(), "a\\,b,c");

  // Deleting by the identity gives the same row.
  Change d = makeChange(ChangeKind::Delete, "t", {}, {str("region", "a,b"), str("num", "c")});
  ASSERT_EQ(tf.transform(d, batch).status, TransformOutcome::Status::Written);
  EXPECT_EQ(batch.writes()[1].op, WriteOp::Delete);
  EXPECT_EQ(batch.writes()[1].row, w.row);

  // A single-column key is used unescaped.
  Change s = makeChange(ChangeKind::Insert, "single", {str("code", "x,y"), str("t_code", "x,y")});
  ASSERT_EQ(tf.transform(s, batch).status, TransformOutcome::Status::Written);
  EXPECT_EQ(batch.writes()[2].row, tf.ids().id("single", "x,y"));
  EXPECT_EQ(valueOf(batch.writes()[2], "t_id"), tf.ids().id("single", "x,y").str());
}

TEST(TransformerComposite, ColumnOrderChangesBetweenChangesAreFollowed) {
  // The layout cache must notice another column order or a missing column.
  PipelineConfig cfg = test::loadDispatch();
  Transformer tf(cfg);
  WriteBatch batch;
  Change a = makeChange(
      ChangeKind::Insert, "dispatch_jaw",
      {num("id", "1"), str("scan_file", "a.stl"), str("created_at", "2018-01-01 02:00:00")});
  Change b =
      makeChange(ChangeKind::Update, "dispatch_jaw",
                 {str("created_at", "2018-01-01 03:00:00"), num("id", "2")}, {num("id", "2")});
  ASSERT_EQ(tf.transform(a, batch).status, TransformOutcome::Status::Written);
  ASSERT_EQ(tf.transform(b, batch).status, TransformOutcome::Status::Written);
  ASSERT_EQ(tf.transform(a, batch).status, TransformOutcome::Status::Written);
  EXPECT_EQ(valueOf(batch.writes()[0], "scan_file"), "a.stl");
  EXPECT_EQ(valueOf(batch.writes()[1], "scan_file"), std::nullopt);
  EXPECT_EQ(valueOf(batch.writes()[1], "created_at"), "2018-01-01 03:00:00 UTC");
  EXPECT_EQ(batch.writes()[1].row, tf.ids().id("dispatch_jaw", "2"));
  EXPECT_EQ(valueOf(batch.writes()[2], "scan_file"), "a.stl");
}

}  // namespace
}  // namespace pgmorph
