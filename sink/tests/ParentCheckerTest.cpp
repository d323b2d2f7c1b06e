// ParentChecker against the real dispatch target: the references it checks come from the
// target's foreign keys and the mapping's on_missing, existence is asked in one statement per
// parent table, and its cache of known rows forgets what is deleted or truncated.
#include "sink/ParentChecker.h"

#include <gtest/gtest.h>

#include "sink/tests/ParkingFixture.h"

namespace pgmorph::parkingtest {
namespace {

class ParentCheckerTest : public ParkingTest {
 protected:
  const WritePlan& plan(std::string_view target, TargetMode mode = TargetMode::Upsert,
                        std::string_view key = "") {
    for (const WritePlan& p : transformer_->plans())
      if (p.targetTable == target && p.mapping->mode == mode &&
          (key.empty() || p.mapping->keyColumns.at(0) == key))
        return p;
    throw std::runtime_error("no plan for " + std::string(target));
  }
  const ParentRef* refOf(const ParentChecker& c, const WritePlan& p, std::string_view column) {
    for (const ParentRef& r : c.refs(p))
      if (r.columnName == column) return &r;
    return nullptr;
  }
};

TEST_F(ParentCheckerTest, ReferencesComeFromTheTargetsForeignKeysWithTheMappingsPolicy) {
  ParentChecker checker(*catalog_, transformer_->plans());
  const ParentRef* recipient = refOf(checker, plan("system_messages"), "recipient_id");
  ASSERT_TRUE(recipient);
  EXPECT_EQ(checker.tableName(recipient->parent), "public.profiles");
  EXPECT_EQ(recipient->onMissing, RowPolicy::Park);
  EXPECT_EQ(recipient->sourceParent, "dispatch_user");

  const ParentRef* doctor = refOf(checker, plan("patients"), "doctor_id");
  ASSERT_TRUE(doctor);
  EXPECT_EQ(checker.tableName(doctor->parent), "public.doctors");
  EXPECT_EQ(doctor->onMissing, RowPolicy::Null);

  // The partial target of the jaws references the order it names...
  const WritePlan& upper = plan("jaws", TargetMode::Update, "upper_jaw_id");
  const ParentRef* order = refOf(checker, upper, "order_id");
  ASSERT_TRUE(order);
  EXPECT_EQ(checker.tableName(order->parent), "public.orders");
  // ...and its set-columns need the jaw itself.
  EXPECT_EQ(checker.tableName(checker.ownRow(upper).parent), "public.jaws");
  EXPECT_EQ(checker.ownRow(upper).onMissing, RowPolicy::Park);

  // Columns that are not refs, and refs the target does not enforce, are not checked.
  EXPECT_FALSE(refOf(checker, plan("system_messages"), "template"));
  EXPECT_EQ(checker.refs(plan("offices")).size(), 0u);
}

TEST_F(ParentCheckerTest, OneStatementPerTableTellsWhichRowsExistAndRemembersThem) {
  txn({office("1"), user("1"), user("2")});
  ParentChecker checker(*catalog_, transformer_->plans());
  int profiles = checker.table("public.profiles");
  ASSERT_GE(profiles, 0);
  std::vector<Uuid> ids = {idOf("dispatch_user", "1"), idOf("dispatch_user", "404"),
                           idOf("dispatch_user", "2")};
  std::vector<char> present;
  checker.lookup(*conn_, profiles, ids, present);
  EXPECT_EQ(present, (std::vector<char>{1, 0, 1}));
  EXPECT_EQ(checker.lookups(), 1u);
  EXPECT_TRUE(checker.knownPresent(profiles, ids[0]));
  EXPECT_FALSE(checker.knownPresent(profiles, ids[1]));

  checker.noteGone(profiles, ids[0]);
  EXPECT_FALSE(checker.knownPresent(profiles, ids[0]));
  checker.noteTruncated(profiles);
  EXPECT_FALSE(checker.knownPresent(profiles, ids[2]));
}

TEST_F(ParentCheckerTest, TheCacheStaysWithinItsBound) {
  ParentChecker checker(*catalog_, transformer_->plans(), /*cacheLimit=*/3);
  int profiles = checker.table("public.profiles");
  for (int i = 0; i < 3; ++i)
    checker.notePresent(profiles, idOf("dispatch_user", std::to_string(i)));
  EXPECT_TRUE(checker.knownPresent(profiles, idOf("dispatch_user", "0")));
  checker.notePresent(profiles, idOf("dispatch_user", "3"));  // over the bound: starts over
  EXPECT_FALSE(checker.knownPresent(profiles, idOf("dispatch_user", "0")));
  EXPECT_TRUE(checker.knownPresent(profiles, idOf("dispatch_user", "3")));
}

TEST_F(ParentCheckerTest, RowsOfATableNothingReferencesDoNotTakeUpTheCache) {
  ParentChecker checker(*catalog_, transformer_->plans(), /*cacheLimit=*/3);
  int messages = checker.table("public.system_messages");  // no ref points at it
  int profiles = checker.table("public.profiles");         // system_messages.recipient_id does
  int jaws = checker.table("public.jaws");                 // a partial target completes its rows
  ASSERT_GE(messages, 0);
  ASSERT_GE(jaws, 0);
  checker.notePresent(profiles, idOf("dispatch_user", "1"));
  checker.notePresent(jaws, idOf("dispatch_jaw", "1"));
  for (int i = 0; i < 10; ++i)
    checker.notePresent(messages, idOf("dispatch_notification", std::to_string(i)));
  EXPECT_FALSE(checker.knownPresent(messages, idOf("dispatch_notification", "0")));
  // Ten notifications would have pushed the cache (bound 3) over and emptied it.
  EXPECT_TRUE(checker.knownPresent(profiles, idOf("dispatch_user", "1")));
  EXPECT_TRUE(checker.knownPresent(jaws, idOf("dispatch_jaw", "1")));
}

TEST_F(ParentCheckerTest, RowsAnotherCheckerCommittedNeedNoStatementAndOnlyCommittedOnesAreShared) {
  txn({office("1"), user("1"), user("2")});
  CommittedRows shared;
  ParentChecker a(*catalog_, transformer_->plans());
  ParentChecker b(*catalog_, transformer_->plans());
  a.share(&shared);
  b.share(&shared);
  const int profiles = a.table("public.profiles");
  ASSERT_EQ(b.table("public.profiles"), profiles);
  const Uuid one = idOf("dispatch_user", "1"), two = idOf("dispatch_user", "2");
  const Uuid three = idOf("dispatch_user", "3"), four = idOf("dispatch_user", "4");
  std::vector<char> present;

  // What `a` notes is not shared before its transaction commits: `b` asks the target.
  a.notePresent(profiles, one);
  std::vector<Uuid> ids = {one};
  b.lookup(*conn_, profiles, ids, present);
  EXPECT_EQ(present, (std::vector<char>{1}));
  EXPECT_EQ(b.lookups(), 1u);

  // Once committed, a third checker takes it without a statement; in a mixed batch only the
  // rest is asked, in one statement.
  a.committed();
  EXPECT_EQ(shared.size(), 1u);
  ParentChecker c(*catalog_, transformer_->plans());
  c.share(&shared);
  ids = {one, two, four};
  c.lookup(*conn_, profiles, ids, present);
  EXPECT_EQ(present, (std::vector<char>{1, 1, 0}));
  EXPECT_EQ(c.lookups(), 1u);
  EXPECT_TRUE(c.knownPresent(profiles, one)) << "a shared row is remembered like a looked-up one";
  ids = {one};
  c.lookup(*conn_, profiles, ids, present);
  EXPECT_EQ(c.lookups(), 1u) << "no statement when every id is known";

  // A rolled-back transaction's rows are never shared, nor a row that went in the same one.
  a.notePresent(profiles, three);
  a.forget();
  a.notePresent(profiles, four);
  a.noteGone(profiles, four);
  a.committed();
  EXPECT_EQ(shared.size(), 1u);
  // A row that goes leaves the shared rows at once.
  a.noteGone(profiles, one);
  EXPECT_EQ(shared.size(), 0u);
  ParentChecker d(*catalog_, transformer_->plans());
  d.share(&shared);
  ids = {one};
  d.lookup(*conn_, profiles, ids, present);
  EXPECT_EQ(d.lookups(), 1u);
}

TEST(CommittedRowsTest, StopsAddingAtItsBoundAndForgetsATruncatedTable) {
  CommittedRows rows(/*limit=*/2);
  const std::vector<Uuid> ids = {Uuid::parse("00000000-0000-0000-0000-000000000001"),
                                 Uuid::parse("00000000-0000-0000-0000-000000000002"),
                                 Uuid::parse("00000000-0000-0000-0000-000000000003")};
  rows.add("public.a", ids);
  EXPECT_EQ(rows.size(), 2u);
  std::vector<char> found(3, 0);
  EXPECT_EQ(rows.find("public.a", ids, found), 2u);
  EXPECT_EQ(found, (std::vector<char>{1, 1, 0}));
  std::vector<char> other(3, 0);
  EXPECT_EQ(rows.find("public.b", ids, other), 0u) << "ids are per table";
  rows.removeTable("public.a");
  EXPECT_EQ(rows.size(), 0u);
  rows.add("public.b", ids);
  EXPECT_EQ(rows.size(), 2u);
}

}  // namespace
}  // namespace pgmorph::parkingtest

namespace pgmorph {

TEST(MissingParentMessage, EndsWithWhatThePolicyDoesAndHowToGoOnAfterAStop) {
  const std::string what = "upsert of dispatch_notification 7 into public.system_messages";
  const std::string missing =
      "system_messages.recipient_id names public.profiles 1234, which "
      "is not on the target";
  EXPECT_EQ(describeMissingParent(what, missing, RowPolicy::Park, "recipient_id", "x"),
            what + ": " + missing + "; parked until it arrives (on_missing: park)");
  EXPECT_EQ(
      describeMissingParent(what, missing, RowPolicy::Null, "recipient_id", "x"),
      what + ": " + missing + "; written as NULL, filled in when it arrives (on_missing: null)");
  EXPECT_EQ(describeMissingParent(what, missing, RowPolicy::Fail, "recipient_id",
                                  "run the snapshot again."),
            what + ": " + missing +
                ", and the mapping says on_missing: fail for recipient_id. Load the missing row "
                "into the target (or set on_missing to park or null for that column) and run the "
                "snapshot again.");
}

}  // namespace pgmorph
