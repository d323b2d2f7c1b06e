// CopyWriter and CopyUpdateWriter against a real PostgreSQL 15 target: bulk COPY of upsert
// rows (escapes, NULLs, chunks larger than one buffer), generated columns never written,
// refused rows reported with source table, target table and the COPY line, and partial
// targets applied with one UPDATE from a staging table.
#include "sink/CopyWriter.h"

#include <gtest/gtest.h>

#include <string>

#include "cdc/model/Errors.h"
#include "sink/CopyUpdateWriter.h"
#include "sink/TargetCatalog.h"
#include "tests/support/SharedClusters.h"

namespace pgmorph {
namespace {

const Uuid kNamespace = Uuid::parse("8d3e2f4a-1c5b-4e7a-9b1f-3c2d4e5f6a7b");

Uuid idOf(const std::string& table, int key) {
  return uuidV5(kNamespace, table + ":" + std::to_string(key));
}

class CopyWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = test::sharedTarget().createDatabase("copywriter");
    conn_ = std::make_unique<PgConnection>(test::sharedTarget().conninfo(db_), "target");
    conn_->exec(
        "CREATE TABLE items (id uuid PRIMARY KEY, legacy_id integer UNIQUE, name text NOT NULL,"
        " price numeric(12,2), doubled numeric GENERATED ALWAYS AS (price * 2) STORED,"
        " parent_id uuid REFERENCES items (id), kind text CHECK (kind IN ('upper', 'lower')))");
    catalog_ = TargetCatalog::read(*conn_, {"public.items"});

    source_.sourceTable = "legacy_items";
    upsertMapping_.target = "items";
    upsert_.source = &source_;
    upsert_.mapping = &upsertMapping_;
    upsert_.targetSchema = "public";
    upsert_.targetTable = "items";
    upsert_.idColumn = "id";
    upsert_.columns = {"id", "legacy_id", "name", "price", "doubled"};

    partialSource_.sourceTable = "legacy_orders";
    partialMapping_.target = "items";
    partialMapping_.mode = TargetMode::Update;
    partial_.source = &partialSource_;
    partial_.mapping = &partialMapping_;
    partial_.targetSchema = "public";
    partial_.targetTable = "items";
    partial_.idColumn = "id";
    partial_.columns = {"parent_id", "kind"};
  }
  void TearDown() override {
    conn_.reset();
    test::sharedTarget().dropDatabase(db_);
  }

  TargetWrite upsertRow(int key, std::optional<std::string> name,
                        std::optional<std::string> price) {
    TargetWrite w;
    w.op = WriteOp::Upsert;
    w.plan = &upsert_;
    w.row = idOf("legacy_items", key);
    w.setLegacyKey(std::to_string(key));
    w.addValue(w.row.str());
    w.addValue(std::to_string(key));
    name ? w.addValue(*name) : w.addNull();
    price ? w.addValue(*price) : w.addNull();
    w.addValue("999");  // for the generated column: must never reach the server
    return w;
  }
  TargetWrite setColumns(int orderKey, int itemKey, const std::string& kind) {
    TargetWrite w;
    w.op = WriteOp::SetColumns;
    w.plan = &partial_;
    w.row = idOf("legacy_items", itemKey);
    w.setLegacyKey(std::to_string(orderKey));
    w.addValue(idOf("legacy_items", orderKey).str());
    w.addValue(kind);
    return w;
  }

  std::string db_;
  std::unique_ptr<PgConnection> conn_;
  TargetCatalog catalog_;
  TableMapping source_, partialSource_;
  TargetMapping upsertMapping_, partialMapping_;
  WritePlan upsert_, partial_;
};

TEST_F(CopyWriterTest, CopiesRowsInChunksAndNeverWritesGeneratedColumns) {
  CopyWriter writer(*conn_, upsert_, *catalog_.table("public.items"));
  EXPECT_EQ(writer.columns(), (std::vector<std::string>{"id", "legacy_id", "name", "price"}));
  conn_->exec("BEGIN");
  writer.begin();
  const int rows = 5000;  // several 64 KiB chunks
  for (int k = 1; k <= rows; ++k) {
    std::string name = k == 7 ? "tab\t, newline\n, backslash\\, \\N, ünïcödé"
                              : "item " + std::to_string(k) + std::string(40, '.');
    writer.write(
        upsertRow(k, name, k % 3 == 0 ? std::nullopt : std::optional<std::string>("1.50")));
  }
  EXPECT_GT(writer.bytesSent(), 2 * CopyWriter::kChunkBytes);
  EXPECT_EQ(writer.finish(), static_cast<std::uint64_t>(rows));
  conn_->exec("COMMIT");

  EXPECT_EQ(conn_->exec("SELECT count(*) FROM items").value(0, 0), std::to_string(rows));
  auto seven = conn_->execParams("SELECT name, legacy_id FROM items WHERE id = $1::uuid",
                                 {idOf("legacy_items", 7).str()});
  ASSERT_EQ(seven.rows(), 1);
  EXPECT_EQ(seven.value(0, 0), "tab\t, newline\n, backslash\\, \\N, ünïcödé");
  EXPECT_EQ(seven.value(0, 1), "7");
  auto priced =
      conn_->execParams("SELECT price::text, doubled::text FROM items WHERE id = $1::uuid",
                        {idOf("legacy_items", 4).str()});
  EXPECT_EQ(priced.value(0, 0), "1.50");
  EXPECT_EQ(priced.value(0, 1), "3.00");  // computed by the server, not the 999 we were given
  EXPECT_EQ(conn_->exec("SELECT count(*) FROM items WHERE price IS NULL").value(0, 0),
            std::to_string(rows / 3));
}

TEST_F(CopyWriterTest, ARefusedRowStopsWithSourceTargetAndTheCopyLine) {
  CopyWriter writer(*conn_, upsert_, *catalog_.table("public.items"));
  conn_->exec("BEGIN");
  writer.begin();
  writer.write(upsertRow(1, "fine", "1.00"));
  writer.write(upsertRow(2, std::nullopt, "2.00"));  // name is NOT NULL on the target
  writer.write(upsertRow(3, "fine too", "3.00"));
  try {
    writer.finish();
    FAIL() << "the target accepted a NULL name";
  } catch (const PgmorphError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(msg.find("legacy_items"), std::string::npos) << msg;
    EXPECT_NE(msg.find("public.items"), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"name\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  }
  EXPECT_FALSE(writer.copying());
  conn_->exec("ROLLBACK");
  EXPECT_EQ(conn_->exec("SELECT count(*) FROM items").value(0, 0), "0");
}

TEST_F(CopyWriterTest, WritesOfAnotherPlanOrKindAreRefusedAsBugs) {
  CopyWriter writer(*conn_, upsert_, *catalog_.table("public.items"));
  conn_->exec("BEGIN");
  writer.begin();
  EXPECT_THROW(writer.write(setColumns(1, 1, "upper")), std::invalid_argument);
  TargetWrite shortRow;
  shortRow.op = WriteOp::Upsert;
  shortRow.plan = &upsert_;
  shortRow.addAbsent();
  EXPECT_THROW(writer.write(shortRow), std::invalid_argument);
  writer.abort();
  conn_->exec("ROLLBACK");
}

TEST_F(CopyWriterTest, PartialTargetsAreAppliedWithOneUpdateFromAStagingTable) {
  conn_->exec("BEGIN");
  CopyWriter rows(*conn_, upsert_, *catalog_.table("public.items"));
  rows.begin();
  for (int k = 1; k <= 6; ++k) rows.write(upsertRow(k, "item", "1.00"));
  rows.finish();
  CopyUpdateWriter partial(*conn_, partial_, *catalog_.table("public.items"));
  partial.begin();
  // "Order" 1 completes items 2 (upper) and 3 (lower); 4 completes 5 only.
  partial.write(setColumns(1, 2, "upper"));
  partial.write(setColumns(1, 3, "lower"));
  partial.write(setColumns(4, 5, "upper"));
  EXPECT_EQ(partial.finish(), 3u);
  conn_->exec("COMMIT");
  auto res = conn_->exec(
      "SELECT i.legacy_id, p.legacy_id, i.kind FROM items i LEFT JOIN items p ON p.id = i.parent_id"
      " ORDER BY 1");
  ASSERT_EQ(res.rows(), 6);
  EXPECT_TRUE(res.isNull(0, 1));
  EXPECT_EQ(res.value(1, 1), "1");
  EXPECT_EQ(res.value(1, 2), "upper");
  EXPECT_EQ(res.value(2, 1), "1");
  EXPECT_EQ(res.value(2, 2), "lower");
  EXPECT_TRUE(res.isNull(3, 2));
  EXPECT_EQ(res.value(4, 1), "4");
  EXPECT_TRUE(res.isNull(5, 1));
  // The staging table went with the transaction.
  EXPECT_EQ(conn_->exec("SELECT count(*) FROM pg_class WHERE relname = 'pgmorph_snapshot_stage'")
                .value(0, 0),
            "0");
}

TEST_F(CopyWriterTest, APartialWriteNamingAMissingRowIsRefusedWithItsLegacyKey) {
  conn_->exec("BEGIN");
  CopyWriter rows(*conn_, upsert_, *catalog_.table("public.items"));
  rows.begin();
  rows.write(upsertRow(1, "item", "1.00"));
  rows.write(upsertRow(2, "item", "1.00"));
  rows.finish();
  CopyUpdateWriter partial(*conn_, partial_, *catalog_.table("public.items"));
  partial.begin();
  partial.write(setColumns(1, 2, "upper"));
  partial.write(setColumns(77, 40, "lower"));  // item 40 does not exist
  try {
    partial.finish();
    FAIL() << "a partial write of a missing row was accepted";
  } catch (const PgmorphError& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.errorClass(), ErrorClass::Operator);
    EXPECT_NE(msg.find("legacy_orders 77"), std::string::npos) << msg;
    EXPECT_NE(msg.find(idOf("legacy_items", 40).str()), std::string::npos) << msg;
    EXPECT_NE(msg.find("public.items"), std::string::npos) << msg;
  }
  conn_->exec("ROLLBACK");
}

}  // namespace
}  // namespace pgmorph
