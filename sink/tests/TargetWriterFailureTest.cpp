// Refused rows, lost connections and the transaction around them: a failure leaves nothing
// of its batch (nor of the transaction) on the target and never moves the checkpoint.
#include <gtest/gtest.h>

#include "sink/tests/SinkFixture.h"

namespace pgmorph::sinktest {
namespace {

class TargetWriterFailureTest : public SinkTest {
 protected:
  // Runs `writes` (in that order, one statement each) as the second batch of a transaction
  // whose first batch wrote office 50, without a RefusalHandler (every refusal stops),
  // expecting a refusal; returns it.
  RefusedRowError refusedAfterAnEarlierApply(const std::vector<TargetWrite>& writes) {
    writer_->begin();
    std::vector<TargetWrite> earlier{upsert(
        plans_.offices, "50", {"50", "Earlier", Val::null(), "US", "2019-01-01 05:00:00 UTC"})};
    writer_->applyOrdered(oneByOneInSourceOrder(earlier));
    try {
      writer_->applyOrdered(oneByOneInSourceOrder(writes));
    } catch (const RefusedRowError& e) {
      return e;
    }
    ADD_FAILURE() << "the batch was not refused";
    throw std::runtime_error("not refused");
  }
  void expectNothingOfTheTransaction(Lsn checkpointBefore) {
    EXPECT_FALSE(writer_->inTransaction());
    EXPECT_EQ(row("offices", idOf("dispatch_office", "50"), "name"), "<no row>");
    EXPECT_EQ(row("offices", idOf("dispatch_office", "51"), "name"), "<no row>");
    EXPECT_EQ(checkpoint()->lsn, checkpointBefore);
    EXPECT_EQ(checkpoint()->appliedTransactions, 1);
    EXPECT_EQ(PQtransactionStatus(conn_->get()), PQTRANS_IDLE);
  }
};

TEST_F(TargetWriterFailureTest, AMissingParentIsARefusedRowNamingSourceRowTargetAndDatabase) {
  seed();
  auto e = refusedAfterAnEarlierApply(
      {upsert(plans_.offices, "51",
              {"51", "Same batch", Val::null(), "US", "2019-01-01 05:00:00 UTC"}),
       upsert(plans_.messages, "1300",
              {"1300", idOf("dispatch_user", "999").str(), "welcome", Val::null(), "false",
               "2019-01-01 05:00:00 UTC"}),
       upsert(plans_.offices, "52",
              {"52", "After", Val::null(), "US", "2019-01-01 05:00:00 UTC"})});
  const RefusedRow& r = e.row();
  EXPECT_EQ(r.sourceTable, "dispatch_notification");
  EXPECT_EQ(r.legacyKey, "1300");
  EXPECT_EQ(r.targetTable, "public.system_messages");
  EXPECT_EQ(r.op, WriteOp::Upsert);
  EXPECT_EQ(r.lsn, kLsn);
  EXPECT_EQ(r.writeIndex, 1u);
  EXPECT_EQ(r.sqlstate, "23503");
  EXPECT_EQ(r.constraint, "system_messages_recipient_id_fkey");
  EXPECT_EQ(r.column, "recipient_id");
  EXPECT_EQ(r.parentTable, "dispatch_user");
  EXPECT_NE(r.detail.find("is not present in table \"profiles\""), std::string::npos) << r.detail;
  EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
  std::string what = e.what();
  EXPECT_EQ(what.rfind("target refused upsert of dispatch_notification 1300 into "
                       "public.system_messages (source LSN 0/1A2B3C): insert or update on table "
                       "\"system_messages\" violates foreign key constraint",
                       0),
            0u)
      << what;
  // The key columns of the DETAIL, not its values (ServerDetail.h).
  EXPECT_NE(what.find("Key (recipient_id) is not present in table \"profiles\""), std::string::npos)
      << what;
  EXPECT_EQ(what.find(idOf("dispatch_user", "999").str()), std::string::npos) << what;
  EXPECT_NE(what.find("recipient_id names a dispatch_user row that is not on the target"),
            std::string::npos)
      << what;
  expectNothingOfTheTransaction(Lsn::parse("0/10"));
  EXPECT_EQ(row("offices", idOf("dispatch_office", "52"), "name"), "<no row>");
}

TEST_F(TargetWriterFailureTest, ABadValueForACheckConstraintIsARefusedRow) {
  seed();
  auto e = refusedAfterAnEarlierApply({upsert(
      plans_.profiles, "8",
      {"8", "not an e-mail", "Eve", "Doe", Val::null(), "true", "2019-01-01 05:00:00 UTC"})});
  EXPECT_EQ(e.row().sourceTable, "dispatch_user");
  EXPECT_EQ(e.row().legacyKey, "8");
  EXPECT_EQ(e.row().targetTable, "public.profiles");
  EXPECT_EQ(e.row().sqlstate, "23514");
  EXPECT_EQ(e.row().constraint, "profiles_email_check");
  EXPECT_EQ(e.row().writeIndex, 0u);
  std::string what = e.what();
  EXPECT_NE(what.find("target refused upsert of dispatch_user 8 into public.profiles"),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("violates check constraint \"profiles_email_check\""), std::string::npos)
      << what;
  // The reason is stored with the parked row: the constraint, never the row's values
  // (PostgreSQL's DETAIL "Failing row contains (...)" is dropped).
  EXPECT_NE(what.find("(constraint profiles_email_check)"), std::string::npos) << what;
  EXPECT_EQ(what.find("not an e-mail"), std::string::npos) << what;
  EXPECT_EQ(what.find("Eve"), std::string::npos) << what;
  expectNothingOfTheTransaction(Lsn::parse("0/10"));
}

TEST_F(TargetWriterFailureTest, AValueTheTargetTypeCannotReadIsARefusedRow) {
  seed();
  auto e = refusedAfterAnEarlierApply(
      {upsert(plans_.messages, "1301",
              {"1301", userId(), "welcome", "{not json", "false", "2019-01-01 05:00:00 UTC"})});
  EXPECT_EQ(e.row().sqlstate, "22P02");
  EXPECT_EQ(e.row().legacyKey, "1301");
  expectNothingOfTheTransaction(Lsn::parse("0/10"));
}

TEST_F(TargetWriterFailureTest, SetColumnsOnAMissingRowIsARefusedRow) {
  seed();
  auto e = refusedAfterAnEarlierApply(
      {setColumns(plans_.upperJaws, "1", jawId("1"), {orderId("1").str(), "upper"}),
       setColumns(plans_.lowerJaws, "1", jawId("404"), {orderId("1").str(), "lower"})});
  EXPECT_EQ(e.row().op, WriteOp::SetColumns);
  EXPECT_EQ(e.row().sqlstate, "02000");
  EXPECT_EQ(e.row().writeIndex, 1u);
  EXPECT_EQ(std::string(e.what()),
            fmt::format("target refused set-columns of dispatch_instruction 1 into public.jaws "
                        "(source LSN 0/1A2B3C): the public.jaws row {} that dispatch_instruction 1 "
                        "completes does not exist on the target",
                        jawId("404").str()));
  expectNothingOfTheTransaction(Lsn::parse("0/10"));
  // The jaw that did exist was not completed either: the whole transaction is gone.
  EXPECT_EQ(row("jaws", jawId("1"), "order_id"), "<null>");
}

TEST_F(TargetWriterFailureTest, AnAbsentNotNullValueOfARowMissingOnTheTargetIsARefusedRow) {
  seed();
  // An update whose unchanged TOAST value is absent, for a row the target does not have:
  // the row cannot be built without that value.
  auto e =
      refusedAfterAnEarlierApply({upsert(plans_.orders, "10",
                                         {"10", patientId(), Val::null(), Val::absent(), "1.00",
                                          Val::absent(), Val::null(), "2019-01-01 05:00:00 UTC"})});
  EXPECT_EQ(e.row().sqlstate, "23502");
  EXPECT_EQ(e.row().column, "status");
  EXPECT_EQ(e.row().legacyKey, "10");
  expectNothingOfTheTransaction(Lsn::parse("0/10"));
}

TEST_F(TargetWriterFailureTest, AValueWithANulByteIsRefusedRatherThanCut) {
  seed();
  auto e = refusedAfterAnEarlierApply(
      {upsert(plans_.offices, "51",
              {"51", std::string("ab\0cd", 5), Val::null(), "US", "2019-01-01 05:00:00 UTC"})});
  EXPECT_EQ(e.row().sqlstate, "22021");
  EXPECT_EQ(e.row().column, "name");
  expectNothingOfTheTransaction(Lsn::parse("0/10"));
}

TEST_F(TargetWriterFailureTest, TheWriterGoesOnAfterARefusalWithStatementsTheFailedBatchSkipped) {
  seed();
  // The office upsert with an absent address is a shape first seen after the failing row: its
  // preparation was skipped by the aborted pipeline and must be sent again next time.
  refusedAfterAnEarlierApply(
      {upsert(plans_.messages, "1300",
              {"1300", idOf("dispatch_user", "999").str(), "welcome", Val::null(), "false",
               "2019-01-01 05:00:00 UTC"}),
       upsert(plans_.offices, "51",
              {"51", "New shape", Val::absent(), "US", "2019-01-01 05:00:00 UTC"})});
  applyAndCommit(
      {upsert(plans_.offices, "51",
              {"51", "New shape", Val::absent(), "US", "2019-01-01 05:00:00 UTC"}),
       upsert(plans_.messages, "1300",
              {"1300", userId(), "welcome", Val::null(), "false", "2019-01-01 05:00:00 UTC"})},
      Lsn::parse("0/20"));
  EXPECT_EQ(row("offices", idOf("dispatch_office", "51"), "name, address"), "New shape|<null>");
  EXPECT_EQ(row("system_messages", idOf("dispatch_notification", "1300"), "recipient_id"),
            userId());
  EXPECT_EQ(checkpoint()->lsn, Lsn::parse("0/20"));
}

TEST_F(TargetWriterFailureTest, CommitMovesTheCheckpointWithTheWritesAndRollbackMovesNeither) {
  seed();
  std::uint64_t rowsBefore = writer_->rowsWritten();
  writer_->begin();
  std::vector<TargetWrite> sixties{
      upsert(plans_.offices, "60", {"60", "Sixty", Val::null(), "US", "2019-01-01 05:00:00 UTC"}),
      upsert(plans_.offices, "61",
             {"61", "Sixty-one", Val::null(), "US", "2019-01-01 05:00:00 UTC"})};
  writer_->applyOrdered(oneByOneInSourceOrder(sixties));
  // Not visible to another session before the commit: same transaction as the checkpoint.
  EXPECT_EQ(row("offices", idOf("dispatch_office", "60"), "name"), "<no row>");
  writer_->commit(Lsn::parse("0/5000"), 3);
  EXPECT_EQ(row("offices", idOf("dispatch_office", "60"), "name"), "Sixty");
  ASSERT_TRUE(checkpoint().has_value());
  EXPECT_EQ(checkpoint()->lsn, Lsn::parse("0/5000"));
  EXPECT_EQ(checkpoint()->slot, "pgmorph_dispatch");
  EXPECT_EQ(checkpoint()->appliedTransactions, 4);
  EXPECT_EQ(writer_->rowsWritten(), rowsBefore + 2);

  writer_->begin();
  std::vector<TargetWrite> rolledBack{
      remove(plans_.offices, "60"),
      upsert(plans_.offices, "62",
             {"62", "Sixty-two", Val::null(), "US", "2019-01-01 05:00:00 UTC"})};
  writer_->applyOrdered(oneByOneInSourceOrder(rolledBack));
  writer_->rollback();
  writer_->rollback();  // harmless when nothing is open
  EXPECT_FALSE(writer_->inTransaction());
  EXPECT_EQ(row("offices", idOf("dispatch_office", "60"), "name"), "Sixty");
  EXPECT_EQ(row("offices", idOf("dispatch_office", "62"), "name"), "<no row>");
  EXPECT_EQ(checkpoint()->lsn, Lsn::parse("0/5000"));
  EXPECT_EQ(checkpoint()->appliedTransactions, 4);
  EXPECT_EQ(writer_->rowsWritten(), rowsBefore + 2);

  // A transaction with no writes only moves the checkpoint (filtered source transactions).
  writer_->begin();
  writer_->commit(Lsn::parse("0/6000"), 1);
  EXPECT_EQ(checkpoint()->lsn, Lsn::parse("0/6000"));
}

TEST_F(TargetWriterFailureTest, CallsOutsideATransactionAreProgrammingErrors) {
  std::vector<TargetWrite> none;
  EXPECT_THROW(writer_->applyOrdered(oneByOneInSourceOrder(none)), std::logic_error);
  EXPECT_THROW(writer_->commit(Lsn::parse("0/1"), 1), std::logic_error);
  writer_->begin();
  EXPECT_THROW(writer_->begin(), std::logic_error);
  writer_->rollback();
}

TEST_F(TargetWriterFailureTest, AMalformedWriteMidBatchLeavesTheConnectionUsable) {
  seed();
  writer_->begin();
  std::vector<TargetWrite> malformed{
      upsert(plans_.offices, "51", {"51", "Queued", Val::null(), "US", "2019-01-01 05:00:00 UTC"}),
      release(plans_.upperJaws, "1", {orderId("1").str(), Val::absent()}, std::nullopt)};
  // Commands are already queued in the pipeline when the malformed write is found.
  EXPECT_THROW(writer_->applyOrdered(oneByOneInSourceOrder(malformed)), std::invalid_argument);
  EXPECT_FALSE(writer_->inTransaction());
  EXPECT_EQ(PQpipelineStatus(conn_->get()), PQ_PIPELINE_OFF);
  EXPECT_EQ(PQtransactionStatus(conn_->get()), PQTRANS_IDLE);
  EXPECT_EQ(row("offices", idOf("dispatch_office", "51"), "name"), "<no row>");
  applyAndCommit(
      {upsert(plans_.offices, "51", {"51", "Again", Val::null(), "US", "2019-01-01 05:00:00 UTC"})},
      Lsn::parse("0/30"));
  EXPECT_EQ(row("offices", idOf("dispatch_office", "51"), "name"), "Again");
}

TEST_F(TargetWriterFailureTest, AMappingColumnMissingOnTheTargetIsAnOperatorErrorNotARefusedRow) {
  seed();
  WritePlan broken = plans_.offices;
  broken.columns[2] = "nmae";
  std::vector<TargetWrite> typo{
      upsert(broken, "70", {"70", "Typo", Val::null(), "US", "2019-01-01 05:00:00 UTC"})};
  writer_->begin();
  try {
    writer_->applyOrdered(oneByOneInSourceOrder(typo));
    ADD_FAILURE() << "no error";
  } catch (const RefusedRowError& e) {
    ADD_FAILURE() << "a statement error is not a refused row: " << e.what();
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "42703");
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    std::string what = e.what();
    EXPECT_NE(what.find("cannot prepare the statement for upsert of dispatch_office 70 into "
                        "public.offices"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("\"nmae\""), std::string::npos) << what;
  }
  EXPECT_FALSE(writer_->inTransaction());
}

TEST_F(TargetWriterFailureTest, ALostConnectionIsATransientPgError) {
  seed();
  writer_->begin();
  std::string pid = std::to_string(PQbackendPID(conn_->get()));
  // The timeout makes pg_terminate_backend wait until the backend is gone.
  ASSERT_EQ(value(fmt::format("SELECT pg_terminate_backend({}, 10000)", pid)), "t");
  std::vector<TargetWrite> lost{
      upsert(plans_.offices, "80", {"80", "Lost", Val::null(), "US", "2019-01-01 05:00:00 UTC"})};
  try {
    writer_->applyOrdered(oneByOneInSourceOrder(lost));
    ADD_FAILURE() << "no error";
  } catch (const RefusedRowError& e) {
    ADD_FAILURE() << e.what();
  } catch (const PgError& e) {
    EXPECT_EQ(e.errorClass(), ErrorClass::Transient) << e.what();
  }
  EXPECT_FALSE(writer_->inTransaction());
  writer_->rollback();  // never throws, even on a dead connection
  EXPECT_EQ(row("offices", idOf("dispatch_office", "80"), "name"), "<no row>");
}

}  // namespace
}  // namespace pgmorph::sinktest
