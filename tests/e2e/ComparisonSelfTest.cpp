// The harness checks itself, without pgmorph: the projection of the sample data, copied into
// the target by hand, must fit the target schema (types, constraints, foreign keys) and
// compare equal; and every kind of difference the comparison claims to find (missing, extra,
// different, ambiguous) must be found, in the right table, naming the row. If this test
// fails, the other e2e tests' verdicts mean nothing.
#include <gtest/gtest.h>

#include <libpq-fe.h>

#include <optional>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "tests/e2e/DispatchE2eTest.h"
#include "tests/e2e/TargetProjection.h"

namespace pgmorph::e2e {
namespace {

// COPY text format: backslash escapes for the characters that frame a row.
void appendCopyValue(std::string& out, const PgResult& res, int r, int c) {
  if (res.isNull(r, c)) {
    out += "\\N";
    return;
  }
  for (char ch : res.value(r, c)) {
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += ch;
    }
  }
}

void copyProjectionByHand(PgConnection& source, PgConnection& target, const std::string& ns) {
  for (const auto& t : dispatchProjection()) {
    auto rows = source.execParams(t.sourceQuery, {std::optional<std::string_view>(ns)});
    std::string data;
    for (int r = 0; r < rows.rows(); ++r) {
      for (int c = 0; c < rows.columns(); ++c) {
        if (c) data += '\t';
        appendCopyValue(data, rows, r, c);
      }
      data += '\n';
    }
    std::string columns;
    for (const auto& c : t.columns) columns += (columns.empty() ? "" : ", ") + target.quoteIdent(c);
    target.exec(
        fmt::format("COPY {} ({}) FROM STDIN", target.quoteQualified("public", t.table), columns));
    if (PQputCopyData(target.get(), data.data(), static_cast<int>(data.size())) != 1 ||
        PQputCopyEnd(target.get(), nullptr) != 1)
      target.throwConnectionError("COPY into " + t.table);
    for (PgResult res(PQgetResult(target.get())); res; res = PgResult(PQgetResult(target.get())))
      target.check(res, "COPY into " + t.table);
  }
}

const TableDifference& table(const ComparisonReport& report, const std::string& name) {
  for (const auto& t : report.tables)
    if (t.table == name) return t;
  throw std::runtime_error("no table " + name + " in the report");
}

TEST_F(DispatchE2eTest, HarnessProjectionFitsTheTargetAndTheComparisonFindsEveryDifference) {
  env().loadSampleData();
  PgConnection source = env().connectSource();
  PgConnection target = env().connectTarget();
  copyProjectionByHand(source, target, env().idNamespace());

  ComparisonReport same = env().compareWithProjection();
  ASSERT_GE(same.expectedRows(), 25000u);
  EXPECT_EQ(same.tables.size(), 11u);
  EXPECT_TRUE(same.equal()) << same.str();

  // One difference of each kind.
  target.exec("DELETE FROM system_messages WHERE legacy_notification_id = 7");
  target.exec(
      "INSERT INTO offices (id, name, country_code, created_at, legacy_office_id) "
      "VALUES (gen_random_uuid(), 'Stray', 'US', now(), 999)");
  target.exec("UPDATE orders SET status = 'cancelled' WHERE legacy_instruction_id = 1");
  source.exec("UPDATE dispatch_patient SET first_name = 'Changed' WHERE id = 3");
  // Order 2 now names jaw 1 (already order 1's upper jaw) instead of its own jaw 4: jaw 1
  // becomes ambiguous and jaw 4 loses its order.
  source.exec("UPDATE dispatch_instruction SET lower_jaw_id = 1 WHERE id = 2");

  ComparisonReport diff = env().compareWithProjection();
  std::string text = diff.str();
  EXPECT_FALSE(diff.equal());
  EXPECT_EQ(table(diff, "system_messages").missing, 1u) << text;
  EXPECT_EQ(table(diff, "offices").extra, 1u) << text;
  EXPECT_EQ(table(diff, "orders").different, 1u) << text;
  EXPECT_EQ(table(diff, "patients").different, 1u) << text;
  EXPECT_EQ(table(diff, "jaws").duplicates, 1u) << text;
  EXPECT_EQ(table(diff, "jaws").different, 1u) << text;  // jaw 4
  EXPECT_EQ(table(diff, "jaws").missing + table(diff, "jaws").extra, 0u) << text;
  for (const char* t :
       {"profiles", "doctors", "case_files", "payments", "case_states", "order_states"})
    EXPECT_TRUE(table(diff, t).equal()) << t << "\n" << text;
  EXPECT_NE(text.find("legacy_notification_id='7'"), std::string::npos) << text;
  EXPECT_NE(text.find("legacy_office_id='999'"), std::string::npos) << text;
  EXPECT_NE(text.find("status: target='cancelled' expected='submitted'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("first_name: target='Pat3' expected='Changed'"), std::string::npos) << text;
}

}  // namespace
}  // namespace pgmorph::e2e
