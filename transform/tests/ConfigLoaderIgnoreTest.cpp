// The pipeline file's `ignore:` list (ConfigLoaderIgnore.cpp): names with and without a schema,
// and a table both mapped and ignored refused with its file:line.
#include <gtest/gtest.h>

#include "cdc/model/Errors.h"
#include "transform/ConfigLoader.h"
#include "transform/tests/TestUtil.h"

namespace pgmorph {
namespace {

using test::errorOf;
using test::load;

const std::string& kBase = test::kMinimalPipeline;

TEST(ConfigLoaderIgnore, NoListIgnoresNothing) {
  PipelineConfig cfg = load(kBase);
  EXPECT_TRUE(cfg.ignore.empty());
  EXPECT_FALSE(cfg.ignores("public", "audit_log"));
}

TEST(ConfigLoaderIgnore, TablesWithAndWithoutSchema) {
  PipelineConfig cfg = load(kBase + "ignore: [audit_log, reporting.daily]\n");
  ASSERT_EQ(cfg.ignore.size(), 2u);
  EXPECT_TRUE(cfg.ignores("public", "audit_log"));
  EXPECT_TRUE(cfg.ignores("reporting", "daily"));
  EXPECT_FALSE(cfg.ignores("public", "daily"));
  EXPECT_FALSE(cfg.ignores("public", "t"));
  EXPECT_EQ(cfg.ignore[0].line, 14);
}

TEST(ConfigLoaderIgnore, AMappedTableCannotBeIgnored) {
  EXPECT_EQ(errorOf(kBase + "ignore:\n  - audit_log\n  - public.t\n"),
            "mapping.yaml:16: ignore[1]: source table public.t is both mapped (tables: t, line "
            "9) and ignored: remove it from one of them");
}

TEST(ConfigLoaderIgnore, MistakesAreNamedWithTheirLine) {
  EXPECT_EQ(errorOf(kBase + "ignore: audit_log\n"),
            "mapping.yaml:14: ignore: expected a list, got a value");
  EXPECT_EQ(errorOf(kBase + "ignore: [a, a]\n"),
            "mapping.yaml:14: ignore[1]: source table public.a is listed twice (also on line 14)");
  EXPECT_EQ(errorOf(kBase + "ignore: [\"a b\"]\n"),
            "mapping.yaml:14: ignore[0]: 'a b' is not a source table name (expected table or "
            "schema.table)");
}

}  // namespace
}  // namespace pgmorph
