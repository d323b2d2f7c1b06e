// TypeCompatibility: what each kind of mapped value may be written into (no database).
#include <gtest/gtest.h>

#include "app/check/TypeCompatibility.h"

namespace pgmorph {
namespace {

const ColumnType kUuid{"uuid", "uuid", 'U'};
const ColumnType kText{"text", "text", 'S'};
const ColumnType kJsonb{"jsonb", "jsonb", 'U'};
const ColumnType kInt{"integer", "int4", 'N'};
const ColumnType kBigint{"bigint", "int8", 'N'};
const ColumnType kTimestamp{"timestamp without time zone", "timestamp", 'D'};
const ColumnType kTimestamptz{"timestamp with time zone", "timestamptz", 'D'};

std::optional<Severity> verdict(ValueKind kind, const ColumnType& target,
                                std::optional<ColumnType> source = std::nullopt) {
  auto v = judgeType(kind, source, target, "ALTER TABLE t ALTER COLUMN c");
  return v ? std::optional<Severity>(v->severity) : std::nullopt;
}

TEST(TypeCompatibility, UuidsOnlyIntoUuid) {
  EXPECT_EQ(verdict(ValueKind::Uuid, kUuid), std::nullopt);
  EXPECT_EQ(verdict(ValueKind::Uuid, kText), Severity::Error);
  EXPECT_EQ(verdict(ValueKind::Uuid, kInt), Severity::Error);
}

TEST(TypeCompatibility, ConversionsNeedTheirTypes) {
  EXPECT_EQ(verdict(ValueKind::Jsonb, kJsonb), std::nullopt);
  EXPECT_EQ(verdict(ValueKind::Jsonb, ColumnType{"json", "json", 'U'}), std::nullopt);
  EXPECT_EQ(verdict(ValueKind::Jsonb, kText), Severity::Error);
  EXPECT_EQ(verdict(ValueKind::Boolean, ColumnType{"boolean", "bool", 'B'}), std::nullopt);
  EXPECT_EQ(verdict(ValueKind::Boolean, kInt), Severity::Error);
  EXPECT_EQ(verdict(ValueKind::Timestamptz, kTimestamptz), std::nullopt);
  EXPECT_EQ(verdict(ValueKind::Timestamptz, kTimestamp), Severity::Warning);
  EXPECT_EQ(verdict(ValueKind::Timestamptz, kInt), Severity::Error);
}

TEST(TypeCompatibility, PlainCopiesWarnAcrossCategoriesOnly) {
  EXPECT_EQ(verdict(ValueKind::Copy, kBigint, kInt), std::nullopt);
  EXPECT_EQ(verdict(ValueKind::Copy, kText, kInt), std::nullopt);
  EXPECT_EQ(verdict(ValueKind::Copy, kInt, kText), Severity::Warning);
  EXPECT_EQ(verdict(ValueKind::Copy, kInt), std::nullopt);  // source type unknown
  EXPECT_EQ(verdict(ValueKind::Unchecked, kUuid), std::nullopt);
}

}  // namespace
}  // namespace pgmorph
