// ParkedWriteCodec without a database: a parked write decodes to the same write against the
// loaded mapping (values by column name, states kept), refuses to decode against a mapping
// that lost its plan or column, and the write edits give the net effect the batch orderer
// gives. (Source changes and their JSON: ChangeJsonTest.)
#include "sink/ParkedWriteCodec.h"

#include <gtest/gtest.h>

#include "transform/Transformer.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using test::makeChange;
using test::num;
using test::str;

class ParkedWriteCodecTest : public ::testing::Test {
 protected:
  ParkedWriteCodecTest() : config_(test::loadDispatch()), transformer_(config_) {}

  const TargetWrite& transformOne(const Change& c, std::size_t index = 0) {
    batch_.clear();
    auto outcome = transformer_.transform(c, batch_);
    EXPECT_EQ(outcome.status, TransformOutcome::Status::Written) << outcome.problem;
    return batch_.writes()[index];
  }
  static void expectSameWrite(const TargetWrite& a, const TargetWrite& b) {
    EXPECT_EQ(a.op, b.op);
    EXPECT_EQ(a.plan, b.plan);
    EXPECT_EQ(a.row, b.row);
    EXPECT_EQ(a.hasRow, b.hasRow);
    EXPECT_EQ(a.lsn, b.lsn);
    EXPECT_EQ(a.legacyKey(), b.legacyKey());
    ASSERT_EQ(a.values().size(), b.values().size());
    for (std::size_t i = 0; i < a.values().size(); ++i) {
      EXPECT_EQ(a.values()[i].state, b.values()[i].state) << i;
      EXPECT_EQ(a.text(a.values()[i]), b.text(b.values()[i])) << i;
    }
  }

  PipelineConfig config_;
  Transformer transformer_;
  WriteBatch batch_;
};

Change notificationUpdate() {
  // An update that leaves template_context out (unchanged TOAST): an Absent value.
  return makeChange(ChangeKind::Update, "dispatch_notification",
                    {num("id", "1300"), num("recipient_id", "7"), str("template", "t \"q\""),
                     test::Col{"is_read", "1", ValueKind::Number, "smallint"},
                     str("created_at", "2020-01-01 00:00:00", "timestamp without time zone")},
                    {num("id", "1300")});
}

TEST_F(ParkedWriteCodecTest, AParkedWriteDecodesToTheSameWrite) {
  ParkedWriteCodec codec(transformer_.plans());
  const TargetWrite& w = transformOne(notificationUpdate());
  ParkedRow row = ParkedWriteCodec::encode(w);
  EXPECT_EQ(row.plan, "dispatch_notification>public.system_messages[upsert:id]");
  EXPECT_EQ(row.op, "upsert");
  EXPECT_EQ(row.sourceTable, "dispatch_notification");
  EXPECT_EQ(row.targetTable, "public.system_messages");
  EXPECT_EQ(row.rowId, w.row);
  TargetWrite back;
  std::string why;
  ASSERT_TRUE(codec.decode(row, back, why)) << why;
  expectSameWrite(w, back);
  // Keyed by name: the stored order of the values does not matter.
  std::reverse(row.values.begin(), row.values.end());
  ASSERT_TRUE(codec.decode(row, back, why)) << why;
  expectSameWrite(w, back);
}

TEST_F(ParkedWriteCodecTest, PartialTargetsAndReleasesRoundTrip) {
  ParkedWriteCodec codec(transformer_.plans());
  Change order = makeChange(
      ChangeKind::Insert, "dispatch_instruction",
      {num("id", "9"), num("patient_id", "4"), test::null("doctor_id"), num("upper_jaw_id", "1"),
       num("lower_jaw_id", "2"), test::Col{"status", "0", ValueKind::Number, "smallint"},
       num("price", "1.00"), str("notes", "n"), test::null("submitted_at"),
       str("created_at", "2020-01-01 00:00:00", "timestamp without time zone")});
  batch_.clear();
  ASSERT_EQ(transformer_.transform(order, batch_).status, TransformOutcome::Status::Written);
  int partials = 0;
  for (const TargetWrite& w : batch_.writes()) {
    if (w.op != WriteOp::SetColumns && w.op != WriteOp::Release) continue;
    ++partials;
    ParkedRow row = ParkedWriteCodec::encode(w);
    EXPECT_NE(row.plan.find("[update:"), std::string::npos) << row.plan;
    TargetWrite back;
    std::string why;
    ASSERT_TRUE(codec.decode(row, back, why)) << why;
    expectSameWrite(w, back);
  }
  EXPECT_EQ(partials, 4) << "a release and a set-columns for each of the two jaws";
}

TEST_F(ParkedWriteCodecTest, AWriteTheMappingNoLongerHasDoesNotDecode) {
  ParkedWriteCodec codec(transformer_.plans());
  ParkedRow row = ParkedWriteCodec::encode(transformOne(notificationUpdate()));
  row.id = 42;
  TargetWrite back;
  std::string why;
  ParkedRow gone = row;
  gone.plan = "dispatch_notification>public.messages[upsert:id]";
  EXPECT_FALSE(codec.decode(gone, back, why));
  EXPECT_NE(why.find("parked entry 42"), std::string::npos) << why;
  ParkedRow renamed = row;
  renamed.values[2].column = "recipient";
  EXPECT_FALSE(codec.decode(renamed, back, why));
  EXPECT_NE(why.find("no longer has column recipient"), std::string::npos) << why;
  ParkedRow change = row;
  change.op = "change";
  EXPECT_FALSE(codec.decode(change, back, why));
}

TEST_F(ParkedWriteCodecTest, OverlayIsTheNetEffectLaterValuesWinAbsentOnesKeep) {
  Change insert =
      makeChange(ChangeKind::Insert, "dispatch_notification",
                 {num("id", "1300"), num("recipient_id", "7"), str("template", "first"),
                  str("template_context", "{\"a\": 1}"),
                  test::Col{"is_read", "0", ValueKind::Number, "smallint"},
                  str("created_at", "2020-01-01 00:00:00", "timestamp without time zone")});
  TargetWrite first = transformOne(insert);
  TargetWrite later = transformOne(notificationUpdate());
  TargetWrite net;
  WriteEdits::overlay(first, later, net);
  auto value = [](const TargetWrite& w, std::string_view c) { return test::valueOf(w, c); };
  EXPECT_EQ(value(net, "template"), "t \"q\"");
  EXPECT_EQ(value(net, "is_read"), "true");
  EXPECT_EQ(value(net, "context"), "{\"a\": 1}") << "an absent value keeps the earlier one";
  TargetWrite nulled;
  WriteEdits::withNull(net, 2, nulled);
  EXPECT_EQ(value(nulled, "recipient_id"), "NULL");
  EXPECT_EQ(value(nulled, "template"), "t \"q\"");
}

}  // namespace
}  // namespace pgmorph
